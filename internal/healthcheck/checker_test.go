package healthcheck

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/fakeclock"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// harness is a Checker on a fake clock whose results go to a channel.
type harness struct {
	t       *testing.T
	clk     *fakeclock.Clock
	c       *Checker
	results chan Result
}

func newHarness(t *testing.T, cfg health.Config, probe health.ProbeFunc) *harness {
	t.Helper()
	h := &harness{t: t, clk: fakeclock.New(epoch), results: make(chan Result, 100_000)}
	cfg.Probe = probe
	if cfg.InitialInterval == 0 { // the steady pace from the first probe on, unless a test says otherwise
		cfg.InitialInterval = cmp.Or(cfg.Interval, health.DefaultInterval)
	}
	c, err := NewChecker(cfg, h.clk, func(r Result) { h.results <- r })
	require.NoError(t, err)
	h.c = c
	t.Cleanup(c.Close)
	return h
}

// idle waits until the Checker has no worker: nothing queued, probing or
// reporting, and every probe that finished rescheduled.
func (h *harness) idle() {
	h.t.Helper()
	waitFor(h.t, "checker idle", func() bool {
		h.c.mu.Lock()
		defer h.c.mu.Unlock()
		return h.c.workers == 0
	})
}

// scheduled returns the number of targets waiting for their next probe.
func (h *harness) scheduled() int {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	return len(h.c.sched)
}

// timeoutTimers returns the number of the fake clock's pending timers
// that are not the Checker's schedule timer: those of probes' timeouts.
func (h *harness) timeoutTimers() int {
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	n := h.clk.Pending()
	if h.c.timer != nil {
		n--
	}
	return n
}

// advance moves the clock by d and waits for the probes it starts.
func (h *harness) advance(d time.Duration) {
	h.t.Helper()
	h.clk.Advance(d)
	h.idle()
}

// drain returns the results reported so far.
func (h *harness) drain() []Result {
	var rs []Result
	for {
		select {
		case r := <-h.results:
			rs = append(rs, r)
		default:
			return rs
		}
	}
}

// result waits for the next result.
func (h *harness) result() Result {
	h.t.Helper()
	select {
	case r := <-h.results:
		return r
	case <-time.After(10 * time.Second):
		h.t.Fatal("no result")
		return Result{}
	}
}

// recv waits for a value on ch.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting on channel")
		var zero T
		return zero
	}
}

// waitFor polls cond, yielding in between, for up to 10s of real time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
	}
}

func instant(context.Context, string) error { return nil }

func TestCheckerFirstProbeImmediateThenEveryInterval(t *testing.T) {
	const interval = 5 * time.Second
	h := newHarness(t, health.Config{Interval: interval, Jitter: health.NoJitter}, instant)
	h.c.Add(Target{ID: "a", Addr: "10.0.0.1:80"})
	h.idle()
	rs := h.drain()
	require.Len(t, rs, 1, "first probe at once")
	assert.Equal(t, Result{Target: Target{ID: "a", Addr: "10.0.0.1:80"}, Start: epoch}, rs[0])
	assert.Equal(t, 1, h.scheduled())
	assert.Zero(t, h.timeoutTimers(), "the timeout timer is stopped")

	probes := 1
	for step := 1; step <= 30; step++ { // 30 one-second steps
		h.advance(time.Second)
		rs := h.drain()
		if step%5 != 0 {
			require.Empty(t, rs, "probe between intervals at step %d", step)
			continue
		}
		probes++
		require.Len(t, rs, 1, "step %d", step)
		assert.Equal(t, epoch.Add(time.Duration(step)*time.Second), rs[0].Start)
		assert.NoError(t, rs[0].Err)
		assert.Zero(t, rs[0].Duration)
	}
	assert.Equal(t, 7, probes)
	assert.Equal(t, 1, h.c.Len())
}

