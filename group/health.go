package group

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/healthcheck"
)

// monitor is a group's part of health checking. What New sets is read-only
// afterwards; the rest is guarded by Group.mu.
type monitor struct {
	checker   *healthcheck.Checker  // nil: no active checks
	checks    health.Config         // normalized, with checker
	outlier   *health.OutlierConfig // normalized; nil: no outlier detection
	slowStart *health.SlowStart     // normalized; nil: off
	ejectRun  uint32                // outlier.ConsecutiveFailures; 0 when off

	rampTimer Timer           // the next slow-start step, while a member ramps
	panicking bool            // the last rebuild was in panic
	routeZone string          // the zone the last rebuild confined picks to
	zoneDown  map[string]bool // zones once seen healthy: whether they have no healthy backend now

	// Totals over every member, departed ones included, for Stats.
	ejectionsTotal             uint64
	checksPassed, checksFailed uint64

	// Probe results waiting to be applied, and whether a worker applies
	// them (see onProbe); guarded by results, not Group.mu.
	results  sync.Mutex
	pending  []healthcheck.Result
	applying bool
}

// memberHealth is a member's part of health checking, guarded by Group.mu.
type memberHealth struct {
	machine      healthcheck.Machine // the active checks' verdict
	admitted     time.Time           // when the member was added: older probes are not its
	recheck      bool                // back from an ejection: the next probe decides
	lastCheck    time.Time           // when the last probe started
	lastErr      string              // the last probe's error; "" if it passed
	ejected      bool
	ejections    int       // ejections in a row, decaying while in the pick set
	ejectedUntil time.Time // while ejected
	returnedAt   time.Time // when the last ejection ended
	ejectTimer   Timer
	healthySince time.Time // start of the slow-start ramp
	percent      int       // slow start: percent of the weight balanced with, 1-100
	unready      bool      // an adapter that awaits readiness: the adapter cannot reach it now
	wasReady     bool      // it has been ready: not ready now is Unhealthy, not Initial
	unreadyWhy   string    // why it is not ready, for Stats
	readyAt      time.Time // when it was last reached again: older probes are not its recheck
	coldStart    bool      // added before the group ever served: its first passed probe admits it

	// Monotonic counts since the member joined, for Stats.
	ejectionsTotal             uint64        // every ejection; unlike ejections, never decays
	checksPassed, checksFailed uint64        // probe results, skipped probes not counted
	checkTime                  time.Duration // the counted probes' durations, summed
}

// validateRouting checks the routing fields of c.
func (c *Config) validateRouting() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"LocalZoneMinHealthy", c.LocalZoneMinHealthy}, {"PanicThreshold", c.PanicThreshold}} {
		if f.v < 0 || f.v > 100 {
			return fieldError(c.Name, f.name, f.v, "must be a percentage 0-100")
		}
	}
	return nil
}

// initHealth validates the health settings and starts the checker.
func (g *Group) initHealth() error {
	if c := g.cfg.Outlier; c != nil {
		o, err := c.Normalized()
		if err != nil {
			return invalidConfig(g.cfg.Name, "Outlier", err)
		}
		g.outlier, g.ejectRun = &o, uint32(o.ConsecutiveFailures)
	}
	if c := g.cfg.SlowStart; c != nil {
		s, err := c.Normalized()
		if err != nil {
			return invalidConfig(g.cfg.Name, "SlowStart", err)
		}
		g.slowStart = &s
	}
	if c := g.cfg.Health; c != nil {
		checks, err := c.Normalized() // a copy: the caller's struct may change
		if err != nil {
			return invalidConfig(g.cfg.Name, "Health", err)
		}
		chk, err := healthcheck.NewChecker(checks, g.cfg.Clock, g.onProbe)
		if err != nil {
			return invalidConfig(g.cfg.Name, "Health", err)
		}
		g.checker, g.checks = chk, checks
	}
	g.zoneDown = make(map[string]bool)
	return nil
}

// stopHealth stops the checker, waiting for its probes, and the slow-start
// steps. The caller must not hold g.mu.
func (g *Group) stopHealth() {
	if g.checker != nil {
		g.checker.Close()
	}
	g.mu.Lock()
	if g.rampTimer != nil {
		g.rampTimer.Stop()
		g.rampTimer = nil
	}
	g.stopSticky()
	g.mu.Unlock()
}

