package balancer

import (
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
// endpoint. A Load is shared by every picker the endpoint appears in, so
// counts survive rebuilds.
type Load struct {
	inFlight atomic.Int64
	ewma     atomic.Int64 // latency EWMA in nanoseconds; 0 = no sample yet
	report   serverLoad   // the latest server load report: see server_load.go
}

// InFlight returns the number of requests picked for the endpoint that
// have not finished yet.
func (l *Load) InFlight() int64 { return l.inFlight.Load() }

// AddInFlight adds delta to the in-flight count and returns the new count.
// The group calls it with +1 on Pick and -1 on Done.
func (l *Load) AddInFlight(delta int64) int64 { return l.inFlight.Add(delta) }

// Latency returns the endpoint's exponentially weighted moving average of
// request latency, or 0 before the first sample.
func (l *Load) Latency() time.Duration { return time.Duration(l.ewma.Load()) }

// ewmaShift sets the EWMA's smoothing: each sample moves the average by
// 1/2^ewmaShift of the difference (1/8, as TCP's SRTT).
const ewmaShift = 3

// ObserveLatency folds one request's latency into the moving average.
// Non-positive durations are ignored.
func (l *Load) ObserveLatency(d time.Duration) {
	if d <= 0 {
		return
	}
	for {
		old := l.ewma.Load()
		next := int64(d)
		if old != 0 {
			next = old + (int64(d)-old)>>ewmaShift
		}
		if l.ewma.CompareAndSwap(old, next) {
			return
		}
	}
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
