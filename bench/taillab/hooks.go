package main

import "net/http"

// LOADREPORT HOOK. Algorithms that learn from what the backends report (an
// ORCA-style endpoint-load-metrics header: load_report_wrr) or answer to
// probes (prequal) need the server half, package
// github.com/go-elb/elb/loadreport, which is being written apart from this
// lab. Once it is merged, backendMiddleware wraps each backend's handler in
// it, for every algorithm, as servers would run it whatever their clients
// do. As written in the other worktrees today (names may change before the
// merge):
//
//	ph := &loadreport.ProbeHandler{}   // answers probes at loadreport.ProbePath, /elb/load
//	rep, err := loadreport.New(loadreport.Config{Capacity: b.Slots()})
//	if err != nil { panic(err) }       // a constant config
//	return ph.Wrap(rep.Handler(next))
//
// The backend's own figures are there for a reporter that wants them:
// b.Utilization() (slots in use / slots), b.Queue(), b.InService().
// Nothing else changes: the algorithm is selected with -algos, like any
// other; probes are not counted as requests (they reach neither /work nor
// the latencies).

// backendMiddleware wraps the whole handler of backend b (every path).
// Today: none.
func backendMiddleware(b *Backend, next http.Handler) http.Handler {
	_ = b
	return next
}
