package group_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/fakeclock"
	"github.com/go-elb/elb/sticky"
)

// gate is a Prober whose every probe waits for the test's answer.
type gate struct{ calls chan gateCall }

type gateCall struct {
	addr  string
	reply chan error
}

func (g *gate) Probe(ctx context.Context, addr string) error {
	c := gateCall{addr: addr, reply: make(chan error, 1)}
	select {
	case g.calls <- c:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// next returns the next probe waiting for its answer.
func (g *gate) next(t *testing.T) gateCall {
	t.Helper()
	select {
	case c := <-g.calls:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no probe")
		return gateCall{}
	}
}

// newGated is a group that waits (Config.FailFast false), on a fake clock,
// whose probes wait for the test: every health setting is the default but
// cfg.Health's thresholds, and no jitter.
func newGated(t *testing.T, cfg group.Config) (*group.Group, *gate) {
	g, gt, _ := newGatedClock(t, cfg)
	return g, gt
}

// newGatedClock is newGated that returns the clock as well.
func newGatedClock(t *testing.T, cfg group.Config) (*group.Group, *gate, *fakeclock.Clock) {
	t.Helper()
	gt := &gate{calls: make(chan gateCall, 64)}
	hc := health.Config{Jitter: health.NoJitter}
	if cfg.Health != nil {
		hc.HealthyThreshold, hc.UnhealthyThreshold = cfg.Health.HealthyThreshold, cfg.Health.UnhealthyThreshold
	}
	hc.Probe = gt
	cfg.Health = &hc
	g, clk := newWaitingGroup(t, cfg)
	return g, gt, clk
}

// waiters waits until n Picks or WaitReadys wait on g.
func waiters(t *testing.T, g *group.Group, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return group.Waiting(g) == n }, 5*time.Second, time.Millisecond, "%d waiting", n)
}

// shortCtx is a context that ends soon: for the waits that must end with it.
func shortCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}

// longCtx bounds a wait that must end by itself, so that a wrong wait
// fails the test rather than hang it.
func longCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type picked struct {
	p   group.Pick
	err error
}

func TestPickWaitsForFirstHealthChecks(t *testing.T) {
	g, gt := newGated(t, group.Config{Name: "orders", Health: &health.Config{UnhealthyThreshold: 1}})
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"},
		group.Backend{ID: "b", Addr: "10.0.0.2:80"}, group.Backend{ID: "c", Addr: "10.0.0.3:80"}))
	probes := map[string]gateCall{}
	for range 3 {
		c := gt.next(t) // the first probes run at once
		probes[c.addr] = c
	}

	_, err := g.Pick(shortCtx(t), group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Regexp(t, `^elb: group "orders": no healthy backend \(waited \d+ms: context deadline exceeded\): 3 members: 3 initial \(awaiting first health check\)$`, err.Error())
	var ge *group.GroupError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, "3 members: 3 initial (awaiting first health check)", ge.Problem)

	done := make(chan picked, 1)
	go func() { p, err := g.Pick(longCtx(t), group.Request{}); done <- picked{p, err} }()
	waiters(t, g, 1)
	probes["10.0.0.2:80"].reply <- errors.New("connection refused")
	require.Eventually(t, func() bool { return backendStats(t, g, "b").State == health.Unhealthy }, 5*time.Second, time.Millisecond)
	// The rebuild woke the Pick, which found a and c still initial and
	// waits on.
	waiters(t, g, 1)
	assert.Empty(t, done)
	probes["10.0.0.1:80"].reply <- nil // a cold start: one pass admits a
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, "a", r.p.ID())
	r.p.Done(nil)
	assert.Zero(t, group.Waiting(g))
	probes["10.0.0.3:80"].reply <- nil
}

func TestFailFastFailsAtOnce(t *testing.T) {
	g, gt := newGated(t, group.Config{Name: "orders", FailFast: true})
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
	c := gt.next(t)
	_, err := g.Pick(longCtx(t), group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, `elb: group "orders": no healthy backend: 1 member: 1 initial (awaiting first health check)`, err.Error())
	c.reply <- nil
}