// admit sets a new member's health: Initial and probed with active checks,
// otherwise Healthy at once. A member added while the group has never
// served is of its cold start: its first passed probe admits it. With
// subsetting, a new member starts outside the subset, unprobed, until
// chooseSubset lets it in. The caller holds g.mu.
func (g *Group) admit(m *member) {
	m.percent = 100
	m.admitted = g.cfg.Clock.Now()
	m.outside = g.subset != nil
	if g.cfg.awaitReady {
		m.unready, m.unreadyWhy = true, "not connected yet"
		if m.outside {
			m.unreadyWhy = "outside this client's subset"
		}
	}
	if g.checker != nil {
		m.machine = healthcheck.NewMachine(g.checks)
		m.coldStart = !g.warm
		if !m.outside {
			d := m.desc.Load()
			g.checker.Add(healthcheck.Target{ID: d.ID, Addr: d.Addr})
		}
	}
	if m.state = g.state(m); m.state == health.Healthy {
		g.becameHealthy(m)
	}
}

// setReady is adapterhook.SetReady (see there): whether the member id of
// a group that awaits readiness can be reached now.
func (g *Group) setReady(id string, ready bool, reason string) error {
	g.mu.Lock()
	switch m := g.byID[id]; {
	case g.closed:
		g.mu.Unlock()
		return g.errClosed
	case !g.cfg.awaitReady:
		g.mu.Unlock()
		return &GroupError{Group: g.cfg.Name, Err: ErrInvalidConfig, Problem: "SetReady needs a group that awaits readiness (adapterhook.AwaitReady)"}
	case m == nil:
		g.mu.Unlock()
		return &BackendError{Group: g.cfg.Name, ID: id, Err: ErrUnknownBackend}
	case m.outside:
		// The adapters connect to the subset alone: this is a late report
		// on a connection that closed as the member left it. When it joins
		// again, its new connection reports anew.
		g.mu.Unlock()
		return nil
	case m.unready != ready:
		if !ready {
			m.unreadyWhy = reason // a newer reason, no change of state
		}
		g.mu.Unlock()
		return nil
	default:
		m.unready, m.unreadyWhy = !ready, ""
		if ready {
			if reason == "" {
				reason = "ready"
			}
			if g.checker != nil {
				// A new connection: check it at once, and if the member
				// was reached before, let that check decide.
				if m.wasReady {
					m.recheck, m.readyAt = true, g.cfg.Clock.Now()
				}
				g.checker.CheckNow(id)
			}
			m.wasReady = true
		} else {
			if reason == "" {
				reason = "not ready"
			}
			m.unreadyWhy = reason
		}
		g.apply(g.settle(m, reason))
		return nil
	}
}

// unwatch stops probing a member that leaves and ends its ejection. The
// caller holds g.mu.
func (g *Group) unwatch(m *member) {
	if g.checker != nil {
		g.checker.Remove(m.desc.Load().ID)
	}
	if m.ejectTimer != nil {
		m.ejectTimer.Stop()
		m.ejectTimer = nil
	}
}

// onProbe feeds a probe's result to its member's state machine. It runs
// on a checker worker and, like every change, only queues its events: a
// subscriber may Close the group, which waits for the workers.
//
// Results are applied in batches, one rebuild of the pick set for all the
// results that arrived while the last batch was applied: a cold start or
// a partition that changes n members' states costs about n / batch
// rebuilds, not n (each is O(n)). The worker whose result finds no batch
// being applied applies it and every result queued meanwhile; the others
// only queue theirs and go on probing. Results of one member keep their
// order.
func (g *Group) onProbe(r healthcheck.Result) {
	g.results.Lock()
	g.pending = append(g.pending, r)
	if g.applying {
		g.results.Unlock()
		return
	}
	g.applying = true
	for {
		batch := g.pending
		g.pending = nil
		g.results.Unlock()

		g.mu.Lock()
		var evs []Event
		for _, r := range batch {
			evs = append(evs, g.applyProbe(r)...)
		}
		g.apply(evs)

		g.results.Lock()
		if len(g.pending) == 0 {
			g.applying = false
			g.pending = batch[:0] // reuse the slice
			g.results.Unlock()
			return
		}
	}
}

