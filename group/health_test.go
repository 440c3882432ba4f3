package group_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/fakeclock"
)

// fleet scripts the answers of health probes: every address passes unless
// marked down, and every probe is counted.
type fleet struct {
	mu     sync.Mutex
	down   map[string]bool
	probes map[string]int
	skip   *bool // if set and true, every probe is skipped
}

func newFleet() *fleet { return &fleet{down: map[string]bool{}, probes: map[string]int{}} }

func (f *fleet) Probe(_ context.Context, addr string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes[addr]++
	if f.skip != nil && *f.skip {
		return fmt.Errorf("%w: no connection", health.ErrSkipped)
	}
	if f.down[addr] {
		return errors.New("connection refused")
	}
	return nil
}

func (f *fleet) set(addr string, down bool) { f.mu.Lock(); f.down[addr] = down; f.mu.Unlock() }

func (f *fleet) count(addr string) int { f.mu.Lock(); defer f.mu.Unlock(); return f.probes[addr] }

// checked is a group with active health checks on a fake clock: probes
// every second, no jitter, thresholds 3 and 3 unless cfg says otherwise.
// It is a running group (group.Warm): its members need HealthyThreshold
// passes, as they would once the group's cold start is over, and are
// probed every Interval from the first probe on unless cfg.Health sets
// InitialInterval.
type checked struct {
	*group.Group
	clk   *fakeclock.Clock
	fleet *fleet
	rec   *recorder
}

func newChecked(t *testing.T, cfg group.Config, bs ...group.Backend) *checked {
	t.Helper()
	f := newFleet()
	if cfg.Health == nil {
		cfg.Health = &health.Config{}
	}
	cfg.Health.Probe = f
	if cfg.Health.Interval == 0 {
		cfg.Health.Interval = time.Second
	}
	cfg.Health.Timeout = cfg.Health.Interval
	cfg.Health.Jitter = health.NoJitter
	if cfg.Health.InitialInterval == 0 {
		cfg.Health.InitialInterval = cfg.Health.Interval
	}
	g, clk := newGroup(t, cfg)
	c := &checked{Group: g, clk: clk, fleet: f, rec: record(g)}
	group.Warm(g)
	require.NoError(t, g.Add(bs...))
	c.settle(t)
	return c
}

// settle fires what is due now and waits until every member has been
// probed at the clock's current time (with Config.Subset, every member of
// the subset: the others never are). A loaded machine or a large group
// only make it slower (see awaitProgress).
func (c *checked) settle(t *testing.T) {
	t.Helper()
	c.clk.Advance(0)
	now := c.clk.Now()
	unprobed := func() int {
		n := 0
		for _, b := range c.Stats().Backends {
			if b.State != health.Draining && !b.OutsideSubset && !b.LastCheck.Equal(now) {
				n++
			}
		}
		return n
	}
	awaitProgress(t, fmt.Sprintf("members not probed at %v", now), unprobed)
}

// awaitProgress waits until left returns 0. It fails on a stall, not on a
// time bound: only when left has not fallen for stallLimit. It calls left
// ever less often (up to every 10 ms): a left that reads Stats takes the
// group's lock for O(n), and must not slow the work it waits for.
func awaitProgress(t *testing.T, what string, left func() int) {
	t.Helper()
	n, progress, tick := left(), time.Now(), 100*time.Microsecond
	for n > 0 {
		time.Sleep(tick)
		tick = min(2*tick, 10*time.Millisecond)
		switch m := left(); {
		case m < n:
			n, progress = m, time.Now()
		case time.Since(progress) > stallLimit:
			t.Fatalf("%d %s, none fewer for %v", m, what, stallLimit)
		}
	}
}

// stallLimit is how long a wait on the group's own work (probes, their
// results) may see no progress before it fails: what only a bug, not a
// loaded machine, makes it wait for.
const stallLimit = 20 * time.Second

// step advances the clock by one probe interval and waits for the probes.
func (c *checked) step(t *testing.T, n int) {
	t.Helper()
	for range n {
		c.clk.Advance(time.Second)
		c.settle(t)
	}
}

func (c *checked) state(t *testing.T, id string) health.State {
	t.Helper()
	for _, b := range c.Stats().Backends {
		if b.ID == id {
			return b.State
		}
	}
	t.Fatalf("no backend %q", id)
	return 0
}