func TestPickDoesNotWaitForWhatIsJudged(t *testing.T) {
	t.Run("unhealthy", func(t *testing.T) {
		g, gt := newGated(t, group.Config{Name: "orders", Health: &health.Config{UnhealthyThreshold: 1}})
		require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"}))
		for range 2 {
			gt.next(t).reply <- errors.New("connection refused")
		}
		require.Eventually(t, func() bool {
			return backendStats(t, g, "a").State == health.Unhealthy && backendStats(t, g, "b").State == health.Unhealthy
		}, 5*time.Second, time.Millisecond)
		_, err := g.Pick(longCtx(t), group.Request{})
		require.ErrorIs(t, err, group.ErrNoHealthyBackend)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, `elb: group "orders": no healthy backend: 2 members: 2 unhealthy (a: connection refused)`, err.Error())
	})
	t.Run("weight 0", func(t *testing.T) {
		g, _ := newWaitingGroup(t, group.Config{Name: "orders"}, group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(0)})
		_, err := g.Pick(longCtx(t), group.Request{})
		require.ErrorIs(t, err, group.ErrNoAvailableBackend)
		assert.NotErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("empty and draining", func(t *testing.T) {
		g, _ := newWaitingGroup(t, group.Config{Name: "orders"})
		_, err := g.Pick(longCtx(t), group.Request{})
		require.ErrorIs(t, err, group.ErrNoBackends)
		assert.Equal(t, `elb: group "orders": no backends`, err.Error())
		require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		require.NoError(t, g.Remove("a"))
		_, err = g.Pick(longCtx(t), group.Request{})
		require.ErrorIs(t, err, group.ErrNoBackends)
		assert.Equal(t, `elb: group "orders": no backends`, err.Error(), "a draining backend is no member")
		p.Done(nil)
	})
	t.Run("closed", func(t *testing.T) {
		g, _ := newWaitingGroup(t, group.Config{Name: "orders"})
		require.NoError(t, g.Close(ctx))
		_, err := g.Pick(longCtx(t), group.Request{})
		require.ErrorIs(t, err, group.ErrClosed)
		require.ErrorIs(t, g.WaitReady(longCtx(t)), group.ErrClosed)
	})
	t.Run("await ready", func(t *testing.T) {
		// An adapter that reports readiness queues requests itself.
		g, _ := newWaitingGroup(t, group.AwaitReady(group.Config{Name: "orders"}), group.Backend{ID: "a", Addr: "10.0.0.1:80"})
		_, err := g.Pick(longCtx(t), group.Request{})
		require.ErrorIs(t, err, group.ErrNoHealthyBackend)
		assert.Equal(t, `elb: group "orders": no healthy backend: 1 member: 1 not ready (not reached by the adapter)`, err.Error())
	})
}

func TestNoHealthyBackendCountsByReason(t *testing.T) {
	c := newChecked(t, group.Config{Name: "orders", Algorithm: "round_robin", Outlier: &health.OutlierConfig{ConsecutiveFailures: 1, MaxEjectionPercent: 100}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"},
		group.Backend{ID: "w", Addr: "10.0.0.3:80", Weight: group.Weight(0)}, group.Backend{ID: "e", Addr: "10.0.0.4:80"})
	c.fleet.set("10.0.0.2:80", true)
	c.step(t, 3) // a and e healthy, b unhealthy
	require.Equal(t, health.Unhealthy, c.state(t, "b"))
	held := pickUntil(t, c.Group, "e")
	require.NoError(t, c.Remove("e")) // draining with a request in flight
	p := pickUntil(t, c.Group, "a")
	p.Done(errors.New("boom")) // ejects a
	require.NoError(t, c.Add(group.Backend{ID: "n", Addr: "10.0.0.5:80"}))
	c.settle(t) // n: one pass of three
	_, err := c.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)
	assert.Equal(t, `elb: group "orders": no healthy backend: 4 members: 1 initial (awaiting first health check), 1 unhealthy (b: connection refused), 1 ejected, 1 weight 0`, err.Error())
	held.Done(nil)
}

// pickUntil picks until it gets id (at most 10 picks), ending the others.
func pickUntil(t *testing.T, g *group.Group, id string) group.Pick {
	t.Helper()
	for range 10 {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == id {
			return p
		}
		p.Done(nil)
	}
	t.Fatalf("no pick of %s", id)
	return group.Pick{}
}

