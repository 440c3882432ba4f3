package balancer

import (
	"math"
	"sync/atomic"
	"time"
)

// Endpoint is one backend as an algorithm sees it: an identity, an
// effective weight and the live load that the group keeps for it.
//
// Endpoints handed to [Algorithm.Build] are eligible to take new requests:
// their Weight is at least 1. A picker must not modify them.
type Endpoint struct {
	// ID identifies the endpoint uniquely within its group. Hashing
	// algorithms place endpoints by ID, so a key keeps its endpoint for as
	// long as the endpoint is a member, whatever happens to the others.
	ID string

	// Addr is the endpoint's network address, "host:port".
	Addr string

	// Zone is the endpoint's availability zone, possibly empty.
	Zone string

	// Weight is the effective weight, at least 1. A larger weight means a
	// larger share of the requests.
	Weight int

	// Load holds the endpoint's live counters. The group updates it on
	// every Pick and Done; load-aware algorithms read it. Build treats a nil
	// Load as an endpoint that is never busy.
	Load *Load
}

// Request is what a picker may use to choose an endpoint.
type Request struct {
	// Key is the request's affinity key for hashing algorithms
	// (consistent_hash), such as a user or session ID. Empty means no key.
	Key string

	// Source is the client's address, "ip" or "ip:port", for
	// source_ip_hash. Empty means unknown.
	Source string
}

// Picker chooses an endpoint for each request. A picker is immutable: the
// group builds a new one whenever the set of eligible endpoints changes.
// Pick is called concurrently from many goroutines and must be safe for
// that; it should not block, lock or allocate.
type Picker interface {
	// Pick returns the index, in the slice the picker was built from, of
	// the endpoint that should serve req. An index outside that slice is
	// reported to the caller as an error; it never panics the group.
	Pick(req Request) int
}

// Algorithm builds pickers. Build is called with at least one endpoint,
// never with an empty slice, and may keep the slice: the caller does not
// modify it afterwards. Build may be called concurrently for different
// groups.
type Algorithm interface {
	Build(endpoints []Endpoint) Picker
}

// Load is the live load of one endpoint. Its counters are updated with
// atomic operations and read without locks; the zero value is an idle
// endpoint with no latency sample, not benched, on the real clock. A Load
// is shared by every picker the endpoint appears in, so what it has
// learned survives rebuilds.
//
// # In flight
//
// [Load.AddInFlight] counts requests in and out of flight, on one counter
// while requests come one at a time. The first time two cores update it
// at the same instant, the Load turns to a count per P (the Go
// scheduler's processors, up to MaxLoadStripes), which it allocates then,
// once, 64 bytes per P: each core counts on a cache line of its own, so
// that picks on many cores do not slow each other down, and
// [Load.InFlight] adds the parts up.
//
// # Latency estimate
//
// The estimate is a peak EWMA (Finagle's PeakEwma, linkerd's and tower's
// peak_ewma): a sample above the current estimate replaces it at once; a
// sample below it moves the estimate toward it by 1-exp(-elapsed/decay),
// elapsed being the time since the previous sample, so the estimate
// follows time, not the number of samples: a backend that answers 1,000
// times a second and one that answers once a second move at the same
// speed. Between samples the estimate decays toward zero at the same rate
// (it is read decayed to the present: a backend nothing is sent to looks
// better and better until it is tried again). decay is the [PeakEWMA]
// Decay of the last peak_ewma picker built over the Load, DefaultDecay
// before one is. A failure ([Load.ObserveFailure]) is a sample of at
// least the picker's FailurePenalty and of twice the current estimate, so
// that a backend that fails fast looks slow, not fast. Estimates are kept
// to float32 precision and at most an hour; sample times to the
// millisecond.
//
// # Backoff hints
//
// [Load.Bench] benches the endpoint: a server that answered with a
// Retry-After or a gRPC retry pushback asked for no new requests for a
// while. The load-aware built-ins (peak_ewma, least_request,
// weighted_least_connections) send a benched endpoint nothing while an
// endpoint that is not benched is eligible, and treat every endpoint as
// eligible when all are benched: a hint never leaves a pick without an
// endpoint. A benched endpoint's latency estimate does not fade until its
// bench ends.
type Load struct {
	// The first 64 bytes are what a pick reads and writes: the counts,
	// the bench and the estimate.

	// stripes are the in-flight counts one per P, once two cores have
	// collided on added or removed; nil until then (see flightParts).
	stripes atomic.Pointer[flightParts]
	// added and removed are the in-flight counts until stripes are made
	// (and the few updates that raced with making them).
	added, removed atomic.Int64
	// benchUntil is the tick (see ticks) until which the endpoint is
	// benched; 0 = not benched. Pickers read it with the in-flight count.
	benchUntil atomic.Int64

	// Latency estimate (peak EWMA): est packs the estimate and its
	// sample time (see packEstimate); 0 = no sample yet.
	est atomic.Uint64
	// decay and penalty are the estimate's parameters in nanoseconds,
	// set by the last peak_ewma Build over the Load; 0 = the defaults.
	decay, penalty atomic.Int64

	// now is the Load's clock (nil: the real one), set by SetClock
	// before the Load is shared.
	now func() time.Time

	// report is the latest server load report: see server_load.go.
	report serverLoad

	// probe is the latest prequal probe answer, which a rebuilt prequal
	// picker starts its pool from: see prequal_load.go.
	probe pqLatest
}