func TestCheckerJitter(t *testing.T) {
	const (
		n        = 100
		interval = 2 * time.Second
		jitter   = time.Second
		step     = 10 * time.Millisecond
	)
	h := newHarness(t, health.Config{Interval: interval, Jitter: jitter, Timeout: time.Second, HealthyThreshold: 1}, instant)
	for i := range n {
		h.c.Add(Target{ID: fmt.Sprint(i), Addr: fmt.Sprint(i)})
	}
	h.idle()
	starts := map[string][]time.Duration{}
	record := func() {
		for _, r := range h.drain() {
			require.NoError(t, r.Err)
			starts[r.ID] = append(starts[r.ID], r.Start.Sub(epoch))
		}
	}
	record()
	for range 10 * time.Second / step {
		h.advance(step)
		record()
	}

	// A probe starts at most one step after its timer's deadline, and is
	// rescheduled at most one step after its start: hence the 1 and 2 steps
	// of slack.
	var firsts, waits []time.Duration
	for id, s := range starts {
		require.GreaterOrEqual(t, len(s), 3, "target %s", id)
		firsts = append(firsts, s[0])
		assert.Zero(t, s[0], "first probe of %s: at once", id)
		for i := 1; i < len(s); i++ {
			w := s[i] - s[i-1]
			waits = append(waits, w-interval)
			assert.GreaterOrEqual(t, w, interval, "target %s probe %d", id, i)
			assert.Less(t, w, interval+jitter+2*step, "target %s probe %d", id, i)
		}
	}
	require.Len(t, firsts, n)
	// Spread: 100 uniform draws all in one quarter has odds of 4*(3/4)^100.
	assert.Less(t, slices.Min(waits), jitter/4)
	assert.Greater(t, slices.Max(waits), 3*jitter/4)
}

func TestCheckerTimeout(t *testing.T) {
	const timeout = 2 * time.Second
	cfg := health.Config{Interval: 10 * time.Second, Timeout: timeout, Jitter: health.NoJitter}

	t.Run("ProbeHonorsContext", func(t *testing.T) {
		started := make(chan context.Context, 1)
		h := newHarness(t, cfg, func(ctx context.Context, _ string) error {
			started <- ctx
			<-ctx.Done()
			return ctx.Err()
		})
		h.c.Add(Target{ID: "a", Addr: "a"})
		ctx := recv(t, started)
		h.clk.Advance(timeout - time.Millisecond)
		require.NoError(t, ctx.Err(), "cancelled before the timeout")
		h.clk.Advance(time.Millisecond)
		r := h.result()
		assert.ErrorIs(t, r.Err, health.ErrProbeTimeout)
		assert.ErrorIs(t, r.Err, context.Canceled, "the Prober's error is kept")
		assert.Equal(t, health.ErrProbeTimeout, context.Cause(ctx))
		assert.Equal(t, timeout, r.Duration)
		assert.Equal(t, epoch, r.Start)
		h.idle()
		assert.Equal(t, 1, h.scheduled())
		assert.Zero(t, h.timeoutTimers(), "the timeout timer has fired")
	})

	t.Run("ProbeIgnoresContext", func(t *testing.T) {
		started, release := make(chan struct{}, 1), make(chan struct{})
		h := newHarness(t, cfg, func(context.Context, string) error {
			started <- struct{}{}
			<-release
			return nil
		})
		h.c.Add(Target{ID: "a", Addr: "a"})
		recv(t, started)
		h.clk.Advance(timeout + time.Second)
		close(release)
		r := h.result()
		assert.ErrorIs(t, r.Err, health.ErrProbeTimeout, "late success is a failure")
		assert.Equal(t, "health probe timed out after 2s", r.Err.Error())
		assert.Equal(t, timeout+time.Second, r.Duration)
	})
}

