package main

import (
	"net/http"
	"os"

	"github.com/go-elb/elb/loadreport"
)

// backendMiddleware wraps the whole handler of backend b (every path) in
// the server half of elb's load-aware algorithms, for every algorithm, as
// servers would run it whatever their clients do:
//
//   - loadreport.ProbeHandler answers prequal's probes at
//     loadreport.ProbePath (/elb/load) with the backend's requests in
//     flight and latency; probes reach neither /work nor the latencies;
//   - loadreport.Reporter sets the Endpoint-Load-Metrics header on every
//     answer, which httpgroup hands to the group for load_report_wrr.
//     Its utilization is the requests in flight per slot, averaged over
//     the last second (the default); TAILLAB_UTIL=instant reports the
//     current count instead (Config.Instant), the fresher signal for
//     load_report_wrr's p2c mode.
func backendMiddleware(b *Backend, next http.Handler) http.Handler {
	rep, err := loadreport.New(loadreport.Config{Capacity: b.Slots(), Instant: os.Getenv("TAILLAB_UTIL") == "instant"})
	if err != nil {
		panic(err) // a constant config
	}
	probes := &loadreport.ProbeHandler{}
	return probes.Wrap(rep.Handler(next))
}
