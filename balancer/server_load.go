package balancer

import (
	"math"
	"runtime"
	"sync/atomic"
	"time"
)

// ServerLoad is one load report from an endpoint's server: what ORCA
// (xds.data.orca.v3.OrcaLoadReport) and Envoy's endpoint-load-metrics
// response header carry. The zero value is no report.
//
// Utilizations are fractions of the server's capacity, usually 0-1 (a
// server may report more than 1 when it is over capacity); rates are per
// second. Named metrics are not kept on a Load: the parsers read and
// check them, and drop them.
type ServerLoad struct {
	// CPUUtilization is ORCA's cpu_utilization.
	CPUUtilization float64
	// ApplicationUtilization is ORCA's application_utilization, the
	// server's own measure of how busy it is; 0 means not reported.
	// Where both are set, it is the one [ServerLoad.Utilization] returns.
	ApplicationUtilization float64
	// MemUtilization is ORCA's mem_utilization.
	MemUtilization float64
	// QPS is the rate of requests the server answers, ORCA's
	// rps_fractional.
	QPS float64
	// EPS is the rate of those requests that fail, ORCA's eps.
	EPS float64
	// Received is when the client received the report. The zero time, in
	// [Load.RecordServerLoad], means now.
	Received time.Time
}

// IsZero reports whether r carries no value: no report.
func (r ServerLoad) IsZero() bool {
	return r.CPUUtilization == 0 && r.ApplicationUtilization == 0 && r.MemUtilization == 0 &&
		r.QPS == 0 && r.EPS == 0
}

// Utilization returns the utilization that balancing goes by, as gRPC's
// weighted_round_robin does (gRFC A58): ApplicationUtilization if it is
// set, else CPUUtilization.
func (r ServerLoad) Utilization() float64 {
	if r.ApplicationUtilization > 0 {
		return r.ApplicationUtilization
	}
	return r.CPUUtilization
}

// MaxServerLoadValue is the largest value a valid report may carry in any
// field: [ServerLoad.Valid] rejects larger ones, as it does NaN and
// negative values. It bounds a utilization at a million times capacity
// and a rate at a trillion a second, far beyond any server, so that
// arithmetic on valid values never overflows.
const MaxServerLoadValue = 1e12

// Valid reports whether every value of r is a finite number from 0 to
// [MaxServerLoadValue]. [Load.RecordServerLoad] ignores a report that is
// not.
func (r ServerLoad) Valid() bool {
	for _, v := range [...]float64{r.CPUUtilization, r.ApplicationUtilization, r.MemUtilization, r.QPS, r.EPS} {
		if !(v >= 0 && v <= MaxServerLoadValue) { // false for NaN
			return false
		}
	}
	return true
}

// serverLoad is a Load's latest report, written and read without locks
// and without allocating: a sequence lock over atomic words. A writer
// claims the sequence by moving it from even to odd, stores the values and
// moves it on to even; a reader reads the values between two loads of the
// same even sequence. A report is a sample, and the next one supersedes
// it: so a writer that finds another writing drops its own (the other's is
// as fresh) instead of waiting, and writers never wait. Only readers retry,
// off the request path: the algorithms that read whole reports do so when
// they recompute weights. Utilization is read alone (one atomic word,
// always consistent) on the pick path.
//
// An atomic.Pointer to an immutable report, swapped on each change, would
// allocate on every Done that carries a report, as nearly every one's
// values differ (rates are fractional).
//
// util and received come first: with Load's in-flight count before them,
// the words p2c reads at each pick share one cache line.
type serverLoad struct {
	util     atomic.Uint64 // float64 bits of Utilization()
	received atomic.Int64  // Unix nanoseconds; 0 = no report
	seq      atomic.Uint64
	since    atomic.Int64     // Unix nanoseconds of the first report of the run; 0 = none
	vals     [5]atomic.Uint64 // float64 bits: cpu, application, mem, qps, eps
}

// RecordServerLoad records r as the endpoint's latest server load report,
// received at r.Received (the zero time means now). It ignores a report
// that is zero (none) or not valid ([ServerLoad.Valid]), and one that
// arrives while another is being recorded for the same endpoint (the
// other is as fresh). It takes no lock and allocates nothing.
func (l *Load) RecordServerLoad(r ServerLoad) {
	if r.IsZero() || !r.Valid() {
		return
	}
	s := &l.report
	seq := s.seq.Load()
	if seq&1 != 0 || !s.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	var at int64
	if r.Received.IsZero() {
		at = time.Now().UnixNano()
	} else {
		at = r.Received.UnixNano()
	}
	for i, v := range [...]float64{r.CPUUtilization, r.ApplicationUtilization, r.MemUtilization, r.QPS, r.EPS} {
		s.vals[i].Store(math.Float64bits(v))
	}
	s.util.Store(math.Float64bits(r.Utilization()))
	s.received.Store(at)
	if s.since.Load() == 0 {
		s.since.Store(at)
	}
	s.seq.Store(seq + 2)
}

// ServerLoad returns the endpoint's latest server load report and the
// time its run of reports began: when the first report arrived since the
// endpoint was new or [Load.EndServerLoadRun] was last called. ok is false
// if there is no report. It takes no lock and allocates nothing; it
// retries while a report is being recorded.
func (l *Load) ServerLoad() (r ServerLoad, since time.Time, ok bool) {
	s := &l.report
	for try := 0; ; try++ {
		seq := s.seq.Load()
		if seq&1 == 0 {
			var v [5]float64
			for i := range v {
				v[i] = math.Float64frombits(s.vals[i].Load())
			}
			at, from := s.received.Load(), s.since.Load()
			if s.seq.Load() == seq {
				if at == 0 {
					return ServerLoad{}, time.Time{}, false
				}
				r = ServerLoad{CPUUtilization: v[0], ApplicationUtilization: v[1], MemUtilization: v[2],
					QPS: v[3], EPS: v[4], Received: time.Unix(0, at)}
				if from != 0 {
					since = time.Unix(0, from)
				}
				return r, since, true
			}
		}
		if try%16 == 15 {
			runtime.Gosched() // a writer was preempted mid-report
		}
	}
}

// Utilization returns the utilization of the endpoint's latest report
// ([ServerLoad.Utilization]) and when it was received, or 0 and the zero
// time if there is none. It reads two atomic words: a report recorded
// meanwhile may pair one's utilization with the other's time.
func (l *Load) Utilization() (float64, time.Time) {
	at := l.report.received.Load()
	if at == 0 {
		return 0, time.Time{}
	}
	return math.Float64frombits(l.report.util.Load()), time.Unix(0, at)
}

// utilizationAt is Utilization with the time in Unix nanoseconds, for
// the pick path.
func (l *Load) utilizationAt() (float64, int64) {
	return math.Float64frombits(l.report.util.Load()), l.report.received.Load()
}

// EndServerLoadRun ends the endpoint's run of reports: the next report
// starts a new one. An algorithm that finds the latest report too old
// (expired) calls it, so that a blackout period applies again when reports
// resume, as gRFC A58 does.
func (l *Load) EndServerLoadRun() { l.report.since.Store(0) }