func TestCheckerConcurrencyBoundAndFIFO(t *testing.T) {
	const (
		n     = 100
		limit = 4
	)
	gates := make(map[string]chan struct{}, n)
	for i := range n {
		gates[fmt.Sprintf("t%02d", i)] = make(chan struct{})
	}
	var running, most atomic.Int32
	started := make(chan string, n)
	h := newHarness(t, health.Config{Concurrency: limit, Jitter: health.NoJitter}, func(_ context.Context, addr string) error {
		r := running.Add(1)
		for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
		}
		started <- addr
		<-gates[addr]
		running.Add(-1)
		return nil
	})
	for i := range n {
		h.c.Add(Target{ID: fmt.Sprintf("t%02d", i), Addr: fmt.Sprintf("t%02d", i)})
	}

	var order []string
	for range limit {
		order = append(order, recv(t, started))
	}
	assert.ElementsMatch(t, []string{"t00", "t01", "t02", "t03"}, order, "the first due run first")
	// Free one probe at a time: the next in the queue takes its place.
	for i := limit; i < n; i++ {
		close(gates[order[i-limit]])
		order = append(order, recv(t, started))
		require.Equal(t, fmt.Sprintf("t%02d", i), order[i], "FIFO")
		h.c.mu.Lock()
		w := h.c.workers
		h.c.mu.Unlock()
		require.LessOrEqual(t, w, limit)
	}
	for _, id := range order[n-limit:] {
		close(gates[id])
	}
	h.idle()
	assert.Len(t, h.drain(), n)
	assert.Equal(t, int32(limit), most.Load(), "most probes at once")
}

func TestCheckerOneScheduleTimerInDueOrder(t *testing.T) {
	const n = 200
	var (
		mu    sync.Mutex
		order []string
	)
	h := newHarness(t, health.Config{Interval: time.Second, Jitter: health.NoJitter, Concurrency: 1}, func(_ context.Context, addr string) error {
		mu.Lock()
		order = append(order, addr)
		mu.Unlock()
		return nil
	})
	var want []string
	for i := range n {
		want = append(want, fmt.Sprint(i))
		h.c.Add(Target{ID: want[i], Addr: want[i]})
	}
	for round := range 3 {
		h.idle()
		assert.Equal(t, 1, h.clk.Pending(), "one timer for %d targets", n)
		mu.Lock()
		assert.Equal(t, want, order, "round %d: equal due times keep their order", round)
		order = nil
		mu.Unlock()
		h.clk.Advance(time.Second)
	}
}

func TestCheckerRemove(t *testing.T) {
	cfg := health.Config{Interval: 5 * time.Second, Jitter: health.NoJitter}

	t.Run("StopsProbing", func(t *testing.T) {
		var calls atomic.Int32
		h := newHarness(t, cfg, func(context.Context, string) error { calls.Add(1); return nil })
		h.c.Add(Target{ID: "a", Addr: "a"})
		h.c.Add(Target{ID: "b", Addr: "b"})
		h.idle()
		h.c.Remove("a")
		h.c.Remove("unknown")
		assert.Equal(t, 1, h.c.Len())
		for range 4 {
			h.advance(5 * time.Second)
		}
		for _, r := range h.drain()[2:] {
			assert.Equal(t, "b", r.ID)
		}
		assert.Equal(t, int32(2+4), calls.Load())
		assert.Equal(t, 1, h.scheduled(), "a is no longer scheduled")
	})

	t.Run("InFlightNotReported", func(t *testing.T) {
		started := make(chan context.Context, 1)
		h := newHarness(t, cfg, func(ctx context.Context, _ string) error {
			started <- ctx
			<-ctx.Done()
			return nil // even a pass is not reported
		})
		h.c.Add(Target{ID: "a", Addr: "a"})
		ctx := recv(t, started)
		h.c.Remove("a")
		<-ctx.Done()
		assert.Equal(t, errRemoved, context.Cause(ctx))
		h.idle()
		assert.Empty(t, h.drain())
		assert.Zero(t, h.scheduled(), "not rescheduled")
		assert.Zero(t, h.clk.Pending(), "no timer left")
	})

	t.Run("NewAddrReplaces", func(t *testing.T) {
		addrs := make(chan string, 10)
		block := make(chan struct{})
		h := newHarness(t, cfg, func(ctx context.Context, addr string) error {
			addrs <- addr
			if addr == "old" {
				select {
				case <-ctx.Done():
				case <-block:
				}
			}
			return nil
		})
		h.c.Add(Target{ID: "a", Addr: "old"})
		require.Equal(t, "old", recv(t, addrs))
		h.c.Add(Target{ID: "a", Addr: "old"}) // no-op while running
		h.c.Add(Target{ID: "a", Addr: "new"}) // cancels the old probe, probes new at once
		require.Equal(t, "new", recv(t, addrs))
		h.idle()
		rs := h.drain()
		require.Len(t, rs, 1)
		assert.Equal(t, Target{ID: "a", Addr: "new"}, rs[0].Target)
		assert.Equal(t, 1, h.c.Len())

		h.c.Add(Target{ID: "a", Addr: "new"}) // no-op: no extra probe
		h.idle()
		assert.Empty(t, h.drain())
		h.advance(5 * time.Second)
		rs = h.drain()
		require.Len(t, rs, 1)
		assert.Equal(t, "new", rs[0].Addr)
		assert.Len(t, addrs, 1)
	})
}

