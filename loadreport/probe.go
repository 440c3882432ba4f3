package loadreport

import (
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// ProbePath is the path [ProbeHandler.Wrap] answers probes on when Path is
// "": the one the prequal algorithm probes by default
// (balancer.DefaultProbePath).
const ProbePath = "/elb/load"

// DefaultProbeWindow is [ProbeHandler]'s latency window when Window is 0.
const DefaultProbeWindow = 2 * time.Second

// probeRecent is the number of finished requests whose latency a
// ProbeHandler keeps.
const probeRecent = 32

// ProbeHandler answers the probes of the prequal algorithm
// (balancer.Prequal) with the load of the handler it wraps: the requests
// in flight and a latency estimate, what a request arriving now would
// take. Its answer is a JSON object:
//
//	{"inFlight": 3, "latencyMs": 12.5}
//
// The estimate is Prequal's latency at the current in-flight count: over
// the last 32 requests that finished within Window, the median of each
// one's latency times (in flight now + 1) / (in flight when it arrived,
// itself included). A latency that ignored the in-flight count would lag
// behind the queue: every client would see the same server as the
// fastest and pile onto it (in the balancer's simulation of one client
// over 10 equal backends at 70% load, 12 times least_request's p99). With no request finished within
// Window the answer has no latencyMs.
//
// Counting takes two clock reads, two atomic additions and one atomic
// store a request, and no lock. Latencies count up to about 67s, in-flight counts up to 65,535.
// The zero value is ready to use; a ProbeHandler must not be copied after
// first use.
type ProbeHandler struct {
	// Path is the path Wrap answers probes on. "" means [ProbePath].
	Path string

	// Window is how recently a request must have finished for its latency
	// to count in the estimate, up to an hour. 0 means
	// [DefaultProbeWindow] (2s).
	Window time.Duration

	// Now, if not nil, is the clock. Nil means time.Now.
	Now func() time.Time

	inFlight atomic.Int64
	next     atomic.Uint64
	recent   [probeRecent]atomic.Uint64 // a sample (see sample); 0 = none
}

// A sample packs a finished request into 64 bits: its finish time in ms
// (low 24 bits of the Unix time, wrapping every 4.6 hours), its latency in
// units of 4 µs, rounded up, plus 1 (24 bits, up to 67s) and the in-flight
// count when it arrived (16 bits).
const (
	sampleUnit     = 4 * time.Microsecond
	sampleMaxLat   = 1<<24 - 2
	sampleMaxRIF   = 1<<16 - 1
	sampleTime     = 1<<24 - 1
	maxProbeWindow = time.Hour
)

// Wrap returns a handler that answers GET and HEAD requests for Path with
// h's answer, and passes every other request to next, counting it in
// flight while next serves it and its latency once next returns.
func (h *ProbeHandler) Wrap(next http.Handler) http.Handler {
	path := h.Path
	if path == "" {
		path = ProbePath
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			h.ServeHTTP(w, r)
			return
		}
		start := h.now()
		rif := h.inFlight.Add(1)
		defer func() {
			h.inFlight.Add(-1)
			h.finished(start, h.now(), rif)
		}()
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP answers a probe, whatever the request's path: a GET or HEAD
// gets h's answer, any other method 405 Method Not Allowed.
func (h *ProbeHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	n, lat := h.Load()
	b := make([]byte, 0, 64)
	b = append(b, `{"inFlight":`...)
	b = strconv.AppendInt(b, n, 10)
	if lat > 0 {
		b = append(b, `,"latencyMs":`...)
		b = strconv.AppendFloat(b, float64(lat)/float64(time.Millisecond), 'f', -1, 64)
	}
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	if r.Method == http.MethodGet {
		w.Write(b)
	}
}

// Load returns what h answers now: the requests in flight and the latency
// estimate, 0 when no request finished within Window.
func (h *ProbeHandler) Load() (inFlight int64, latency time.Duration) {
	inFlight = max(h.inFlight.Load(), 0)
	window := h.Window
	if window <= 0 {
		window = DefaultProbeWindow
	}
	window = min(window, maxProbeWindow)
	now := uint64(h.now().UnixMilli())
	var buf [probeRecent]float64
	n := 0
	for i := range h.recent {
		v := h.recent[i].Load()
		if v == 0 {
			continue
		}
		age := time.Duration((now-v>>40)&sampleTime) * time.Millisecond
		if age > window {
			continue
		}
		lat := float64((v>>16)&(1<<24-1)-1) * float64(sampleUnit)
		rif := max(float64(v&sampleMaxRIF), 1)
		buf[n] = lat * float64(inFlight+1) / rif
		n++
	}
	if n == 0 {
		return inFlight, 0
	}
	v := buf[:n]
	slices.Sort(v)
	return inFlight, time.Duration(v[(n-1)/2])
}

// finished records a request that arrived at start, when rif requests
// were in flight (itself included), and finished at end.
func (h *ProbeHandler) finished(start, end time.Time, rif int64) {
	lat := uint64(min(max((end.Sub(start)+sampleUnit-1)/sampleUnit, 1), sampleMaxLat)) // rounded up: a sample is never 0
	r := uint64(min(max(rif, 1), sampleMaxRIF))
	i := (h.next.Add(1) - 1) % probeRecent
	h.recent[i].Store((uint64(end.UnixMilli())&sampleTime)<<40 | (lat+1)<<16 | r)
}

func (h *ProbeHandler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
