package loadreport

import (
	"fmt"
	"math"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/internal/cfgerr"
)

// Config configures a Reporter. The zero value reports utilization as
// requests in flight per GOMAXPROCS, rates over 1s windows, in the Text
// encoding.
type Config struct {
	// Capacity is the number of requests in flight at which the server is
	// fully utilized: the reported application utilization is the
	// requests in flight, averaged over the last rate window, / Capacity,
	// and exceeds 1 when requests queue. 0 means runtime.GOMAXPROCS(0)
	// when New is called, right for a CPU-bound handler; set it to the
	// handler's real concurrency (a worker pool, a database's connections)
	// otherwise. At most 1,000,000.
	//
	// The average is the time the window's finished requests spent in
	// flight, divided by the window (Little's law), so that qps and
	// utilization describe the same window: gRFC A58's weight qps /
	// utilization is then Capacity / the window's mean latency, which
	// moves with the server's queue but not with each response's. The
	// instant count is the named metric in_flight.
	Capacity int

	// Instant reports the requests in flight at the moment of each report
	// (the one being answered included) / Capacity instead of the window's
	// average: the fresher signal for load_report_wrr's "p2c" mode, which
	// compares two servers' latest reports at each pick, and a noisier
	// one for weights recomputed each second. False means the average.
	Instant bool

	// Utilization, if not nil, returns the application utilization to
	// report instead of in flight / Capacity, such as a CPU share read
	// from the cgroup. It is called for every report, concurrently: it
	// must be fast and safe for concurrent use. Values that are not
	// numbers from 0 to balancer.MaxServerLoadValue make clients ignore
	// the report.
	Utilization func() float64

	// CPUUtilization, if not nil, returns the CPU utilization to report
	// (ORCA's cpu_utilization), with Utilization's rules. nil means none is
	// reported.
	CPUUtilization func() float64

	// Encoding is the Header's encoding. The zero value is Text.
	Encoding Encoding

	// RateWindow is the window over which the reported qps and eps are
	// measured, 100ms-1m: each report gives the rate of the last complete
	// window. 0 means 1s.
	RateWindow time.Duration

	// Now, if not nil, is the clock; nil means time.Now.
	Now func() time.Time
}

// The defaults and ranges of Config.
const (
	maxCapacity       = 1_000_000
	defaultRateWindow = time.Second
	minRateWindow     = 100 * time.Millisecond
	maxRateWindow     = time.Minute
)

// Reporter measures a server's load, the requests it counts between
// [Reporter.Start] and [Reporter.Finish], and writes it into reports: in
// the [Header] of HTTP responses ([Reporter.Handler]), or in gRPC's ORCA
// trailers and streams (package grpcreport). It is safe for concurrent
// use.
type Reporter struct {
	cfg      Config
	now      func() time.Time
	window   int64 // nanoseconds
	load     balancer.Load
	requests rate
	errors   rate
	busy     rate // nanoseconds in flight of the finished requests
}

// New returns a Reporter, or an *elb.ConfigError (errors.Is
// elb.ErrInvalidConfig) naming the field of cfg out of range.
func New(cfg Config) (*Reporter, error) {
	switch {
	case cfg.Capacity < 0 || cfg.Capacity > maxCapacity:
		return nil, cfgerr.New("Capacity", cfg.Capacity, fmt.Sprintf("must be 1-%d, or 0 for GOMAXPROCS", maxCapacity))
	case cfg.RateWindow != 0 && (cfg.RateWindow < minRateWindow || cfg.RateWindow > maxRateWindow):
		return nil, cfgerr.New("RateWindow", cfg.RateWindow, "must be 100ms-1m, or 0 for 1s")
	case cfg.Encoding < Text || cfg.Encoding > Binary:
		return nil, cfgerr.New("Encoding", cfg.Encoding, "must be Text, JSON or Binary")
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = runtime.GOMAXPROCS(0)
	}
	if cfg.RateWindow == 0 {
		cfg.RateWindow = defaultRateWindow
	}
	r := &Reporter{cfg: cfg, now: cfg.Now, window: int64(cfg.RateWindow)}
	if r.now == nil {
		r.now = time.Now
	}
	t := r.now().UnixNano()
	r.requests.t0.Store(t)
	r.errors.t0.Store(t)
	r.busy.t0.Store(t)
	return r, nil
}

// Start counts a request in flight and returns its start, for Finish.
func (r *Reporter) Start() time.Time {
	r.load.AddInFlight(1)
	return r.now()
}

// Finish ends a request counted by Start: it leaves the in-flight count,
// adds to the rates, failed ones to eps too, and its latency to the
// average.
func (r *Reporter) Finish(start time.Time, failed bool) {
	now := r.now()
	r.load.AddInFlight(-1)
	d := now.Sub(start)
	r.load.ObserveLatency(d)
	t := now.UnixNano()
	r.requests.add(t, r.window, 1)
	r.busy.add(t, r.window, uint64(max(d, 0)))
	if failed {
		r.errors.add(t, r.window, 1)
	}
}