func TestCheckerCheckNow(t *testing.T) {
	const interval = 10 * time.Second
	started, release := make(chan struct{}, 10), make(chan struct{}, 10)
	h := newHarness(t, health.Config{Interval: interval, Jitter: health.NoJitter}, func(context.Context, string) error {
		started <- struct{}{}
		<-release
		return nil
	})
	release <- struct{}{}
	h.c.Add(Target{ID: "a", Addr: "a"})
	h.idle()
	require.Len(t, h.drain(), 1)

	h.advance(4 * time.Second)
	release <- struct{}{}
	h.c.CheckNow("a")
	h.c.CheckNow("unknown")
	h.idle()
	rs := h.drain()
	require.Len(t, rs, 1, "probed ahead of schedule")
	assert.Equal(t, epoch.Add(4*time.Second), rs[0].Start)

	h.advance(interval - 4*time.Second) // the old schedule is void
	assert.Empty(t, h.drain())
	release <- struct{}{}
	h.advance(4 * time.Second) // the new one runs from the CheckNow probe
	rs = h.drain()
	require.Len(t, rs, 1)
	assert.Equal(t, epoch.Add(4*time.Second+interval), rs[0].Start)

	// While a probe runs, CheckNow asks for another right after it: the
	// running one began before the call.
	for range 3 {
		<-started
	}
	h.clk.Advance(interval)
	recv(t, started)
	h.c.CheckNow("a")
	release <- struct{}{}
	recv(t, started) // the follow-up
	release <- struct{}{}
	h.idle()
	rs = h.drain()
	require.Len(t, rs, 2)
	assert.Equal(t, rs[0].Start, rs[1].Start, "at once, on the clock")
	assert.Empty(t, started)
	assert.Equal(t, 1, h.scheduled())
	assert.Zero(t, h.timeoutTimers())
}

func TestCheckerPanic(t *testing.T) {
	h := newHarness(t, health.Config{Interval: time.Second, Jitter: health.NoJitter}, func(context.Context, string) error {
		panic("boom")
	})
	h.c.Add(Target{ID: "a", Addr: "a"})
	h.idle()
	h.advance(time.Second)
	rs := h.drain()
	require.Len(t, rs, 2, "the checker goes on after a panic")
	for _, r := range rs {
		assert.ErrorIs(t, r.Err, health.ErrProbePanic)
		assert.Contains(t, r.Err.Error(), "boom")
	}
	assert.Equal(t, 1, h.scheduled())
	assert.Zero(t, h.timeoutTimers(), "timeout timer stopped despite the panic")
}

