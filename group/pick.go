package group

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/internal/flight"
)

// Request describes a request to the group, for the algorithms that use
// more than a rotation.
type Request struct {
	// Key is an affinity key for consistent_hash, such as a user or session
	// ID; requests with the same key go to the same backend while it is a
	// member and takes requests. Empty means none.
	Key string
	// Source is the client's address, "ip" or "ip:port", for
	// source_ip_hash and sticky.SourceIP. Empty means unknown.
	Source string
	// Affinity is the request's binding, with Config.Sticky: the value of
	// the load-balancer cookie (sticky.Cookie), of the application's
	// session cookie (sticky.AppCookie), or of the header or metadata key
	// (sticky.Header). Empty means none. It is untrusted input: a value
	// that is malformed, forged or bound to a backend that cannot take the
	// request is ignored, and the request balanced and bound anew.
	Affinity string
}

// Pick is one request's backend, chosen by Group.Pick. Its Done (or
// DoneWith, or Release) method must be called once when the request ends:
// that is what releases the backend's in-flight slot, lets a draining
// backend go and counts failures. Only the first of these calls on a Pick
// (or on any copy of it) counts: a later one is ignored, and counted in
// Stats.RepeatedDone. The zero Pick, returned with an error, has no
// backend and ignores all three.
type Pick struct {
	// Four words at most: a larger struct is not kept in registers, and
	// copying it through memory costs every pick a few nanoseconds.
	m   *member
	tok *token // the pick's end: see token
	// gen is tok's generation when the pick was made (genMask), and, in
	// the bits above, the part of the member's in-flight count the pick
	// was counted on and the sticky counter it added to (partShift).
	gen    uint64
	cookie *string // sticky.Cookie: the cookie to set; nil for none
}

// Pick chooses a backend for a request and counts the request as in flight
// on it until Done. It returns an error wrapping ErrNoBackends when the
// group is empty, ErrNoHealthyBackend when no member with a weight is
// healthy, ErrNoAvailableBackend when every member has weight 0, or
// ErrClosed after Close. The error says why no member can take the
// request, counting them by reason (with the last probe error of one that is
// unhealthy):
//
//	elb: group "orders": no healthy backend: 3 members: 2 initial (awaiting first health check), 1 unhealthy (web-3: dial tcp 10.0.0.7:8080: connection refused)
//
// When that is only for now, Pick waits, bounded by ctx: while a member
// with a weight is still Initial, awaiting its first health checks, or the
// group is fed by a Sync whose first update is not applied yet, Pick
// waits until a member takes requests and picks it, as if it had been
// called then. If ctx ends first, it returns an error wrapping both the
// group's error and ctx.Err(), saying how long it waited:
//
//	elb: group "orders": no healthy backend (waited 2s: context deadline exceeded): 3 members: 3 initial (awaiting first health check)
//
// It never waits when the members are judged (unhealthy, ejected, weight
// 0, draining), the group is empty and fed by no Sync, or closed: Close
// ends every wait with ErrClosed. Config.FailFast (and an adapter that awaits readiness)
// turns waiting off. A wait costs a pick that finds a member nothing: it
// is entered only on the error path, and wakes on each change of the
// group, never polling. Group.WaitReady waits for a member whatever the
// reason.
//
// With Config.Sticky, a request whose binding (Request.Affinity, or
// Request.Source for sticky.SourceIP) names a backend that can take it goes
// there (Pick.StickyHit reports it); any other is balanced and bound (see
// Pick.Cookie and Pick.Bind).
//
// But for that wait, Pick never blocks. It takes no lock and allocates
// nothing, with two exceptions it shares with Done: the call that
// releases the last request of a removed backend hands the end of its
// drain (forgetting it, EventRemoved) to a goroutine of the group, started
// if none runs, so that it never waits for the group's lock (no request
// call delivers events either: see Subscribe); and, once per
// backend, the call that collides with another core's on the backend's
// in-flight count allocates the count's per-P parts (64 bytes per P, up
// to 8: see balancer.Load).
// With Config.Sticky, making a binding (not following one) allocates the
// table entry or the cookie, and takes the table's writer lock.
func (g *Group) Pick(ctx context.Context, req Request) (Pick, error) {
	if g.sticky == nil {
		if p, ok := g.pickNow(req.Key, req.Source, nil); ok {
			return p, nil
		}
	}
	return g.pick(ctx, req, nil)
}