// applyProbe is onProbe for one result, returning the events to commit.
// The caller holds g.mu.
func (g *Group) applyProbe(r healthcheck.Result) []Event {
	m := g.byID[r.ID]
	if g.closed || m == nil || m.outside || m.desc.Load().Addr != r.Addr || r.Start.Before(m.admitted) {
		return nil // a late result for a backend that left (and maybe came back), or left the subset
	}
	if errors.Is(r.Err, health.ErrSkipped) {
		return nil // the probe could not run: it says nothing
	}
	m.lastCheck, m.lastErr = r.Start, ""
	m.checkTime += r.Duration
	reason := "health check passed"
	if r.Err == nil {
		m.checksPassed++
		g.checksPassed++
	} else {
		m.checksFailed++
		g.checksFailed++
		m.lastErr = r.Err.Error()
		reason = "health check failed: " + m.lastErr
	}
	switch {
	case !m.recheck || r.Start.Before(m.returnedAt) || r.Start.Before(m.readyAt): // not the recheck: it began before
		m.machine.Observe(r.Err == nil)
	case r.Err == nil:
		m.recheck = false
		m.machine.Observe(true)
	default:
		m.recheck = false
		m.machine.Fail()
	}
	if m.coldStart {
		if r.Err == nil {
			m.machine.Admit() // a cold start: nothing else could serve
		}
		m.coldStart = m.machine.State() == health.Initial
	}
	return g.settle(m, reason)
}

// ejectLocked takes m out of the pick set after a run of failed requests,
// if the group's MaxEjectionPercent allows, returning the events to
// commit. *ejected is the number of members ejected, counted by the first
// call that needs it if negative and kept up to date. It runs on the
// goroutine of handoffs (a request only hands it over: see handEject).
// The caller holds g.mu.
func (g *Group) ejectLocked(m *member, ejected *int) []Event {
	if g.closed || m.ejected || m.draining.Load() || m.outside {
		return nil
	}
	if *ejected < 0 {
		*ejected = 0
		for _, x := range g.members {
			if x.ejected {
				*ejected++
			}
		}
	}
	if *ejected >= g.outlier.MaxEjected(g.inSubset()) {
		// Not now: count a fresh run. (Failures that land between the
		// Done that saw the run complete and this store are forgotten;
		// the next run catches a backend that keeps failing.)
		m.errRun.Store(0)
		return nil
	}
	*ejected++
	now := g.cfg.Clock.Now()
	if !m.returnedAt.IsZero() {
		m.ejections = g.outlier.Decay(m.ejections, now.Sub(m.returnedAt))
	}
	m.ejections++
	m.ejectionsTotal++
	g.ejectionsTotal++
	d := g.outlier.EjectionTime(m.ejections)
	m.ejected, m.ejectedUntil = true, now.Add(d)
	m.ejectTimer = g.cfg.Clock.AfterFunc(d, func() { g.endEjection(m) })
	return g.settle(m, fmt.Sprintf("%d consecutive failed requests: ejected for %v", g.ejectRun, d))
}

// endEjection lets an ejected member back: at once without active checks,
// after its next probe passes with them.
func (g *Group) endEjection(m *member) {
	g.mu.Lock()
	if !m.ejected || m.draining.Load() {
		g.mu.Unlock()
		return
	}
	m.ejected, m.ejectTimer = false, nil
	m.returnedAt = g.cfg.Clock.Now()
	m.errRun.Store(0)
	reason := "ejection ended"
	if g.checker != nil {
		m.recheck = true
		g.checker.CheckNow(m.desc.Load().ID)
		reason += "; waiting for a health check to pass"
	}
	g.apply(g.settle(m, reason))
}

// state derives a member's state from its health parts. The caller holds
// g.mu.
func (g *Group) state(m *member) health.State {
	switch {
	case m.draining.Load():
		return health.Draining
	case m.ejected:
		return health.Ejected
	case m.unready && m.wasReady:
		return health.Unhealthy
	case m.unready:
		return health.Initial
	case m.recheck:
		return health.Unhealthy
	case g.checker != nil:
		return m.machine.State()
	}
	return health.Healthy
}

// settle brings m.state up to date, returning the event of a change (none
// if nothing changed). The caller holds g.mu.
func (g *Group) settle(m *member, reason string) []Event {
	s := g.state(m)
	if s == m.state {
		return nil
	}
	ev := g.event(EventStateChanged, *m.desc.Load())
	ev.From, ev.State, ev.Reason = m.state, s, reason
	m.state = s
	if s == health.Healthy {
		g.becameHealthy(m)
	}
	return []Event{ev}
}

// apply commits evs, rebuilding the pick set, or only unlocks g.mu if
// there are none. The caller holds g.mu.
func (g *Group) apply(evs []Event) {
	if len(evs) == 0 {
		g.mu.Unlock()
		return
	}
	g.commit(evs)
}