func TestCheckerReportMayCallChecker(t *testing.T) {
	clk := fakeclock.New(epoch)
	var (
		mu   sync.Mutex // the caller's lock: held by report and around Add
		c    *Checker
		seen []string
	)
	c, err := NewChecker(health.Config{Probe: health.ProbeFunc(instant), Jitter: health.NoJitter, Concurrency: 2}, clk, func(r Result) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, r.ID)
		c.Remove(r.ID)
		c.CheckNow(r.ID)
		if len(r.ID) < 4 {
			c.Add(Target{ID: r.ID + "+", Addr: r.Addr})
		}
	})
	require.NoError(t, err)
	defer c.Close()
	mu.Lock()
	for i := range 50 {
		c.Add(Target{ID: fmt.Sprint(i), Addr: "x"})
	}
	mu.Unlock()
	waitFor(t, "chains of adds", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == 10*4+40*3 // each ID grows to 4 bytes, one report a step
	})
	waitFor(t, "no targets", func() bool { return c.Len() == 0 })
}

func TestCheckerClose(t *testing.T) {
	cfg := health.Config{Interval: time.Second, Jitter: health.NoJitter}

	t.Run("CancelsRunningProbes", func(t *testing.T) {
		ctxs := make(chan context.Context, 3)
		h := newHarness(t, cfg, func(ctx context.Context, _ string) error {
			ctxs <- ctx
			<-ctx.Done()
			return nil
		})
		for _, id := range []string{"a", "b", "c"} {
			h.c.Add(Target{ID: id, Addr: id})
		}
		var got []context.Context
		for range 3 {
			got = append(got, recv(t, ctxs))
		}
		h.c.Close()
		for _, ctx := range got {
			assert.Equal(t, errClosed, context.Cause(ctx))
		}
		assert.Empty(t, h.drain(), "results of cancelled probes are not reported")
		assert.Zero(t, h.c.Len())
		assert.Zero(t, h.clk.Pending())
		h.c.Add(Target{ID: "d", Addr: "d"})
		h.c.CheckNow("a")
		h.c.Remove("a")
		assert.Zero(t, h.c.Len(), "Add after Close")
		h.clk.Advance(time.Minute)
		assert.Empty(t, h.drain())
		h.c.Close() // idempotent
	})

	t.Run("WaitsForReports", func(t *testing.T) {
		clk := fakeclock.New(epoch)
		var closed atomic.Bool
		var reports atomic.Int32
		entered, release := make(chan struct{}, 100), make(chan struct{})
		c, err := NewChecker(health.Config{Probe: health.ProbeFunc(instant), Interval: time.Second, Jitter: health.NoJitter}, clk, func(Result) {
			if closed.Load() {
				t.Error("report after Close returned")
			}
			reports.Add(1)
			entered <- struct{}{}
			<-release
		})
		require.NoError(t, err)
		for i := range 5 {
			c.Add(Target{ID: fmt.Sprint(i), Addr: "x"})
		}
		recv(t, entered)
		done := make(chan struct{})
		go func() {
			c.Close()
			closed.Store(true)
			close(done)
		}()
		waitFor(t, "Close to take effect", func() bool { return c.Len() == 0 })
		select {
		case <-done:
			t.Fatal("Close returned while a report runs")
		default:
		}
		close(release)
		recv(t, done)
		n := reports.Load()
		clk.Advance(time.Minute)
		assert.Equal(t, n, reports.Load())
	})
}

// checkerStacks returns the stacks of goroutines running Checker code
// whose stacks contain frame.
func checkerStacks(frame string) []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var found []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "elb/health.(*Checker)"+frame) {
			found = append(found, g)
		}
	}
	return found
}

