package group

import (
	"time"

	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// Stats is a point-in-time view of a group, for dashboards and for seeing
// how requests were spread.
type Stats struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Closed    bool   `json:"closed,omitempty"`

	// Backends lists the members in the order they were added, then the
	// backends still draining.
	Backends []BackendStats `json:"backends"`

	// Available is the number of backends in the pick set: the ones that
	// take new requests now.
	Available int `json:"available"`

	// Requests, Failures and InFlight are the group's totals, including
	// backends that have left it, and requests that outlived their
	// backend's drain timeout: those count as they end, as any other.
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
	InFlight int64  `json:"in_flight"`

	// DrainTimedOut counts the requests still in flight when
	// Config.DrainTimeout ended their backend's drain (the sum of the
	// EventRemoved InFlight figures).
	DrainTimedOut int64 `json:"drain_timed_out,omitempty"`

	// EventsDropped counts the events lost by subscribers that fell
	// MaxPendingEvents behind, summed over subscribers; SubscriberPanics
	// the subscriber calls that panicked (see Group.Subscribe).
	EventsDropped    uint64 `json:"events_dropped,omitempty"`
	SubscriberPanics uint64 `json:"subscriber_panics,omitempty"`

	// NoBackend counts the picks that failed because no backend could take
	// the request: a Pick that waits counts once, if its wait fails; a
	// View's pick that Group.Pick would wait out, which its adapter
	// queues, does not count (see View.Pick).
	NoBackend uint64 `json:"no_backend"`

	// RepeatedDone counts the calls of Done, DoneWith or Release on a Pick
	// (or a copy of one) that had already ended: a caller's bug, which the
	// group ignores rather than count the request twice.
	RepeatedDone uint64 `json:"repeated_done,omitempty"`

	// EjectionsTotal, ChecksPassed and ChecksFailed are the group's totals
	// of BackendStats' fields of those names, including backends that have
	// left it: counters that never fall.
	EjectionsTotal uint64 `json:"ejections_total,omitempty"`
	ChecksPassed   uint64 `json:"checks_passed,omitempty"`
	ChecksFailed   uint64 `json:"checks_failed,omitempty"`

	// Zones counts the backends and healthy backends of each named zone,
	// sorted by name. RouteZone is the zone picks are confined to ("" when
	// they spread over every zone: no LocalZone, or it failed over).
	Zones     []ZoneStats `json:"zones,omitempty"`
	RouteZone string      `json:"route_zone,omitempty"`

	// Panic is set while the group is in panic mode: too few backends are
	// healthy (Config.PanicThreshold), so picks go to all of them.
	Panic bool `json:"panic,omitempty"`

	// Imbalance is how far the spread of requests strays from the weights:
	// the largest, over the backends in the pick set, of the share of
	// their requests that a backend received divided by its share of the
	// weight. 1 is a perfect balance; 2 means some backend got twice its
	// share (as a few heavy sticky sessions can make it). 0 when the pick
	// set is empty or has served nothing. Counts run from when each
	// backend joined, against the weights (slow start included) of now;
	// with an algorithm that ignores weights (round_robin, random),
	// unequal weights show as imbalance.
	Imbalance float64 `json:"imbalance"`

	// Sticky counts session affinity, with Config.Sticky.
	Sticky *StickyStats `json:"sticky,omitempty"`
}

// StickyStats is the session-affinity part of Stats.
type StickyStats struct {
	Mode sticky.Mode `json:"mode"`
	// Hits are requests that went to the backend they were bound to and
	// were served there, including backends that have left since. With
	// sticky.SourceIP every request with a client address is a hit, but
	// for a retry: consistent hashing needs no binding, and moves a client
	// off a backend that leaves the pick set without counting a rebind.
	//
	// Each request counts once, whatever its retries (Group.Repick): as a
	// hit, a miss or a rebind.
	Hits uint64 `json:"hits"`
	// Misses are requests that were balanced and bound because they
	// brought no usable binding: no cookie, or a malformed, forged or
	// expired one (sticky.Cookie), or a key the table does not hold
	// (AppCookie, Header). A request with no key at all in the table modes
	// binds nothing and is not counted.
	Misses uint64 `json:"misses"`
	// Rebinds are requests whose binding pointed elsewhere than where they
	// were served: their bound backend could not take them (unhealthy,
	// ejected, draining, weight 0 or gone), or failed them and the retry
	// went to another; they were bound anew where served.
	Rebinds uint64 `json:"rebinds"`
	// Entries is the number of bindings in the table (AppCookie and
	// Header modes).
	Entries int `json:"entries,omitempty"`
}