// SetClock sets the Load's source of time, for its latency estimate and
// bench (nil: the real clock). It must be called before the Load is
// shared; the group sets its Config.Clock on the Loads of its members.
// Every Load a picker compares must read the same clock.
func (l *Load) SetClock(now func() time.Time) { l.now = now }

// epoch is the origin of ticks.
var epoch = time.Now()

// ticks returns the Load's clock in milliseconds since epoch.
func (l *Load) ticks() int64 {
	if l.now == nil {
		return int64(time.Since(epoch) / time.Millisecond)
	}
	return int64(l.now().Sub(epoch) / time.Millisecond)
}

// Defaults of the latency estimate, for a Load no peak_ewma picker has
// configured (see [PeakEWMA]).
const (
	// DefaultDecay is the time constant of the latency estimate: a sample
	// below the estimate has moved it 63% of the way after DefaultDecay
	// of samples like it, and an estimate nothing is sent to has lost 63%
	// of its value after DefaultDecay. Finagle and linkerd use 10 s; in
	// the simulated lab (balancer/simulation_test.go) 10 s leaves
	// backends that recovered from a slowdown 20% of the traffic 5-20 s
	// later where 30% is their share, and 3 s gives them 29.6%, with
	// the other figures unchanged but for fast failures (0.125% of
	// requests failed instead of 0.05%).
	DefaultDecay = 3 * time.Second
	// DefaultFailurePenalty is the least latency a failure counts as.
	DefaultFailurePenalty = time.Second
)

// maxEstimate bounds the latency estimate.
const maxEstimate = float64(time.Hour)

// stampBits is the width of the sample time in est; the estimate takes
// the 24 bits above it (a float32 without its 8 lowest mantissa bits).
// Sample times wrap every 2^40 ms (34 years): differences are taken
// modulo 2^40.
const stampBits = 40

func packEstimate(ns float64, tick int64) uint64 {
	ns = min(max(ns, 1), maxEstimate)
	return uint64(math.Float32bits(float32(ns))>>8)<<stampBits | uint64(tick)&(1<<stampBits-1)
}

// unpackEstimate returns the estimate in nanoseconds (0 for none) and its
// sample time, modulo 2^40.
func unpackEstimate(v uint64) (ns float64, stamp int64) {
	return float64(math.Float32frombits(uint32(v>>stampBits) << 8)), int64(v & (1<<stampBits - 1))
}

// tickDiff returns a-b for sample times modulo 2^40.
func tickDiff(a, b int64) int64 { return (a - b) << (64 - stampBits) >> (64 - stampBits) }

// decayNanos returns the Load's decay in nanoseconds, as a float.
func (l *Load) decayNanos() float64 {
	if d := l.decay.Load(); d > 0 {
		return float64(d)
	}
	return float64(DefaultDecay)
}

// configure sets the estimate's parameters, storing only what changes.
func (l *Load) configure(decay, penalty time.Duration) {
	if l.decay.Load() != int64(decay) {
		l.decay.Store(int64(decay))
	}
	if l.penalty.Load() != int64(penalty) {
		l.penalty.Store(int64(penalty))
	}
}

// Latency returns the endpoint's latency estimate (see Load), decayed to
// the present, or 0 before the first sample.
func (l *Load) Latency() time.Duration {
	v := l.est.Load()
	if v == 0 {
		return 0
	}
	e, s := unpackEstimate(v)
	dt := max(tickDiff(l.ticks(), s), 0)
	return time.Duration(e * math.Exp(-float64(dt)*float64(time.Millisecond)/l.decayNanos()))
}

// ObserveLatency folds the latency of a request that succeeded into the
// estimate. Non-positive durations are ignored.
func (l *Load) ObserveLatency(d time.Duration) { l.ObserveLatencyAt(d, time.Time{}) }