// InFlight returns the number of requests between Start and Finish.
func (r *Reporter) InFlight() int64 { return r.load.InFlight() }

// Report returns the load as of now: application utilization (in flight
// over the last rate window, or now with Config.Instant, / Capacity, or
// Config.Utilization), CPU
// utilization (Config.CPUUtilization),
// qps and eps over the last rate window, and the named metrics in_flight
// and latency_ms (the moving average of the requests' latency, in
// milliseconds; left out before the first request finishes). named, if
// not nil, receives the named metrics (Report's Named is named[:0] with
// them appended), so that a caller with a buffer allocates nothing.
func (r *Reporter) Report(named []Metric) Report {
	t := r.now().UnixNano()
	in := r.load.InFlight()
	rep := Report{ServerLoad: balancer.ServerLoad{
		ApplicationUtilization: r.busy.get(t, r.window) / 1e9 / float64(r.cfg.Capacity),
		QPS:                    r.requests.get(t, r.window),
		EPS:                    r.errors.get(t, r.window),
	}}
	switch {
	case r.cfg.Utilization != nil:
		rep.ApplicationUtilization = r.cfg.Utilization()
	case r.cfg.Instant:
		rep.ApplicationUtilization = float64(in) / float64(r.cfg.Capacity)
	}
	if f := r.cfg.CPUUtilization; f != nil {
		rep.CPUUtilization = f()
	}
	rep.Named = append(named[:0], Metric{"in_flight", float64(in)})
	if l := r.load.Latency(); l > 0 {
		rep.Named = append(rep.Named, Metric{"latency_ms", float64(l) / float64(time.Millisecond)})
	}
	return rep
}

// Handler returns next with its requests counted and each response's
// [Header] set to the report as of when its header is written, in
// Config.Encoding. A response with a
// status of 500 or more, or a handler that panics, counts as failed (eps).
// The ResponseWriter next sees unwraps (http.ResponseController) to the
// server's and flushes as it does.
func (r *Reporter) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		start := r.Start()
		rw := &reportWriter{ResponseWriter: w, r: r}
		ok := false
		defer func() { r.Finish(start, !ok || rw.status >= 500) }()
		next.ServeHTTP(rw, req)
		if !rw.wrote {
			rw.setHeader() // net/http writes the header when next returns
			rw.status = http.StatusOK
		}
		ok = true
	})
}

// reportWriter sets the report header just before the response's header
// is written.
type reportWriter struct {
	http.ResponseWriter
	r      *Reporter
	wrote  bool
	status int
}

func (w *reportWriter) setHeader() {
	var named [2]Metric
	var buf [256]byte
	rep := w.r.Report(named[:0])
	w.ResponseWriter.Header().Set(Header, string(AppendHeader(buf[:0], rep, w.r.cfg.Encoding)))
	w.wrote = true
}

func (w *reportWriter) WriteHeader(code int) {
	if !w.wrote && code >= 200 {
		w.setHeader()
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *reportWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.setHeader()
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush flushes the response, its header with the report first.
func (w *reportWriter) Flush() {
	if !w.wrote {
		w.setHeader()
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the server's ResponseWriter, for http.ResponseController.
func (w *reportWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// rate measures events (or a sum, such as nanoseconds) per second over
// windows: each reading gives the
// rate of the last complete window, recomputed by the first call that
// finds its window over (a compare-and-swap elects it; the others go on
// with the rate before). No lock.
type rate struct {
	n      atomic.Uint64 // events so far
	t0     atomic.Int64  // the current window's start, Unix nanoseconds
	n0     atomic.Uint64 // n at t0
	perSec atomic.Uint64 // float64 bits: the last window's rate
	busy   atomic.Bool
}

func (r *rate) add(now, window int64, n uint64) {
	r.n.Add(n)
	r.roll(now, window)
}

func (r *rate) get(now, window int64) float64 {
	r.roll(now, window)
	return math.Float64frombits(r.perSec.Load())
}

// roll closes the window if it is over.
func (r *rate) roll(now, window int64) {
	t0 := r.t0.Load()
	if now-t0 < window || !r.busy.CompareAndSwap(false, true) {
		return
	}
	defer r.busy.Store(false)
	if t0 = r.t0.Load(); now-t0 < window {
		return // another closed it meanwhile
	}
	n := r.n.Load()
	r.perSec.Store(math.Float64bits(float64(n-r.n0.Load()) / (float64(now-t0) / 1e9)))
	r.n0.Store(n)
	r.t0.Store(now)
}
