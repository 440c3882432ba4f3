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
)

// EjectionsTotal counts every ejection, where Ejections decays, and the
// group's total keeps a backend's ejections after it leaves.
func TestEjectionsTotalNeverFalls(t *testing.T) {
	g, clk := newGroup(t, group.Config{Algorithm: "round_robin",
		Outlier: &health.OutlierConfig{MaxEjectionPercent: 50}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	for i := range 3 {
		failUntilEjected(t, g, "a", 5)
		st := g.Stats()
		require.Equal(t, health.Ejected, st.Backends[0].State)
		assert.Equal(t, uint64(i+1), st.Backends[0].EjectionsTotal)
		assert.Equal(t, uint64(i+1), st.EjectionsTotal)
		clk.Advance(st.Backends[0].EjectedUntil.Sub(clk.Now()))
	}
	clk.Advance(10 * time.Minute) // every ejection forgiven
	st := g.Stats()
	assert.Equal(t, 0, st.Backends[0].Ejections, "the decaying count")
	assert.Equal(t, uint64(3), st.Backends[0].EjectionsTotal, "the counter")
	assert.Equal(t, uint64(0), st.Backends[1].EjectionsTotal)

	require.NoError(t, g.Remove("a"))
	st = g.Stats()
	require.Len(t, st.Backends, 1, "a drained at once: nothing in flight")
	assert.Equal(t, uint64(3), st.EjectionsTotal, "a's ejections stay in the group's total")
}

// ChecksPassed, ChecksFailed and CheckTime count the probe results and
// their durations; skipped probes count in none of them, and the group's
// totals keep a removed backend's results.
func TestCheckCounters(t *testing.T) {
	var fail, skip atomic.Bool
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	probe := health.ProbeFunc(func(context.Context, string) error {
		clk.Advance(7 * time.Millisecond) // the probe's duration, on the fake clock
		switch {
		case skip.Load():
			return health.ErrSkipped
		case fail.Load():
			return errors.New("connection refused")
		}
		return nil
	})
	g, _ := newGroup(t, group.Config{Clock: clk, Health: &health.Config{Probe: probe, Interval: time.Second,
		InitialInterval: time.Second, Timeout: time.Second, Jitter: health.NoJitter}})
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
	probed := func(n uint64) func() bool {
		return func() bool {
			b := g.Stats().Backends[0]
			return b.ChecksPassed+b.ChecksFailed == n
		}
	}
	require.Eventually(t, probed(1), 5*time.Second, time.Millisecond)
	// pass, fail, fail, skipped, pass: each probe is scheduled once the
	// one before has been reported, so the last one counted means the
	// skipped one was reported (and not counted) before it.
	want := uint64(1)
	for _, s := range []struct{ fail, skip bool }{{false, false}, {true, false}, {true, false}, {false, true}, {false, false}} {
		fail.Store(s.fail)
		skip.Store(s.skip)
		clk.Advance(time.Second)
		if !s.skip {
			want++
			require.Eventually(t, probed(want), 5*time.Second, time.Millisecond, "probe %d", want)
		}
	}

	st := g.Stats()
	b := st.Backends[0]
	assert.Equal(t, uint64(3), b.ChecksPassed)
	assert.Equal(t, uint64(2), b.ChecksFailed)
	assert.Equal(t, 5*7*time.Millisecond, b.CheckTime, "the skipped probe not counted")
	assert.Equal(t, uint64(3), st.ChecksPassed)
	assert.Equal(t, uint64(2), st.ChecksFailed)

	require.NoError(t, g.Remove("a"))
	st = g.Stats()
	assert.Empty(t, st.Backends)
	assert.Equal(t, uint64(3), st.ChecksPassed, "the group's totals keep a's results")
	assert.Equal(t, uint64(2), st.ChecksFailed)
}

// At every size, the group's probe totals are the sum over its backends,
// and keep the results of backends that leave.
func TestCheckTotalsAtSizes(t *testing.T) {
	// Probe results are applied in batches (see onProbe), so even a
	// thousand first probes cost a few rebuilds of the pick set.
	sizes := []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000}
	if raceEnabled {
		sizes = sizes[:len(sizes)-1] // 10000: seconds under -race; .ci/run runs it without
	}
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			probe := health.ProbeFunc(func(context.Context, string) error { return nil })
			g, _ := newGroup(t, group.Config{Health: &health.Config{Probe: probe}})
			bs := make([]group.Backend, n)
			ids := make([]string, 0, n/2)
			for i := range bs {
				bs[i] = group.Backend{ID: fmt.Sprint("b", i), Addr: fmt.Sprintf("10.0.%d.%d:80", i/250, i%250+1)}
				if i%2 == 1 {
					ids = append(ids, bs[i].ID)
				}
			}
			require.NoError(t, g.Add(bs...))
			awaitProgress(t, "first probes to pass", func() int { return n - int(g.Stats().ChecksPassed) })
			require.NoError(t, g.Remove(ids...))
			st := g.Stats()
			var sum uint64
			for _, b := range st.Backends {
				sum += b.ChecksPassed
			}
			assert.Equal(t, uint64(n-len(ids)), sum)
			assert.Equal(t, uint64(n), st.ChecksPassed, "the removed backends' results stay")
			assert.Zero(t, st.ChecksFailed)
		})
	}
}