func TestNewBackendGetsNoTrafficBeforeHealthyThreshold(t *testing.T) {
	c := newChecked(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	// The first probe ran when a was added; two more are needed.
	for i := 1; i < health.DefaultHealthyThreshold; i++ {
		assert.Equal(t, health.Initial, c.state(t, "a"), "after %d probes", i)
		_, err := c.Pick(ctx, group.Request{})
		require.ErrorIs(t, err, group.ErrNoHealthyBackend, "after %d probes", i)
		c.step(t, 1)
	}
	assert.Equal(t, health.Healthy, c.state(t, "a"))
	p, err := c.Pick(ctx, group.Request{})
	require.NoError(t, err)
	assert.Equal(t, "a", p.ID())
	p.Done(nil)
	assert.Equal(t, 3, c.fleet.count("10.0.0.1:80"))

	evs := c.rec.await(t, func(evs []group.Event) bool { return evs[len(evs)-1].Type == group.EventStateChanged })
	last := evs[len(evs)-1]
	assert.Equal(t, health.Initial, last.From)
	assert.Equal(t, health.Healthy, last.State)
	assert.Equal(t, "health check passed", last.Reason)
}

// await waits until the events received so far satisfy done, and returns
// them. Events reach subscribers just after the change that caused them,
// from whichever goroutine made it (a probe's, here), so a test that sees
// a change in Stats may have to wait for its event.
func (r *recorder) await(t *testing.T, done func([]group.Event) bool) []group.Event {
	t.Helper()
	var evs []group.Event
	require.Eventually(t, func() bool { evs = r.all(); return len(evs) > 0 && done(evs) }, 5*time.Second, time.Millisecond)
	return evs
}

// typed returns the events of the given types, as "type:zone".
func typed(evs []group.Event, types ...group.EventType) []string {
	var out []string
	for _, e := range evs {
		if slices.Contains(types, e.Type) {
			out = append(out, e.Type.String()+":"+e.Zone)
		}
	}
	return out
}

func TestUnhealthyAfterThresholdAndBack(t *testing.T) {
	c := newChecked(t, group.Config{Algorithm: "round_robin"},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	c.step(t, 2)
	require.Equal(t, health.Healthy, c.state(t, "a"))

	// Two failures, then a success: the failure run is reset.
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 2)
	st := c.Stats().Backends[0]
	assert.Equal(t, health.Healthy, st.State)
	assert.Equal(t, 2, st.CheckFailures)
	assert.Equal(t, "connection refused", st.LastError)
	c.fleet.set("10.0.0.1:80", false)
	c.step(t, 1)
	assert.Equal(t, 0, c.Stats().Backends[0].CheckFailures)

	// Three failures in a row take a out; only b gets requests.
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 2)
	assert.Equal(t, health.Healthy, c.state(t, "a"))
	c.step(t, 1)
	assert.Equal(t, health.Unhealthy, c.state(t, "a"))
	assert.Equal(t, map[string]int{"b": 10}, counts(t, c.Group, 10))
	assert.Equal(t, 1, c.Stats().Available)

	// Two successes are not enough; the third brings it back.
	c.fleet.set("10.0.0.1:80", false)
	c.step(t, 2)
	assert.Equal(t, health.Unhealthy, c.state(t, "a"))
	c.step(t, 1)
	assert.Equal(t, health.Healthy, c.state(t, "a"))
	assert.Equal(t, map[string]int{"a": 5, "b": 5}, counts(t, c.Group, 10))
}

func TestThresholdsOfOne(t *testing.T) {
	c := newChecked(t, group.Config{Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	assert.Equal(t, health.Healthy, c.state(t, "a"), "one probe proves it")
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 1)
	assert.Equal(t, health.Unhealthy, c.state(t, "a"))
	_, err := c.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)
}