// ObserveFailure folds a failed request into the estimate as a sample of
// the largest of d, the failure penalty and twice the current estimate.
func (l *Load) ObserveFailure(d time.Duration) { l.ObserveFailureAt(d, time.Time{}) }

// ObserveLatencyAt is ObserveLatency for a request that ended at end, a
// reading of the real clock (time.Now) that the caller took anyway, such
// as to measure d: it saves the Load a clock read. A zero end, or a Load
// on a clock of its own (SetClock), reads the Load's clock.
func (l *Load) ObserveLatencyAt(d time.Duration, end time.Time) {
	if d > 0 {
		l.observe(float64(d), false, l.ticksAt(end))
	}
}

// ObserveFailureAt is ObserveFailure for a request that ended at end (see
// ObserveLatencyAt).
func (l *Load) ObserveFailureAt(d time.Duration, end time.Time) {
	l.observe(float64(max(d, 0)), true, l.ticksAt(end))
}

// ticksAt returns end in ticks, or the Load's clock when end is zero or
// the Load has a clock of its own.
func (l *Load) ticksAt(end time.Time) int64 {
	if l.now != nil || end.IsZero() {
		return l.ticks()
	}
	return int64(end.Sub(epoch) / time.Millisecond)
}

func (l *Load) observe(sample float64, failed bool, now int64) {
	tau := l.decayNanos()
	if failed {
		p := float64(DefaultFailurePenalty)
		if v := l.penalty.Load(); v > 0 {
			p = float64(v)
		}
		sample = max(sample, p)
	}
	for {
		old := l.est.Load()
		next, stamp := sample, now
		if old != 0 {
			e, s := unpackEstimate(old)
			dt := tickDiff(now, s)
			if dt < 0 { // a sample timed before the last one
				dt, stamp = 0, s
			}
			if dt == 0 && sample <= e && !failed {
				return // within the same millisecond, only a peak counts
			}
			w := math.Exp(-float64(dt) * float64(time.Millisecond) / tau)
			cur := e * w
			if failed {
				sample = max(sample, 2*cur)
				next = sample
			}
			if sample < cur {
				next = cur + sample*(1-w)
			}
		}
		if l.est.CompareAndSwap(old, packEstimate(next, stamp)) {
			return
		}
	}
}

// MaxBench is the longest [Load.Bench] takes effect for.
const MaxBench = time.Minute

// Bench asks that the endpoint get no new requests for d, capped at
// MaxBench, while another endpoint can take them (see Load). A bench only
// ever extends: a shorter one than the bench in force changes nothing.
// The latency estimate does not fade while the endpoint is benched: it
// comes back with the estimate it had, not one that a minute without
// samples brought near zero, which would flood it. Non-positive
// durations are ignored.
func (l *Load) Bench(d time.Duration) {
	if d <= 0 {
		return
	}
	now := l.ticks()
	until := now + int64((min(d, MaxBench)+time.Millisecond-1)/time.Millisecond)
	if until == 0 {
		until = 1 // 0 means none
	}
	for {
		old := l.benchUntil.Load()
		if old != 0 && old >= until {
			return
		}
		if l.benchUntil.CompareAndSwap(old, until) {
			break
		}
	}
	// Hold the estimate: its value now, timed at the bench's end (a
	// sample time in the future reads undecayed until then).
	for {
		old := l.est.Load()
		if old == 0 {
			return
		}
		e, s := unpackEstimate(old)
		if tickDiff(until, s) <= 0 {
			return
		}
		dt := max(tickDiff(now, s), 0)
		cur := e * math.Exp(-float64(dt)*float64(time.Millisecond)/l.decayNanos())
		if l.est.CompareAndSwap(old, packEstimate(cur, until)) {
			return
		}
	}
}

// Benched reports whether the endpoint is benched now.
func (l *Load) Benched() bool {
	var c benchClock
	return c.benched(l)
}

// benchClock tells benched endpoints, reading the clock at most once: a
// picker uses one per pick. (Every Load a picker compares reads the same
// clock.)
type benchClock struct {
	now int64
	set bool
}

func (c *benchClock) benched(l *Load) bool {
	u := l.benchUntil.Load()
	if u == 0 {
		return false
	}
	if !c.set {
		c.now, c.set = l.ticks(), true
	}
	if c.now < u {
		return true
	}
	l.benchUntil.CompareAndSwap(u, 0) // over: later picks read no clock
	return false
}

// loads returns the endpoints' Loads, with a fresh idle Load for each
// endpoint built without one.
func loads(eps []Endpoint) []*Load {
	out := make([]*Load, len(eps))
	for i := range eps {
		if eps[i].Load != nil {
			out[i] = eps[i].Load
		} else {
			out[i] = new(Load)
		}
	}
	return out
}