// becameHealthy starts m's slow-start ramp. The caller holds g.mu.
func (g *Group) becameHealthy(m *member) {
	if g.slowStart == nil {
		return
	}
	m.healthySince = g.cfg.Clock.Now()
	m.percent = g.slowStart.Percent(0)
	g.scheduleRamp()
}

// scheduleRamp arms the next slow-start step, one hundredth of the window
// away, so that each step raises a ramping weight by about one percent.
// The caller holds g.mu.
func (g *Group) scheduleRamp() {
	if g.rampTimer == nil && !g.closed {
		g.rampTimer = g.cfg.Clock.AfterFunc(g.slowStart.Window/100, g.ramp)
	}
}

// ramp is a slow-start step: it raises the weights of the members that
// ramp and rebuilds the pick set if any of them takes requests.
func (g *Group) ramp() {
	g.mu.Lock()
	g.rampTimer = nil
	if g.closed {
		g.mu.Unlock()
		return
	}
	now := g.cfg.Clock.Now()
	changed, ramping := false, false
	for _, m := range g.members {
		if m.percent == 100 {
			continue
		}
		p := g.slowStart.Percent(now.Sub(m.healthySince))
		if p != m.percent {
			m.percent = p
			changed = changed || (m.state.Serving() && m.weight > 0)
		}
		ramping = ramping || p < 100
	}
	if ramping {
		g.scheduleRamp()
	}
	if !changed {
		g.mu.Unlock()
		return
	}
	g.commit(nil)
}

// balanceWeight is the weight m is balanced with: its weight, and with
// slow start on, times the percent of it that its ramp has reached (so
// that even weight 1 ramps in steps of one percent). The caller holds g.mu.
func (g *Group) balanceWeight(m *member) int {
	if g.slowStart == nil {
		return m.weight
	}
	return m.weight * m.percent
}

// effectiveWeight is what Stats shows of balanceWeight: the weight, scaled
// by the slow-start ramp.
func (g *Group) effectiveWeight(m *member) float64 {
	if g.slowStart == nil {
		return float64(m.weight)
	}
	return float64(g.balanceWeight(m)) / 100 // undo the percent scale
}

// routeEvents records where the pick set r routes and returns the events
// of a change: panic mode entered or left, a zone that lost its last
// healthy backend or got one back. The caller holds g.mu.
func (g *Group) routeEvents(r routing) []Event {
	var evs []Event
	now := g.cfg.Clock.Now()
	if r.panic != g.panicking {
		g.panicking = r.panic
		t := EventPanic
		if !r.panic {
			t = EventPanicEnd
		}
		evs = append(evs, Event{Type: t, Group: g.cfg.Name, Time: now})
	}
	g.routeZone = r.zone
	zones := g.zoneCounts()
	for _, z := range zones {
		down := z.Healthy == 0
		was, known := g.zoneDown[z.Zone]
		switch {
		case !known && down: // never healthy yet: nothing was lost
			continue
		case down && !was:
			evs = append(evs, Event{Type: EventZoneDown, Group: g.cfg.Name, Time: now, Zone: z.Zone})
		case !down && was:
			evs = append(evs, Event{Type: EventZoneUp, Group: g.cfg.Name, Time: now, Zone: z.Zone})
		}
		g.zoneDown[z.Zone] = down
	}
	for z := range g.zoneDown {
		if !slices.ContainsFunc(zones, func(s ZoneStats) bool { return s.Zone == z }) {
			delete(g.zoneDown, z)
		}
	}
	return evs
}

// zoneCounts counts the members and healthy members of each named zone,
// sorted by zone: with subsetting, the subset's alone. The caller holds
// g.mu.
func (g *Group) zoneCounts() []ZoneStats {
	var zs []ZoneStats
	for _, m := range g.members {
		z := m.desc.Load().Zone
		if z == "" || m.outside {
			continue
		}
		i := slices.IndexFunc(zs, func(s ZoneStats) bool { return s.Zone == z })
		if i < 0 {
			zs = append(zs, ZoneStats{Zone: z})
			i = len(zs) - 1
		}
		zs[i].Backends++
		if m.state.Serving() {
			zs[i].Healthy++
		}
	}
	slices.SortFunc(zs, func(a, b ZoneStats) int {
		switch {
		case a.Zone < b.Zone:
			return -1
		case a.Zone > b.Zone:
			return 1
		}
		return 0
	})
	return zs
}