// pick is Pick and Repick past the fast path. It takes req by value so
// that Pick and Repick never take its address, which would spill it to
// the stack on every pick, the fast ones too.
func (g *Group) pick(ctx context.Context, req Request, tried *Tried) (Pick, error) {
	if g.sticky != nil {
		return g.pickStickyFrom(ctx, &g.snap, &req, tried, nil)
	}
	return g.pickFrom(ctx, &g.snap, &req, tried, nil)
}

// pickNow is the fast path of Pick and Repick without affinity: one
// attempt from the group's pick set by the algorithm alone, for a request
// with no attempt recorded in t (nil or empty). Its arguments fit in
// registers. ok false leaves the request to pickFrom, which does the rest:
// waiting for a pick set, reporting a picker's bad index, picking again
// when the member left.
func (g *Group) pickNow(key, source string, t *Tried) (p Pick, ok bool) {
	s := g.snap.Load()
	if s == nil || s.err != nil { // nil: a Group New did not make (see pickFrom)
		return Pick{}, false
	}
	i := s.picker.Pick(balancer.Request{Key: key, Source: source})
	if uint(i) >= uint(len(s.members)) {
		return Pick{}, false
	}
	m := s.members[i]
	part := flight.Begin(unsafe.Pointer(&m.load))
	if m.draining.Load() { // see pickFrom
		m.unpick(part)
		return Pick{}, false
	}
	if t != nil {
		t.add(m)
	}
	return newPick(m).on(part), true
}

// Repick is Pick for the attempts of a request that may be retried, the
// first included: it records each attempt's backend in tried, and a retry
// goes to a backend tried has no record of while the pick set has one,
// whatever the algorithm (see Tried for how it chooses). Session
// affinity, for a retry, does not follow a binding to a backend already
// tried: the request is balanced and bound anew. An adapter passes the
// same req, binding included, and the same tried to every attempt; with an
// empty tried, Repick picks exactly as Pick does, and allocates no more.
// It waits, bounded by ctx, as Pick does.
func (g *Group) Repick(ctx context.Context, req Request, tried *Tried) (Pick, error) {
	if g.sticky == nil && (tried == nil || tried.n == 0) {
		if p, ok := g.pickNow(req.Key, req.Source, tried); ok {
			return p, nil
		}
	}
	return g.pick(ctx, req, tried)
}

// pickedAt is where a pick came from: the snapshot and the member's index
// in it, for a View's attachment.
type pickedAt struct {
	s *snapshot
	i int
}

// pickFrom is Pick by the group's algorithm alone, from the pick set src
// points to: the group's own, or a View's; t, if not nil, is the request's
// record of its attempts (Repick); at, if not nil, receives the snapshot
// and index the pick came from (returning them would cost every pick:
// Pick, a snapshot, an index and an error do not fit the registers results
// are returned in). Only the group's own pick set waits, bounded by ctx
// (see Group.Pick): a View's never does.
func (g *Group) pickFrom(ctx context.Context, src *atomic.Pointer[snapshot], req *Request, t *Tried, at *pickedAt) (Pick, error) {
	for {
		s := src.Load()
		if s == nil {
			return Pick{}, errNotNew
		}
		if s.err != nil {
			if err := g.noPickSet(ctx, src, s); err != nil {
				return Pick{}, err
			}
			continue // a pick set: pick from it
		}
		i := s.picker.Pick(balancer.Request{Key: req.Key, Source: req.Source})
		if uint(i) >= uint(len(s.members)) {
			return Pick{}, &GroupError{Group: g.cfg.Name, Err: ErrPicker,
				Problem: fmt.Sprintf("algorithm %q returned %d for %d endpoints", g.cfg.Algorithm, i, len(s.members))}
		}
		if t != nil && t.has(s.members[i]) {
			i = g.avoid(s, i, req, t)
		}
		m := s.members[i]
		part := flight.Begin(unsafe.Pointer(&m.load))
		if m.draining.Load() {
			// m left the group after s was taken. Its removal published a
			// snapshot without it before marking it, so the next load sees
			// that one.
			m.unpick(part)
			continue
		}
		if t != nil {
			t.add(m)
		}
		if at != nil {
			at.s, at.i = s, i
		}
		return newPick(m).on(part), nil
	}
}