// ZoneStats is one zone's part of Stats.
type ZoneStats struct {
	Zone     string `json:"zone"`
	Backends int    `json:"backends"` // members in the zone, draining ones not counted
	Healthy  int    `json:"healthy"`  // of which healthy
}

// BackendStats is one backend's part of Stats.
type BackendStats struct {
	Backend
	State health.State `json:"state"`
	// EffectiveWeight is the weight balanced with, 0-100: Backend.Weight
	// (which is set, never nil, in Stats), scaled down while slow start
	// ramps it up.
	EffectiveWeight float64 `json:"effective_weight"`
	InFlight        int64   `json:"in_flight"`
	Requests        uint64  `json:"requests"` // picks of this backend
	Failures        uint64  `json:"failures"` // Dones with an error
	// Latency is the backend's latency estimate (balancer.Load.Latency):
	// a peak EWMA of the latencies DoneWith reported, failures counted as
	// slow answers, decayed to now; 0 before the first.
	Latency time.Duration `json:"latency_ns"`
	// StickyHits are the requests that came here following their binding.
	StickyHits uint64 `json:"sticky_hits,omitempty"`

	// OutsideSubset is set for a member outside this client's subset
	// (Config.Subset): it is never picked nor health-checked, and its
	// State is Initial with health checks (or in a group whose adapter
	// awaits readiness, which does not connect to it), Healthy without.
	OutsideSubset bool `json:"outside_subset,omitempty"`

	// LastCheck is when the last health probe started, LastError what it
	// failed with ("" if it passed); zero without active checks.
	LastCheck time.Time `json:"last_check,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Unreachable says why the adapter cannot reach the backend now, such
	// as a gRPC connection in TRANSIENT_FAILURE, in a group an adapter
	// keeps for its own connections (the gRPC policy's channel groups,
	// under resolvers other than elb's); "" while it can, and always in
	// other groups (a View's readiness is the View's own).
	Unreachable string `json:"unreachable,omitempty"`
	// CheckSuccesses and CheckFailures are the current runs of consecutive
	// passed and failed probes (one of them is 0), counted up to the
	// thresholds.
	CheckSuccesses int `json:"check_successes,omitempty"`
	CheckFailures  int `json:"check_failures,omitempty"`
	// FailedInRow is the current run of failed requests, with outlier
	// detection on.
	FailedInRow uint32 `json:"failed_in_row,omitempty"`
	// Ejections is the count of recent ejections (the current one
	// included) that sets the next one's length; it falls by one for each
	// Outlier.BaseEjectionTime after an ejection ends. EjectedUntil is when
	// the current ejection ends.
	Ejections    int       `json:"ejections,omitempty"`
	EjectedUntil time.Time `json:"ejected_until,omitzero"`
	// EjectionsTotal counts every ejection of the backend since it joined
	// the group: unlike Ejections it never falls.
	EjectionsTotal uint64 `json:"ejections_total,omitempty"`

	// ChecksPassed and ChecksFailed count the health probes of the backend
	// that passed and failed since it joined the group (probes that could
	// not run, health.ErrSkipped, are not counted), and CheckTime is their
	// durations summed: CheckTime / (ChecksPassed + ChecksFailed) is the
	// mean probe duration. Zero without active checks.
	ChecksPassed uint64        `json:"checks_passed,omitempty"`
	ChecksFailed uint64        `json:"checks_failed,omitempty"`
	CheckTime    time.Duration `json:"check_time_ns,omitempty"`
}

// Stats returns the group's statistics. Counters are read one by one while
// requests go on, so totals may lag a request or two behind each other.
//
// It holds the group's lock only to copy what the lock guards (states,
// health checks, ejections, zones); the backends' descriptions are
// cloned and their request counters read after it lets go, so that a
// scrape of a large group delays membership changes and health results
// as little as it can. Pick and Done never wait for it.
//
// It first waits for the work that request calls handed over before it
// (see Pick.Done): the ejection by a Done that completed a run of
// failures, the end of a removed backend's drain. So what a caller's own
// requests did shows: after the Done that ejects a backend returns, Stats
// shows it ejected.
func (g *Group) Stats() Stats {
	if !g.made() {
		return Stats{}
	}
	g.caughtUp() // the ejections and ends of drains of requests that ended before
	// The slices are made before the lock, at the size the group had then
	// (3 MB at 10,000 backends); only a group that grew since makes them
	// again under the lock.
	g.mu.Lock()
	n := len(g.members) + len(g.draining)
	g.mu.Unlock()
	backends := make([]BackendStats, n)
	ms := make([]*member, 0, n)

	g.mu.Lock()
	if n = len(g.members) + len(g.draining); n > len(backends) {
		backends = make([]BackendStats, n)
	}
	st := Stats{
		Name:      g.cfg.Name,
		Algorithm: g.cfg.Algorithm,
		Closed:    g.closed,
		Backends:  backends[:n],
		Available: len(g.snap.Load().members),
		Requests:  g.gone.requests,
		Failures:  g.gone.failures,
		Zones:     g.zoneCounts(),
		RouteZone: g.routeZone,
		Panic:     g.panicking,
	}
	st.EjectionsTotal, st.ChecksPassed, st.ChecksFailed = g.ejectionsTotal, g.checksPassed, g.checksFailed
	ms = append(append(ms, g.members...), g.draining...)
	for i, m := range ms {
		g.lockedStats(&st.Backends[i], m)
	}
	ms = append(ms, g.outlived...) // removed, but requests still count
	st.DrainTimedOut = g.cut
	st.Imbalance = g.imbalance()
	a := g.sticky
	var stickyHits uint64
	if a != nil {
		stickyHits = g.gone.stickyHits
	}
	g.mu.Unlock()

	st.NoBackend = g.noBackend.Load()
	st.RepeatedDone = g.repeated.Load()
	st.EventsDropped, st.SubscriberPanics = g.events.counts()
	for i, m := range ms {
		var outlived BackendStats // counted in the totals, not listed
		bs := &outlived
		if i < n {
			bs = &st.Backends[i]
			bs.Backend = bs.Backend.clone()
		}
		m.counterStats(bs)
		st.Requests += bs.Requests
		st.Failures += bs.Failures
		st.InFlight += bs.InFlight
		stickyHits += bs.StickyHits
	}
	if a != nil {
		ss := &StickyStats{Mode: a.cfg.Mode, Hits: stickyHits, Misses: a.misses.Load(), Rebinds: a.moved.Load()}
		if a.table != nil {
			ss.Entries = a.table.Len()
		}
		st.Sticky = ss
	}
	return st
}

// imbalance computes Stats.Imbalance. The caller holds g.mu.
func (g *Group) imbalance() float64 {
	var reqs uint64
	var weight int
	members := g.snap.Load().members
	for _, m := range members {
		reqs += m.requests()
		weight += g.balanceWeight(m)
	}
	if reqs == 0 || weight == 0 {
		return 0
	}
	worst := 0.0
	for _, m := range members {
		share := float64(m.requests()) / float64(reqs)
		worst = max(worst, share/(float64(g.balanceWeight(m))/float64(weight)))
	}
	return worst
}

// lockedStats fills bs with what of m the group's lock guards, and with
// m's description, not yet cloned (see counterStats). The caller holds
// the group's lock.
func (g *Group) lockedStats(bs *BackendStats, m *member) {
	*bs = BackendStats{
		Backend:         *m.desc.Load(),
		State:           m.state,
		EffectiveWeight: g.effectiveWeight(m),
		LastCheck:       m.lastCheck,
		LastError:       m.lastErr,
		Unreachable:     m.unreadyWhy,
		OutsideSubset:   m.outside,
		Ejections:       m.ejections,
		EjectionsTotal:  m.ejectionsTotal,
		ChecksPassed:    m.checksPassed,
		ChecksFailed:    m.checksFailed,
		CheckTime:       m.checkTime,
	}
	if g.checker != nil {
		bs.CheckSuccesses, bs.CheckFailures = m.machine.Successes(), m.machine.Failures()
	}
	switch {
	case m.ejected:
		bs.EjectedUntil = m.ejectedUntil
	case g.outlier != nil && !m.returnedAt.IsZero():
		bs.Ejections = g.outlier.Decay(m.ejections, g.cfg.Clock.Now().Sub(m.returnedAt))
	}
}

// counterStats fills bs with m's counters, which are atomic: it needs no
// lock.
func (m *member) counterStats(bs *BackendStats) {
	bs.InFlight = m.load.InFlight()
	bs.Requests = m.requests()
	bs.Failures = m.failures.Load()
	bs.Latency = m.load.Latency()
	bs.FailedInRow = m.errRun.Load()
	bs.StickyHits = m.stickyHits.Load()
}