// noLeak fails t unless, within a few seconds, no goroutine runs Checker
// code and there are no more goroutines than base.
func noLeak(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		stacks := checkerStacks("")
		n := runtime.NumGoroutine()
		if len(stacks) == 0 && n <= base {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before; leaked:\n%s", n, base, strings.Join(stacks, "\n\n"))
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCheckerCloseLeavesNoGoroutine(t *testing.T) {
	for _, clk := range []health.Clock{fakeclock.New(epoch), nil} {
		t.Run(fmt.Sprintf("%T", clk), func(t *testing.T) {
			base := runtime.NumGoroutine()
			started := make(chan struct{}, 100)
			c, err := NewChecker(health.Config{
				Probe: health.ProbeFunc(func(ctx context.Context, addr string) error {
					if addr == "block" {
						select {
						case started <- struct{}{}:
						default:
						}
						<-ctx.Done()
					}
					return nil
				}),
				Interval:    time.Second,
				Concurrency: 8,
			}, clk, func(Result) {})
			require.NoError(t, err)
			for i := range 20 {
				c.Add(Target{ID: fmt.Sprint(i), Addr: "block"})
				c.Add(Target{ID: fmt.Sprint("ok", i), Addr: "ok"})
			}
			if fc, ok := clk.(*fakeclock.Clock); ok {
				fc.Advance(150 * time.Millisecond) // past the first probes' jitter
			}
			for range 8 {
				recv(t, started)
			}
			assert.Greater(t, runtime.NumGoroutine(), base)
			c.Close()
			// A timer that fired just before Close may still be on its
			// way to find the Checker closed; a worker may not.
			assert.Empty(t, checkerStacks(".work"), "Close waits for its workers")
			noLeak(t, base)
		})
	}
}

func TestCheckerGoroutinesBounded(t *testing.T) {
	const (
		n     = 1000
		limit = 32
		slack = 4 // the harness's own, and room for the runtime's
	)
	base := runtime.NumGoroutine()
	started := make(chan struct{}, n)
	h := newHarness(t, health.Config{Interval: 5 * time.Second, Timeout: time.Second, Concurrency: limit},
		func(ctx context.Context, _ string) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		})
	for i := range n {
		h.c.Add(Target{ID: fmt.Sprint(i), Addr: fmt.Sprint(i)})
	}
	h.clk.Advance(h.c.cfg.Jitter) // every target due: 1,000 queued
	for round := range 5 {
		for range limit {
			recv(t, started)
		}
		g := runtime.NumGoroutine()
		require.LessOrEqual(t, g, base+limit+slack, "round %d: %d goroutines, %d before", round, g, base)
		h.c.mu.Lock()
		assert.Equal(t, limit, h.c.workers)
		assert.Greater(t, len(h.c.queue), n-limit*(round+2))
		h.c.mu.Unlock()
		h.clk.Advance(time.Second) // time the running ones out
	}
	h.c.Close()
	noLeak(t, base)
	for _, r := range h.drain() {
		require.ErrorIs(t, r.Err, health.ErrProbeTimeout)
	}
}

func TestNewCheckerErrors(t *testing.T) {
	report := func(Result) {}
	probe := health.ProbeFunc(instant)
	for _, tc := range []struct {
		name   string
		cfg    health.Config
		report func(Result)
		field  string
	}{
		{"NoProbe", health.Config{}, report, "Probe"},
		{"NilProbeFunc", health.Config{Probe: health.ProbeFunc(nil)}, report, "Probe"},
		{"NoReport", health.Config{Probe: probe}, nil, "report"},
		{"Interval", health.Config{Probe: probe, Interval: time.Millisecond}, report, "Interval"},
		{"Concurrency", health.Config{Probe: probe, Concurrency: -1}, report, "Concurrency"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChecker(tc.cfg, nil, tc.report)
			assert.Nil(t, c)
			require.ErrorIs(t, err, elb.ErrInvalidConfig)
			var ce *elb.ConfigError
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, tc.field, ce.Field)
			t.Log(err)
		})
	}

	c, err := NewChecker(health.Config{Probe: probe}, nil, report)
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, health.RealClock{}, c.clk)
	assert.Equal(t, health.DefaultConcurrency, c.cfg.Concurrency, "normalized")
}

func TestCheckerRealClock(t *testing.T) {
	results := make(chan Result, 10)
	c, err := NewChecker(health.Config{Probe: health.ProbeFunc(instant), Interval: time.Second, Jitter: health.NoJitter}, nil,
		func(r Result) { results <- r })
	require.NoError(t, err)
	defer c.Close()
	c.Add(Target{ID: "a", Addr: "a"})
	r := recv(t, results)
	assert.NoError(t, r.Err)
	assert.Less(t, r.Duration, time.Second)
}

