package group_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

func TestAwaitReady(t *testing.T) {
	g, _ := newGroup(t, group.AwaitReady(group.Config{Algorithm: "round_robin"}))
	rec := record(g)
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"}))
	st := g.Stats()
	assert.Equal(t, health.Initial, st.Backends[0].State, "a new member waits to be reached")
	assert.Equal(t, "not connected yet", st.Backends[0].Unreachable)
	_, err := g.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)

	assert.Zero(t, g.Available())
	require.NoError(t, group.SetReady(g, "a", true, ""))
	assert.Equal(t, 1, g.Available())
	assert.Equal(t, map[string]int{"a": 4}, counts(t, g, 4))
	require.NoError(t, group.SetReady(g, "b", true, "connected"))
	assert.Equal(t, map[string]int{"a": 2, "b": 2}, counts(t, g, 4))
	assert.Empty(t, g.Stats().Backends[1].Unreachable)

	require.NoError(t, group.SetReady(g, "a", false, "connection TRANSIENT_FAILURE: refused"))
	st = g.Stats()
	assert.Equal(t, health.Unhealthy, st.Backends[0].State, "once reached, losing it is unhealthy")
	assert.Equal(t, "connection TRANSIENT_FAILURE: refused", st.Backends[0].Unreachable)
	assert.Equal(t, map[string]int{"b": 4}, counts(t, g, 4))
	require.NoError(t, group.SetReady(g, "a", false, "connection CONNECTING"), "the same state again")
	assert.Equal(t, "connection CONNECTING", g.Stats().Backends[0].Unreachable, "a newer reason")

	evs := rec.await(t, func(evs []group.Event) bool {
		return len(typed(evs, group.EventStateChanged)) == 3
	})
	var reasons []string
	for _, e := range evs {
		if e.Type == group.EventStateChanged {
			reasons = append(reasons, fmt.Sprintf("%s %v->%v %s", e.Backend.ID, e.From, e.State, e.Reason))
		}
	}
	assert.Equal(t, []string{
		"a initial->healthy ready",
		"b initial->healthy connected",
		"a healthy->unhealthy connection TRANSIENT_FAILURE: refused",
	}, reasons)
}

func TestSetReadyErrors(t *testing.T) {
	g, _ := newGroup(t, group.Config{})
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
	assert.ErrorIs(t, group.SetReady(g, "a", true, ""), group.ErrInvalidConfig, "needs AwaitReady")

	g2, _ := newGroup(t, group.AwaitReady(group.Config{}))
	assert.ErrorIs(t, group.SetReady(g2, "nope", true, ""), group.ErrUnknownBackend)
	require.NoError(t, g2.Close(context.Background()))
	assert.ErrorIs(t, group.SetReady(g2, "nope", true, ""), group.ErrClosed)
}

func TestPanicNeverPicksUnreachable(t *testing.T) {
	c := newChecked(t, group.AwaitReady(group.Config{PanicThreshold: 100, Algorithm: "round_robin"}),
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	require.NoError(t, group.SetReady(c.Group, "a", true, ""))
	require.NoError(t, group.SetReady(c.Group, "b", true, ""))
	// Each SetReady checks at once, at the time of the first probes, so
	// settle cannot tell these checks from those; and if the clock moved
	// while one ran, its next probe would be scheduled an interval late.
	// Their second passed probe in a row shows them reported, and the
	// checker schedules the next probe before it reports.
	require.Eventually(t, func() bool {
		st := c.Stats()
		return st.Backends[0].CheckSuccesses == 2 && st.Backends[1].CheckSuccesses == 2
	}, 10*time.Second, time.Millisecond, "the checks SetReady asked for")
	c.step(t, 2)
	require.Equal(t, health.Healthy, c.state(t, "a"))
	require.NoError(t, group.SetReady(c.Group, "b", false, "gone"))
	c.fleet.set("10.0.0.1:80", true)
	c.step(t, 3)
	require.Equal(t, health.Unhealthy, c.state(t, "a"))
	st := c.Stats()
	require.True(t, st.Panic, "nothing is healthy")
	assert.Equal(t, map[string]int{"a": 4}, counts(t, c.Group, 4), "panic uses the unhealthy but reachable member only")
}

func TestSkippedProbesLeaveTheStateAlone(t *testing.T) {
	skip := true
	c := newChecked(t, group.Config{Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	require.Equal(t, health.Healthy, c.state(t, "a"))
	c.fleet.mu.Lock()
	c.fleet.skip = &skip
	c.fleet.mu.Unlock()
	for i := range 3 {
		// The next probe is scheduled only once the last one has ended,
		// which a skipped probe does not show: a single Advance may come
		// before it is scheduled and fire nothing. So move the clock an
		// interval at a time until the probe runs.
		n := c.fleet.count("10.0.0.1:80")
		require.Eventually(t, func() bool {
			c.clk.Advance(time.Second)
			return c.fleet.count("10.0.0.1:80") > n
		}, 10*time.Second, time.Millisecond, "probe %d", i)
	}
	assert.Equal(t, health.Healthy, c.state(t, "a"), "skipped probes count neither way")
	assert.Empty(t, c.Stats().Backends[0].LastError)
}

func TestReadyChecksAtOnce(t *testing.T) {
	c := newChecked(t, group.AwaitReady(group.Config{Health: &health.Config{Interval: 10 * time.Second, HealthyThreshold: 1}}),
		group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	n := c.fleet.count("10.0.0.1:80")
	require.NoError(t, group.SetReady(c.Group, "a", true, ""))
	require.Eventually(t, func() bool { return c.fleet.count("10.0.0.1:80") == n+1 }, 5*time.Second, time.Millisecond,
		"a connection that comes up is checked without waiting for the interval")
	require.Eventually(t, func() bool { return c.state(t, "a") == health.Healthy }, 5*time.Second, time.Millisecond)
}