// Result is how a request ended, for DoneWith.
type Result struct {
	// Err is the request's error; non-nil counts as a failure of the backend.
	Err error
	// Latency is how long the request took; 0 means not measured. It feeds
	// the backend's latency estimate (balancer.Load), which peak_ewma
	// balances on; with Err, the failure counts as at least peak_ewma's
	// failure penalty.
	Latency time.Duration
	// RetryAfter is how long the backend asked to be sent no new requests
	// (HTTP's Retry-After on a 429 or 503, gRPC's grpc-retry-pushback-ms),
	// as the adapters read it; 0 means it asked nothing. The backend is
	// benched for that long, at most balancer.MaxBench (1 minute):
	// peak_ewma, least_request and weighted_least_connections send it no
	// request while another backend of the pick set can take one; the
	// other algorithms ignore benches. A bench never leaves a pick without
	// a backend.
	RetryAfter time.Duration

	// ServerLoad is the load report the response carried (the zero value
	// for none): balancer.Load.RecordServerLoad records it for
	// load_report_wrr and other algorithms that read server load.
	ServerLoad balancer.ServerLoad

	// End is when the request ended, a reading of the real clock
	// (time.Now) that the caller took anyway, such as to measure Latency:
	// it saves DoneWith a clock read for the latency estimate and for
	// ServerLoad's Received, when that is zero. The zero value means now.
	// A group on a Config.Clock of its own reads that clock instead for
	// the estimate.
	End time.Time
}

// Done ends the request: err != nil counts as a failure of the backend
// (and as a slow answer for peak_ewma; see Result).
//
// Like Pick, Done takes no lock and allocates nothing, but for two calls:
// the one that releases the last request of a removed backend (see Pick),
// and, with outlier detection on, the failure that completes a run of
// Outlier.ConsecutiveFailures. That one hands the backend's ejection to a
// goroutine of the group, started if none runs, which takes the group's
// lock, rebuilds the pick set and queues EventStateChanged; Done returns
// at once, and picks made before the rebuild may still go to the backend.
// Stats waits for what was handed over before it, so it shows the
// ejection once this Done has returned.
func (p Pick) Done(err error) {
	if p.m == nil || !p.end() {
		return
	}
	if err != nil {
		p.m.load.ObserveFailure(0)
	}
	p.done(err)
}

// done is Done once the pick is known to end here.
func (p Pick) done(err error) {
	m := p.m
	if err != nil {
		m.failures.Add(1)
		if n := m.group.ejectRun; n != 0 && m.errRun.Add(1) == n {
			m.group.handEject(m)
		}
	} else if m.errRun.Load() != 0 {
		m.errRun.Store(0)
	}
	m.release(p.part())
}

// DoneWith ends the request like Done, also recording its latency and
// the backend's backoff hint and the server's load report (see Result).
func (p Pick) DoneWith(r Result) {
	if p.m == nil || !p.end() {
		return
	}
	l := &p.m.load
	if r.Err != nil {
		l.ObserveFailureAt(r.Latency, r.End)
	} else {
		l.ObserveLatencyAt(r.Latency, r.End)
	}
	l.Bench(r.RetryAfter)
	if !r.ServerLoad.IsZero() {
		if r.ServerLoad.Received.IsZero() {
			r.ServerLoad.Received = r.End // the zero End: RecordServerLoad reads the clock
		}
		l.RecordServerLoad(r.ServerLoad)
	}
	p.done(r.Err)
}

// release gives back an in-flight slot, counted on part, ending m's drain
// with its last one.
func (m *member) release(part flight.Part) {
	flight.End(unsafe.Pointer(&m.load), part)
	if m.draining.Load() && m.load.InFlight() == 0 {
		m.group.handDrained(m) // endDrain: at most once, it holds the group's lock and checks
	}
}

// unpick takes back a pick of m that no request was sent for: its
// in-flight slot and its count.
func (m *member) unpick(part flight.Part) {
	m.unpicked.Add(1)
	m.release(part)
}

// ID returns the picked backend's ID, or "" for the zero Pick.
func (p Pick) ID() string {
	if p.m == nil {
		return ""
	}
	return p.m.desc.Load().ID
}

// Addr returns the picked backend's address, or "" for the zero Pick.
func (p Pick) Addr() string {
	if p.m == nil {
		return ""
	}
	return p.m.desc.Load().Addr
}

// Backend returns the picked backend as it is now, Weight set to a
// pointer of its own. Its Metadata map is shared with the group and must
// not be modified.
func (p Pick) Backend() Backend {
	if p.m == nil {
		return Backend{}
	}
	b := *p.m.desc.Load()
	b.Weight = Weight(*b.Weight)
	return b
}

// Release ends a Pick whose request was never sent, instead of Done: it
// gives back the in-flight slot and takes the pick out of the request
// counts (the sticky ones too), recording neither a success nor a
// failure: the gRPC policy releases a pick whose connection turned out not
// to be ready. Like Done, only the first end of a Pick counts. The zero
// Pick ignores Release.
func (p Pick) Release() {
	if p.m == nil || !p.end() {
		return
	}
	p.uncount()
	p.m.unpick(p.part())
}