func TestRemovedBackendIsNoLongerProbed(t *testing.T) {
	c := newChecked(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	require.NoError(t, c.Remove("a"))
	before := c.fleet.count("10.0.0.1:80")
	c.step(t, 5)
	assert.Equal(t, before, c.fleet.count("10.0.0.1:80"))
	assert.Equal(t, before+5, c.fleet.count("10.0.0.2:80"))
}

// failUntilEjected fails requests on id until it is ejected.
func failUntilEjected(t *testing.T, g *group.Group, id string, run int) {
	t.Helper()
	failed := 0
	for i := 0; failed < run; i++ {
		require.Less(t, i, 100*run, "never picked %s", id)
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == id {
			failed++
			p.Done(errors.New("502"))
			continue
		}
		p.Done(nil)
	}
	group.CaughtUp(g) // the ejection is handed over to the group's goroutine
}

func TestOutlierEjectionBackoffAndCap(t *testing.T) {
	g, clk := newGroup(t, group.Config{Algorithm: "round_robin",
		Outlier: &health.OutlierConfig{MaxEjectionTime: 70 * time.Second, MaxEjectionPercent: 50}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	rec := record(g)

	// Four failures and a success: no ejection, the run starts over.
	failUntilEjected(t, g, "a", 4)
	for range 2 {
		p, _ := g.Pick(ctx, group.Request{})
		p.Done(nil)
	}
	require.Equal(t, health.Healthy, g.Stats().Backends[0].State)

	for i, want := range []time.Duration{30 * time.Second, 60 * time.Second, 70 * time.Second, 70 * time.Second} {
		failUntilEjected(t, g, "a", 5)
		st := g.Stats().Backends[0]
		require.Equal(t, health.Ejected, st.State, "ejection %d", i+1)
		assert.Equal(t, i+1, st.Ejections)
		assert.Equal(t, clk.Now().Add(want), st.EjectedUntil, "ejection %d", i+1)
		assert.Equal(t, map[string]int{"b": 4}, counts(t, g, 4))

		clk.Advance(want - time.Millisecond)
		require.Equal(t, health.Ejected, g.Stats().Backends[0].State)
		clk.Advance(time.Millisecond)
		require.Equal(t, health.Healthy, g.Stats().Backends[0].State, "back after %v", want)
	}
	evs := rec.all()
	var reasons []string
	for _, e := range evs {
		if e.Type == group.EventStateChanged && e.State == health.Ejected {
			reasons = append(reasons, e.Reason)
		}
	}
	assert.Equal(t, []string{
		"5 consecutive failed requests: ejected for 30s",
		"5 consecutive failed requests: ejected for 1m0s",
		"5 consecutive failed requests: ejected for 1m10s",
		"5 consecutive failed requests: ejected for 1m10s",
	}, reasons)

	// A backend that stays in the pick set long enough is forgiven: each
	// BaseEjectionTime takes one ejection off the count.
	clk.Advance(90 * time.Second)
	failUntilEjected(t, g, "a", 5)
	st := g.Stats().Backends[0]
	assert.Equal(t, 2, st.Ejections, "4 ejections, 3 forgiven, 1 new")
	assert.Equal(t, clk.Now().Add(60*time.Second), st.EjectedUntil)
}

func TestMaxEjectionPercent(t *testing.T) {
	bs := make([]group.Backend, 10)
	for i := range bs {
		bs[i] = group.Backend{ID: string(rune('a' + i)), Addr: fmt.Sprintf("10.0.0.%d:80", i+1)}
	}
	g, _ := newGroup(t, group.Config{Algorithm: "round_robin", Outlier: &health.OutlierConfig{}}, bs...)
	failUntilEjected(t, g, "a", 5)
	failUntilEjected(t, g, "b", 5) // 10% of 10 is one: b stays
	st := g.Stats()
	assert.Equal(t, health.Ejected, st.Backends[0].State)
	assert.Equal(t, health.Healthy, st.Backends[1].State)
	assert.Equal(t, uint32(0), st.Backends[1].FailedInRow, "a refused ejection starts a new run")
	assert.Equal(t, 9, st.Available)

	// With only two backends, 10% rounds to zero, but one may always go.
	g2, _ := newGroup(t, group.Config{Outlier: &health.OutlierConfig{}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	failUntilEjected(t, g2, "a", 5)
	assert.Equal(t, health.Ejected, g2.Stats().Backends[0].State)
}

func TestEjectedBackendMustPassActiveCheckToReturn(t *testing.T) {
	c := newChecked(t, group.Config{Algorithm: "round_robin", Outlier: &health.OutlierConfig{MaxEjectionPercent: 50}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	c.step(t, 2)
	failUntilEjected(t, c.Group, "a", 5)
	require.Equal(t, health.Ejected, c.state(t, "a"))

	// Probes pass during the ejection, but a stays out for 30s.
	c.step(t, 29)
	require.Equal(t, health.Ejected, c.state(t, "a"))
	// At the end, the active checks decide: this probe fails, so a needs
	// HealthyThreshold passes again.
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 1)
	require.Equal(t, health.Unhealthy, c.state(t, "a"))
	c.fleet.set("10.0.0.1:80", false)
	c.step(t, 2)
	require.Equal(t, health.Unhealthy, c.state(t, "a"))
	c.step(t, 1)
	require.Equal(t, health.Healthy, c.state(t, "a"))

	// Ejected again (60s): this time the probe at the end passes and a
	// returns at once.
	failUntilEjected(t, c.Group, "a", 5)
	c.step(t, 59)
	require.Equal(t, health.Ejected, c.state(t, "a"))
	c.step(t, 1)
	require.Equal(t, health.Healthy, c.state(t, "a"))
}

func TestSlowStartRamp(t *testing.T) {
	g, clk := newGroup(t, group.Config{SlowStart: &health.SlowStart{Window: 100 * time.Second}},
		group.Backend{ID: "old", Addr: "10.0.0.1:80", Weight: group.Weight(10)})
	clk.Advance(100 * time.Second) // old has ramped fully
	require.Equal(t, 10.0, g.Stats().Backends[0].EffectiveWeight)

	require.NoError(t, g.Add(group.Backend{ID: "new", Addr: "10.0.0.2:80", Weight: group.Weight(10)}))
	start := clk.Now()
	for _, step := range []struct {
		at   time.Duration
		want float64
	}{{0, 1}, {5 * time.Second, 1}, {10 * time.Second, 1}, {25 * time.Second, 2.5}, {50 * time.Second, 5}, {99 * time.Second, 9.9}, {100 * time.Second, 10}, {200 * time.Second, 10}} {
		clk.Set(start.Add(step.at))
		assert.InDelta(t, step.want, g.Stats().Backends[1].EffectiveWeight, 1e-9, "at %v", step.at)
	}
	assert.Equal(t, 0, clk.Pending(), "the ramp timer stops when nothing ramps")

	// Mid-ramp, the shares follow the ramped weights.
	require.NoError(t, g.Add(group.Backend{ID: "newer", Addr: "10.0.0.3:80", Weight: group.Weight(10)}))
	clk.Advance(50 * time.Second)
	got := counts(t, g, 2500) // weights 1000 : 500 (percent-scaled)
	assert.Equal(t, map[string]int{"old": 1000, "new": 1000, "newer": 500}, got)
}

func TestSlowStartAgainAfterUnhealthy(t *testing.T) {
	c := newChecked(t, group.Config{Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1},
		SlowStart: &health.SlowStart{Window: 30 * time.Second, MinWeightPercent: 20}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(50)})
	assert.Equal(t, 10.0, c.Stats().Backends[0].EffectiveWeight, "20% of 50 when it became healthy")
	c.step(t, 30)
	assert.Equal(t, 50.0, c.Stats().Backends[0].EffectiveWeight)
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 1)
	c.fleet.set("10.0.0.1:80", false)
	c.step(t, 1)
	assert.Equal(t, health.Healthy, c.state(t, "a"))
	assert.Equal(t, 10.0, c.Stats().Backends[0].EffectiveWeight, "the ramp starts over")
}

func TestZoneFailoverAndFallback(t *testing.T) {
	c := newChecked(t, group.Config{LocalZone: "az1", Algorithm: "round_robin",
		Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}},
		group.Backend{ID: "a1", Addr: "10.0.1.1:80", Zone: "az1"},
		group.Backend{ID: "a2", Addr: "10.0.1.2:80", Zone: "az1"},
		group.Backend{ID: "b1", Addr: "10.0.2.1:80", Zone: "az2"})
	st := c.Stats()
	assert.Equal(t, "az1", st.RouteZone)
	assert.Equal(t, []group.ZoneStats{{Zone: "az1", Backends: 2, Healthy: 2}, {Zone: "az2", Backends: 1, Healthy: 1}}, st.Zones)
	assert.Equal(t, map[string]int{"a1": 3, "a2": 3}, counts(t, c.Group, 6))

	// One of az1 down: az1 still has a healthy backend, picks stay there.
	c.fleet.set("10.0.1.1:80", true)
	c.step(t, 1)
	assert.Equal(t, map[string]int{"a2": 4}, counts(t, c.Group, 4))

	// Both down: fail over to az2, and the zone is reported down.
	c.fleet.set("10.0.1.2:80", true)
	c.step(t, 1)
	st = c.Stats()
	assert.Equal(t, "", st.RouteZone)
	assert.Equal(t, group.ZoneStats{Zone: "az1", Backends: 2, Healthy: 0}, st.Zones[0])
	assert.Equal(t, map[string]int{"b1": 4}, counts(t, c.Group, 4))

	// Back: picks return to az1.
	c.fleet.set("10.0.1.1:80", false)
	c.step(t, 1)
	assert.Equal(t, "az1", c.Stats().RouteZone)
	assert.Equal(t, map[string]int{"a1": 4}, counts(t, c.Group, 4))

	want := []string{"zone_down:az1", "zone_up:az1"}
	c.rec.await(t, func(evs []group.Event) bool {
		return len(typed(evs, group.EventZoneDown, group.EventZoneUp)) >= len(want)
	})
	assert.Equal(t, want, typed(c.rec.all(), group.EventZoneDown, group.EventZoneUp))
}

func TestLocalZoneMinHealthy(t *testing.T) {
	c := newChecked(t, group.Config{LocalZone: "az1", LocalZoneMinHealthy: 60, Algorithm: "round_robin",
		Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}},
		group.Backend{ID: "a1", Addr: "10.0.1.1:80", Zone: "az1"},
		group.Backend{ID: "a2", Addr: "10.0.1.2:80", Zone: "az1"},
		group.Backend{ID: "b1", Addr: "10.0.2.1:80", Zone: "az2"})
	assert.Equal(t, "az1", c.Stats().RouteZone)
	c.fleet.set("10.0.1.1:80", true)
	c.step(t, 1)
	// 1 of 2 healthy is 50% < 60%: spread over the healthy backends of
	// every zone.
	assert.Equal(t, "", c.Stats().RouteZone)
	assert.Equal(t, map[string]int{"a2": 2, "b1": 2}, counts(t, c.Group, 4))
}

func TestPanicMode(t *testing.T) {
	bs := []group.Backend{
		{ID: "a", Addr: "10.0.0.1:80"}, {ID: "b", Addr: "10.0.0.2:80"},
		{ID: "c", Addr: "10.0.0.3:80"}, {ID: "d", Addr: "10.0.0.4:80", Weight: group.Weight(0)},
	}
	hc := health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}
	c := newChecked(t, group.Config{Algorithm: "round_robin", PanicThreshold: 50, Health: &hc}, bs...)
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 1)
	// 2 of 3 weighted backends healthy (67%): no panic.
	assert.False(t, c.Stats().Panic)
	assert.Equal(t, map[string]int{"b": 2, "c": 2}, counts(t, c.Group, 4))

	c.fleet.set("10.0.0.2:80", true)
	c.step(t, 1)
	// 1 of 3 (33%) < 50%: every weighted backend takes requests.
	st := c.Stats()
	assert.True(t, st.Panic)
	assert.Equal(t, 3, st.Available)
	assert.Equal(t, map[string]int{"a": 2, "b": 2, "c": 2}, counts(t, c.Group, 6))

	c.fleet.set("10.0.0.1:80", false)
	c.step(t, 1)
	assert.False(t, c.Stats().Panic)

	want := []string{"panic:", "panic_end:"}
	c.rec.await(t, func(evs []group.Event) bool {
		return len(typed(evs, group.EventPanic, group.EventPanicEnd)) >= len(want)
	})
	assert.Equal(t, want, typed(c.rec.all(), group.EventPanic, group.EventPanicEnd))

	// Panic off: nothing healthy is a typed error.
	c2 := newChecked(t, group.Config{Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}}, bs[:2]...)
	c2.fleet.set("10.0.0.1:80", true)
	c2.fleet.set("10.0.0.2:80", true)
	c2.step(t, 1)
	_, err := c2.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)
	assert.False(t, c2.Stats().Panic)
}

func TestHealthConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg   group.Config
		field string
	}{
		{group.Config{Health: &health.Config{Probe: newFleet(), Interval: time.Minute}}, "Health.Interval"},
		{group.Config{Health: &health.Config{Probe: newFleet(), Interval: 2 * time.Second, Timeout: 3 * time.Second}}, "Health.Timeout"},
		{group.Config{Health: &health.Config{Probe: newFleet(), HealthyThreshold: 11}}, "Health.HealthyThreshold"},
		{group.Config{Health: &health.Config{Probe: newFleet(), UnhealthyThreshold: -1}}, "Health.UnhealthyThreshold"},
		{group.Config{Health: &health.Config{}}, "Health.Probe"},
		{group.Config{Outlier: &health.OutlierConfig{MaxEjectionPercent: 101}}, "Outlier.MaxEjectionPercent"},
		{group.Config{SlowStart: &health.SlowStart{Window: 10 * time.Second}}, "SlowStart.Window"},
	} {
		_, err := group.New(tc.cfg)
		require.Error(t, err, tc.field)
		assert.ErrorIs(t, err, group.ErrInvalidConfig, tc.field)
		assert.ErrorIs(t, err, elb.ErrInvalidConfig, tc.field)
		var ce *elb.ConfigError
		if assert.ErrorAs(t, err, &ce, tc.field) {
			assert.Equal(t, tc.field, ce.Field)
		}
	}
	for _, cfg := range []group.Config{{PanicThreshold: 101}, {LocalZoneMinHealthy: -1}} {
		_, err := group.New(cfg)
		assert.ErrorIs(t, err, group.ErrInvalidConfig)
	}
}