func TestCloseWakesWaiters(t *testing.T) {
	g, gt := newGated(t, group.Config{Name: "orders", Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}})
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
	gt.next(t) // never answered: Close cancels it
	calls := []func() error{
		func() error { _, err := g.Pick(context.Background(), group.Request{}); return err },
		func() error { _, err := g.Pick(context.Background(), group.Request{Affinity: "u1"}); return err },
		func() error {
			var tr group.Tried
			_, err := g.Repick(context.Background(), group.Request{}, &tr)
			return err
		},
		func() error { return g.WaitReady(context.Background()) },
	}
	errs := make(chan error, len(calls))
	for _, f := range calls {
		go func() { errs <- f() }()
	}
	waiters(t, g, len(calls))
	require.NoError(t, g.Close(longCtx(t)))
	for range calls {
		select {
		case err := <-errs:
			assert.ErrorIs(t, err, group.ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter was not woken by Close")
		}
	}
}

func TestStickyAndRepickWaitThenPick(t *testing.T) {
	g, gt := newGated(t, group.Config{Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}})
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
	probe := gt.next(t)
	done := make(chan picked, 2)
	go func() { p, err := g.Pick(longCtx(t), group.Request{Affinity: "u1"}); done <- picked{p, err} }()
	go func() {
		var tr group.Tried
		p, err := g.Repick(longCtx(t), group.Request{}, &tr)
		done <- picked{p, err}
	}()
	waiters(t, g, 2)
	probe.reply <- nil
	for range 2 {
		r := <-done
		require.NoError(t, r.err)
		assert.Equal(t, "a", r.p.ID())
		r.p.Done(nil)
	}
}

func TestWaitReady(t *testing.T) {
	t.Run("ready", func(t *testing.T) {
		g, _ := newWaitingGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
		require.NoError(t, g.WaitReady(longCtx(t)))
	})
	t.Run("first checks, then unhealthy and back", func(t *testing.T) {
		g, gt, clk := newGatedClock(t, group.Config{Name: "orders", FailFast: true, // WaitReady ignores it
			Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}})
		require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
		probe := gt.next(t)
		err := g.WaitReady(shortCtx(t))
		require.ErrorIs(t, err, group.ErrNoHealthyBackend)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "1 member: 1 initial (awaiting first health check)")

		probe.reply <- errors.New("connection refused")
		require.Eventually(t, func() bool { return backendStats(t, g, "a").State == health.Unhealthy }, 5*time.Second, time.Millisecond)
		err = g.WaitReady(shortCtx(t))
		require.ErrorIs(t, err, context.DeadlineExceeded, "WaitReady waits through unhealthy members: they may recover")
		assert.Contains(t, err.Error(), "1 member: 1 unhealthy")

		done := make(chan error, 1)
		go func() { done <- g.WaitReady(longCtx(t)) }()
		waiters(t, g, 1)
		clk.Advance(health.DefaultInterval)
		gt.next(t).reply <- nil
		require.NoError(t, <-done)
		assert.Equal(t, 1, g.Available())
	})
}