// After Remove and Add of the same ID (same or another address), the new
// target's report never overlaps a report of the old one that had begun:
// report calls for one ID never overlap.
func TestCheckerReportsForOneIDNeverOverlap(t *testing.T) {
	for _, addr := range []string{"a", "a2"} {
		t.Run("readd as "+addr, func(t *testing.T) {
			for range 20 {
				var (
					mu      sync.Mutex
					running int // report calls for "a" running now
					most    int // the most at once
					calls   int // report calls so far
					gate    = make(chan struct{})
					entered = make(chan struct{}, 2)
				)
				clk := fakeclock.New(epoch)
				c, err := NewChecker(health.Config{Probe: health.ProbeFunc(instant), Interval: 10 * time.Second, Jitter: health.NoJitter, Concurrency: 4}, clk, func(r Result) {
					mu.Lock()
					running++
					calls++
					first := calls == 1
					most = max(most, running)
					mu.Unlock()
					entered <- struct{}{}
					if first {
						<-gate // the old target's report, still running
					}
					mu.Lock()
					running--
					mu.Unlock()
				})
				require.NoError(t, err)
				c.Add(Target{ID: "a", Addr: "a"})
				recv(t, entered)
				c.Remove("a")
				c.Add(Target{ID: "a", Addr: addr}) // probed at once
				waitFor(t, "the new target's report to begin or wait", func() bool {
					if len(entered) > 0 {
						return true // it overlaps
					}
					c.mu.Lock()
					defer c.mu.Unlock()
					old := c.leaving["a"]
					return old != nil && old.ended != nil // the new one waits for it
				})
				close(gate)
				recv(t, entered)
				c.Close()
				assert.Equal(t, 1, most, "report calls for one ID overlapped")
				assert.Empty(t, c.leaving)
			}
		})
	}
}

func TestCheckerInitialIntervalUntilJudged(t *testing.T) {
	const (
		interval = 5 * time.Second
		initial  = time.Second
	)
	for _, tc := range []struct {
		name    string
		results []error // the probes' outcomes in turn; the last repeats
		want    []time.Duration
	}{
		{"passes", []error{nil}, []time.Duration{0, 1, 2, 7, 12}},
		{"failures", []error{errors.New("refused")}, []time.Duration{0, 1, 2, 7, 12}},
		{"a failure ends a run of passes", []error{nil, nil, errors.New("refused"), nil}, []time.Duration{0, 1, 2, 3, 4, 5, 10}},
		{"skipped probes count neither way", []error{health.ErrSkipped, health.ErrSkipped, nil}, []time.Duration{0, 1, 2, 3, 4, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			h := newHarness(t, health.Config{Interval: interval, InitialInterval: initial, Jitter: health.NoJitter}, func(context.Context, string) error {
				err := tc.results[min(n, len(tc.results)-1)]
				n++ // probes of one target never run at once
				return err
			})
			h.c.Add(Target{ID: "a", Addr: "a"})
			h.idle()
			var got []time.Duration
			for range 13 {
				for _, r := range h.drain() {
					got = append(got, r.Start.Sub(epoch)/time.Second)
				}
				h.advance(time.Second)
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestInitialIntervalDefault(t *testing.T) {
	c, err := health.Config{}.Normalized()
	require.NoError(t, err)
	assert.Equal(t, health.DefaultInitialInterval, c.InitialInterval)
	c, err = health.Config{Interval: 2 * time.Second, InitialInterval: 2 * time.Second}.Normalized()
	require.NoError(t, err, "InitialInterval may equal Interval")
	assert.Equal(t, 2*time.Second, c.InitialInterval)
	_, err = health.Config{InitialInterval: 50 * time.Millisecond}.Normalized()
	var ce *elb.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "InitialInterval", ce.Field)
	assert.EqualError(t, err, "elb: InitialInterval: 50ms must be 100ms-5s (Interval)")
}