func TestCloseStopsProbing(t *testing.T) {
	before := runtime.NumGoroutine()
	f := newFleet()
	g, err := group.New(group.Config{Health: &health.Config{Probe: f, Interval: time.Second}})
	require.NoError(t, err)
	for i := range 50 {
		require.NoError(t, g.Add(group.Backend{Addr: fmt.Sprintf("10.0.0.%d:80", i+1)}))
	}
	require.Eventually(t, func() bool { return f.count("10.0.0.1:80") > 0 }, 5*time.Second, time.Millisecond)
	require.NoError(t, g.Close(ctx))
	// Close waits for the probes; the goroutines that ran them may take a
	// moment to exit.
	for i := 0; runtime.NumGoroutine() > before && i < 5000; i++ {
		time.Sleep(time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), before, "goroutines left after Close")
}

func TestEjectionRecheckIgnoresAProbeBegunBefore(t *testing.T) {
	var calls atomic.Int32
	gate := make(chan struct{})
	probe := health.ProbeFunc(func(ctx context.Context, _ string) error {
		switch calls.Add(1) {
		case 1:
			return nil
		case 2: // begins before the ejection, ends after it: passes
			<-gate
			return nil
		}
		return errors.New("still broken") // the recheck
	})
	g, clk := newGroup(t, group.Config{
		Health:  &health.Config{Probe: probe, Interval: 5 * time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1, Jitter: health.NoJitter},
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 1, BaseEjectionTime: time.Second, MaxEjectionPercent: 100},
	}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	start := clk.Now()
	require.Eventually(t, func() bool { return g.Stats().Backends[0].State == health.Healthy }, 5*time.Second, time.Millisecond)

	clk.Advance(5 * time.Second) // probe 2 begins and hangs
	require.Eventually(t, func() bool { return calls.Load() == 2 }, 5*time.Second, time.Millisecond)
	p, err := g.Pick(ctx, group.Request{})
	require.NoError(t, err)
	p.Done(errors.New("reset")) // ejected for 1s
	require.Equal(t, health.Ejected, g.Stats().Backends[0].State)
	clk.Advance(time.Second) // the ejection ends: the recheck is asked for
	require.Equal(t, health.Unhealthy, g.Stats().Backends[0].State)

	close(gate) // probe 2 passes, but it began during the ejection
	require.Eventually(t, func() bool { return calls.Load() == 3 }, 5*time.Second, time.Millisecond, "a recheck follows")
	require.Eventually(t, func() bool { return g.Stats().Backends[0].LastCheck.Equal(start.Add(6 * time.Second)) }, 5*time.Second, time.Millisecond)
	st := g.Stats().Backends[0]
	assert.Equal(t, health.Unhealthy, st.State, "the recheck failed")
	assert.Equal(t, "still broken", st.LastError)
}