func TestColdStartAdmitsOnOnePassWarmAddNeedsThreshold(t *testing.T) {
	f := newFleet()
	g, clk := newWaitingGroup(t, group.Config{Algorithm: "round_robin", Health: &health.Config{Probe: f, Jitter: health.NoJitter}})
	c := &checked{Group: g, clk: clk, fleet: f, rec: record(g)}
	// Defaults: Interval 5s, InitialInterval 1s, thresholds 3 and 3.
	// Results are applied in batches, one rebuild each (see onProbe), so a
	// cold start of n members costs far fewer than n O(n) rebuilds.
	sizes := []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000}
	if raceEnabled {
		sizes = sizes[:len(sizes)-1] // 10000: seconds under -race; .ci/run runs it without
	}
	for _, n := range sizes {
		t.Run(fmt.Sprint("cold n=", n), func(t *testing.T) {
			f2 := newFleet()
			g2, clk2 := newWaitingGroup(t, group.Config{Health: &health.Config{Probe: f2, Jitter: health.NoJitter}})
			c2 := &checked{Group: g2, clk: clk2, fleet: f2}
			var bs []group.Backend
			for i := range n {
				bs = append(bs, group.Backend{ID: fmt.Sprint("m", i), Addr: fmt.Sprintf("10.1.%d.%d:80", i/250, i%250+1)})
			}
			require.NoError(t, g2.Add(bs...))
			c2.settle(t) // the first probes, at once
			assert.Equal(t, n, g2.Available(), "a cold start admits each member on its first passed probe")
		})
	}

	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"}))
	c.settle(t)
	assert.Equal(t, health.Healthy, c.state(t, "a"))
	assert.Equal(t, health.Healthy, c.state(t, "b"))

	// A member added to a running group is checked HealthyThreshold times,
	// InitialInterval apart, before it gets traffic.
	require.NoError(t, g.Add(group.Backend{ID: "n", Addr: "10.0.0.3:80"}))
	c.settle(t)
	for i := 1; i < health.DefaultHealthyThreshold; i++ {
		assert.Equal(t, health.Initial, c.state(t, "n"), "after %d passes", i)
		assert.NotContains(t, counts(t, g, 10), "n")
		c.clk.Advance(health.DefaultInitialInterval)
		c.settle(t)
	}
	assert.Equal(t, health.Healthy, c.state(t, "n"))
	assert.Equal(t, health.DefaultHealthyThreshold, f.count("10.0.0.3:80"))
	assert.Contains(t, counts(t, g, 10), "n")

	// Judged: the next probe is an Interval later.
	c.clk.Advance(health.DefaultInterval - time.Second)
	assert.Equal(t, health.DefaultHealthyThreshold, f.count("10.0.0.3:80"))
	c.clk.Advance(time.Second)
	c.settle(t)
	assert.Equal(t, health.DefaultHealthyThreshold+1, f.count("10.0.0.3:80"))

	// Once the group has served, a new member waits its threshold even if
	// nothing else is left, and Pick waits for it.
	require.NoError(t, g.Remove("a", "b", "n"))
	require.NoError(t, g.Add(group.Backend{ID: "z", Addr: "10.0.0.9:80"}))
	c.settle(t)
	_, err := g.Pick(shortCtx(t), group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var got atomic.Value
	go func() { p, err := g.Pick(longCtx(t), group.Request{}); got.Store(picked{p, err}); p.Done(nil) }()
	waiters(t, g, 1)
	c.clk.Advance(health.DefaultInitialInterval)
	c.settle(t)
	c.clk.Advance(health.DefaultInitialInterval)
	require.Eventually(t, func() bool { return got.Load() != nil }, 5*time.Second, time.Millisecond)
	r := got.Load().(picked)
	require.NoError(t, r.err)
	assert.Equal(t, "z", r.p.ID())
}

func TestSyncFirstUpdateWaits(t *testing.T) {
	g, _ := newWaitingGroup(t, group.Config{Name: "orders"})
	var applied atomic.Int32
	s := startSync(t, g, group.SyncConfig{OnApplied: func() { applied.Add(1) }})
	require.Equal(t, 1, group.SourcesPending(g))

	_, err := g.Pick(shortCtx(t), group.Request{})
	require.ErrorIs(t, err, group.ErrNoBackends)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Regexp(t, `^elb: group "orders": no backends \(waited \d+ms: context deadline exceeded\): waiting for the first update of its source \(Sync\)$`, err.Error())

	s.fail(t, errors.New("open backends.json: no such file or directory"))
	_, err = g.Pick(shortCtx(t), group.Request{})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "the source's last error: open backends.json: no such file or directory")

	done := make(chan picked, 1)
	go func() { p, err := g.Pick(longCtx(t), group.Request{}); done <- picked{p, err} }()
	waiters(t, g, 1)
	s.clk.Advance(time.Minute) // past the backoff
	s.src.await(t)
	s.apply(t, group.SourceUpdate{Full: true, Backends: []group.Backend{{ID: "a", Addr: "10.0.0.1:80"}}})
	r := <-done
	require.NoError(t, r.err)
	assert.Equal(t, "a", r.p.ID())
	r.p.Done(nil)
	assert.Equal(t, int32(1), applied.Load())
	assert.Zero(t, group.SourcesPending(g))

	// A Sync that ends before its first update leaves nothing to wait for.
	g2, _ := newWaitingGroup(t, group.Config{Name: "other"})
	s2 := startSync(t, g2, group.SyncConfig{})
	s2.cancel()
	<-s2.done
	s2.done <- nil // for the cleanup
	require.Zero(t, group.SourcesPending(g2))
	_, err = g2.Pick(longCtx(t), group.Request{})
	require.ErrorIs(t, err, group.ErrNoBackends)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}
