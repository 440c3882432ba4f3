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
// in flight and a latency estimate, the median latency of the last 32
// requests that finished within Window. Its answer is a JSON object:
//
//	{"inFlight": 3, "latencyMs": 12.5}
//
// with no latencyMs when no request finished within Window. Counting
// takes two atomic additions and one atomic store a request, and no lock.
// The zero value is ready to use; a ProbeHandler must not be copied after
// first use.
type ProbeHandler struct {
	// Path is the path Wrap answers probes on. "" means [ProbePath].
	Path string

	// Window is how recently a request must have finished for its latency
	// to count in the estimate. 0 means [DefaultProbeWindow] (2s); at most
	// 24 days.
	Window time.Duration

	// Now, if not nil, is the clock. Nil means time.Now.
	Now func() time.Time

	inFlight atomic.Int64
	next     atomic.Uint64
	recent   [probeRecent]atomic.Uint64 // finish (Unix ms, low 32 bits) << 32 | latency µs + 1; 0 = empty
}

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
		h.inFlight.Add(1)
		defer func() {
			h.inFlight.Add(-1)
			h.finished(start, h.now())
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
	now := uint32(h.now().UnixMilli())
	var buf [probeRecent]uint32
	n := 0
	for i := range h.recent {
		v := h.recent[i].Load()
		if v == 0 || time.Duration(now-uint32(v>>32))*time.Millisecond > window {
			continue
		}
		buf[n] = uint32(v) - 1
		n++
	}
	if n == 0 {
		return inFlight, 0
	}
	v := buf[:n]
	slices.Sort(v)
	return inFlight, time.Duration(v[(n-1)/2]) * time.Microsecond
}

// finished records a request that started at start and finished at end.
func (h *ProbeHandler) finished(start, end time.Time) {
	us := uint64(max(end.Sub(start)/time.Microsecond, 0))
	us = min(us, 1<<32-2)
	i := (h.next.Add(1) - 1) % probeRecent
	h.recent[i].Store(uint64(uint32(end.UnixMilli()))<<32 | (us + 1))
}

func (h *ProbeHandler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
