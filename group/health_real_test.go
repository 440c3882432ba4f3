package group_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// These tests probe real servers on 127.0.0.1 with the real probes of
// package health, through a group. All but TestRealHTTPRealClock run on a
// fake clock: probes happen when the test moves it, and the test waits
// (in real time) for each probe's result.

// httpBackend is a real HTTP server whose /healthz answers with status.
type httpBackend struct {
	srv    *httptest.Server
	status atomic.Int32
	hits   atomic.Int64 // requests to /healthz
}

func newHTTPBackend(t *testing.T) *httpBackend {
	t.Helper()
	b := &httpBackend{}
	b.status.Store(http.StatusOK)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		b.hits.Add(1)
		w.WriteHeader(int(b.status.Load()))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *httpBackend) addr() string { return b.srv.Listener.Addr().String() }

// newRealChecked is newChecked keeping cfg.Health.Probe: a group on a fake
// clock probing real servers, every second and without jitter unless
// cfg.Health says another Interval. Create the servers first, so that the
// group is closed before they are.
func newRealChecked(t *testing.T, cfg group.Config, bs ...group.Backend) *checked {
	t.Helper()
	hc := *cfg.Health
	if hc.Interval == 0 {
		hc.Interval = time.Second
	}
	hc.Jitter = health.NoJitter
	if hc.InitialInterval == 0 {
		hc.InitialInterval = hc.Interval
	}
	cfg.Health = &hc
	g, clk := newGroup(t, cfg)
	c := &checked{Group: g, clk: clk, rec: record(g)}
	group.Warm(g) // the thresholds of a running group, not a cold start's
	require.NoError(t, g.Add(bs...))
	c.settle(t)
	return c
}

// backendStats returns the stats of the member id.
func backendStats(t *testing.T, g *group.Group, id string) group.BackendStats {
	t.Helper()
	for _, b := range g.Stats().Backends {
		if b.ID == id {
			return b
		}
	}
	t.Fatalf("no backend %q", id)
	return group.BackendStats{}
}

// stateChanges returns id's EventStateChanged events.
func stateChanges(evs []group.Event, id string) []group.Event {
	var out []group.Event
	for _, e := range evs {
		if e.Type == group.EventStateChanged && e.Backend.ID == id {
			out = append(out, e)
		}
	}
	return out
}

// waitChange waits for id's latest EventStateChanged to be from -> to and
// returns it: events reach subscribers after the change is made, so Stats
// may show a state before its event has arrived.
func waitChange(t *testing.T, rec *recorder, id string, from, to health.State) group.Event {
	t.Helper()
	latest := func() (group.Event, bool) {
		evs := stateChanges(rec.all(), id)
		if len(evs) == 0 {
			return group.Event{}, false
		}
		e := evs[len(evs)-1]
		return e, e.From == from && e.State == to
	}
	require.Eventually(t, func() bool { _, ok := latest(); return ok },
		5*time.Second, time.Millisecond, "%s: no event %v -> %v", id, from, to)
	e, _ := latest()
	return e
}

func TestRealHTTPProbeThresholds(t *testing.T) {
	t.Parallel()
	a, b := newHTTPBackend(t), newHTTPBackend(t)
	c := newRealChecked(t, group.Config{Algorithm: "round_robin",
		Health: &health.Config{Probe: health.HTTPProbe("/healthz")}},
		group.Backend{ID: "a", Addr: a.addr()}, group.Backend{ID: "b", Addr: b.addr()})
	const (
		interval  = time.Second
		timeout   = time.Second // the default: min(DefaultTimeout, Interval)
		healthy   = health.DefaultHealthyThreshold
		unhealthy = health.DefaultUnhealthyThreshold
	)
	c.step(t, healthy-1)
	require.Equal(t, health.Healthy, c.state(t, "a"))
	require.Equal(t, health.Healthy, c.state(t, "b"))
	require.Equal(t, int64(healthy), a.hits.Load(), "one real request per probe")

	// a fails from T on: it must be out by T + Interval*UnhealthyThreshold
	// (+ Timeout), and not before its UnhealthyThreshold-th failed probe.
	a.status.Store(http.StatusServiceUnavailable)
	failAt := c.clk.Now()
	failed := 0
	for c.state(t, "a") != health.Unhealthy {
		require.Less(t, failed, unhealthy, "still %v after %d failed probes", c.state(t, "a"), failed)
		c.step(t, 1)
		failed++
		st := backendStats(t, c.Group, "a")
		assert.Contains(t, st.LastError, "503")
		assert.Equal(t, failed, st.CheckFailures)
	}
	assert.Equal(t, unhealthy, failed)
	assert.LessOrEqual(t, c.clk.Now().Sub(failAt), interval*unhealthy+timeout)
	st := backendStats(t, c.Group, "a")
	assert.Equal(t, "unexpected status 503 (want 200)", st.LastError)
	assert.Equal(t, c.clk.Now(), st.LastCheck)
	assert.Equal(t, 1, c.Stats().Available)
	assert.Equal(t, map[string]int{"b": 10}, counts(t, c.Group, 10))

	last := waitChange(t, c.rec, "a", health.Healthy, health.Unhealthy)
	assert.Contains(t, last.Reason, "503")
	assert.Equal(t, c.clk.Now(), last.Time)

	// Fixed: back after exactly HealthyThreshold passing probes.
	a.status.Store(http.StatusOK)
	for i := 1; i < healthy; i++ {
		c.step(t, 1)
		require.Equal(t, health.Unhealthy, c.state(t, "a"), "after %d passing probes", i)
		assert.Empty(t, backendStats(t, c.Group, "a").LastError)
		assert.Equal(t, map[string]int{"b": 2}, counts(t, c.Group, 2))
	}
	c.step(t, 1)
	assert.Equal(t, health.Healthy, c.state(t, "a"))
	assert.Equal(t, map[string]int{"a": 5, "b": 5}, counts(t, c.Group, 10))
	assert.Equal(t, "health check passed", waitChange(t, c.rec, "a", health.Unhealthy, health.Healthy).Reason)
}

// TestRealHTTPRealClock is the one test in real time: real clock, real
// timers, real server.
func TestRealHTTPRealClock(t *testing.T) {
	t.Parallel()
	const (
		interval = time.Second
		timeout  = time.Second
		slack    = time.Second
	)
	a := newHTTPBackend(t)
	g, err := group.New(group.Config{Name: "real", Health: &health.Config{
		Probe: health.HTTPProbe("/healthz"), Interval: interval, Timeout: timeout,
		HealthyThreshold: 1, UnhealthyThreshold: 2, Jitter: health.NoJitter}})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, g.Close(ctx))
	})
	state := func() health.State { return g.Stats().Backends[0].State }

	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: a.addr()}))
	require.Eventually(t, func() bool { return state() == health.Healthy }, interval, 5*time.Millisecond,
		"healthy within an interval of Add")
	p, err := g.Pick(ctx, group.Request{})
	require.NoError(t, err)
	p.Done(nil)

	a.status.Store(http.StatusInternalServerError)
	failAt := time.Now()
	require.Eventually(t, func() bool { return state() == health.Unhealthy },
		interval*2+timeout+slack, 5*time.Millisecond)
	took := time.Since(failAt)
	// The second failed probe starts at least an interval after the first
	// one, which started after failAt.
	assert.GreaterOrEqual(t, took, interval, "unhealthy after one failed probe")
	assert.Contains(t, g.Stats().Backends[0].LastError, "500")
	_, err = g.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)
	t.Logf("healthy -> unhealthy in %v", took)
}

func TestRealTCPProbe(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var accepted atomic.Int64
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-stopped })
	addr := ln.Addr().String()

	c := newRealChecked(t, group.Config{Health: &health.Config{Probe: health.TCPProbe()}},
		group.Backend{ID: "a", Addr: addr})
	for i := 1; i < health.DefaultHealthyThreshold; i++ {
		require.Equal(t, health.Initial, c.state(t, "a"), "after %d probes", i)
		c.step(t, 1)
	}
	require.Equal(t, health.Healthy, c.state(t, "a"))
	require.Empty(t, backendStats(t, c.Group, "a").LastError)
	require.Eventually(t, func() bool { return accepted.Load() == health.DefaultHealthyThreshold },
		5*time.Second, time.Millisecond, "one connection per probe")

	ln.Close()
	<-stopped
	for i := 1; i < health.DefaultUnhealthyThreshold; i++ {
		c.step(t, 1)
		require.Equal(t, health.Healthy, c.state(t, "a"), "after %d failed probes", i)
	}
	c.step(t, 1)
	st := backendStats(t, c.Group, "a")
	assert.Equal(t, health.Unhealthy, st.State)
	assert.Contains(t, st.LastError, "connection refused")
	assert.Contains(t, st.LastError, addr)
	_, err = c.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrNoHealthyBackend)
}

func TestRealHTTPProbeTimeoutFollowsTheClock(t *testing.T) {
	t.Parallel()
	const (
		interval = 2 * time.Second
		timeout  = time.Second
	)
	var hang atomic.Bool
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hang.Load() {
			entered <- struct{}{}
			select {
			case <-r.Context().Done(): // the probe gave up
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for handlers

	c := newRealChecked(t, group.Config{Health: &health.Config{Probe: health.HTTPProbe("/healthz"),
		Interval: interval, Timeout: timeout, HealthyThreshold: 1, UnhealthyThreshold: 2}},
		group.Backend{ID: "a", Addr: srv.Listener.Addr().String()})
	require.Equal(t, health.Healthy, c.state(t, "a"))

	hang.Store(true)
	waitEntered := func() {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the probe never reached the server")
		}
	}
	// waitResult waits for the result of the probe that started at start,
	// which the group reports after the clock moved on.
	waitResult := func(start time.Time) group.BackendStats {
		t.Helper()
		require.Eventually(t, func() bool { return backendStats(t, c.Group, "a").LastCheck.Equal(start) },
			5*time.Second, time.Millisecond, "result of the probe at %v", start)
		return backendStats(t, c.Group, "a")
	}

	prev := c.clk.Now()
	for i := 1; i <= 2; i++ {
		c.clk.Advance(interval)
		start := c.clk.Now()
		waitEntered()
		if i == 1 {
			// More than Timeout passes in real time, none on the clock:
			// the probe is not cut.
			before := prev // the condition may still run when Never returns
			require.Never(t, func() bool { return !backendStats(t, c.Group, "a").LastCheck.Equal(before) },
				timeout+100*time.Millisecond, 10*time.Millisecond)
		}
		c.clk.Advance(timeout - time.Millisecond)
		time.Sleep(10 * time.Millisecond)
		require.Equal(t, prev, backendStats(t, c.Group, "a").LastCheck, "probe %d cut before its timeout", i)
		c.clk.Advance(time.Millisecond) // the timeout: the probe is cut
		st := waitResult(start)
		assert.Contains(t, st.LastError, health.ErrProbeTimeout.Error())
		assert.Equal(t, i, st.CheckFailures)
		want := health.Healthy
		if i == 2 {
			want = health.Unhealthy
		}
		require.Equal(t, want, st.State, "after %d timed-out probes", i)
		prev = start
		// The next probe is due an interval after this one ended, which
		// the next Advance(interval) reaches exactly.
	}
	assert.Contains(t, waitChange(t, c.rec, "a", health.Healthy, health.Unhealthy).Reason, "timed out")

	// It answers again: one passing probe brings it back.
	hang.Store(false)
	c.clk.Advance(interval)
	c.settle(t)
	assert.Equal(t, health.Healthy, c.state(t, "a"))
	assert.Empty(t, backendStats(t, c.Group, "a").LastError)
}

// grpcBackend starts a grpc-go server on 127.0.0.1 whose health service
// says "svc" is SERVING.
func grpcBackend(t *testing.T) (*grpchealth.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := grpc.NewServer()
	hs := grpchealth.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return hs, ln.Addr().String()
}

func TestRealGRPCProbe(t *testing.T) {
	t.Parallel()
	hsA, addrA := grpcBackend(t)
	_, addrB := grpcBackend(t)
	c := newRealChecked(t, group.Config{Algorithm: "round_robin",
		Health: &health.Config{Probe: health.GRPCProbe("svc")}},
		group.Backend{ID: "a", Addr: addrA}, group.Backend{ID: "b", Addr: addrB})
	c.step(t, health.DefaultHealthyThreshold-1)
	require.Equal(t, health.Healthy, c.state(t, "a"))
	require.Equal(t, health.Healthy, c.state(t, "b"))
	assert.Equal(t, map[string]int{"a": 2, "b": 2}, counts(t, c.Group, 4))

	hsA.SetServingStatus("svc", healthpb.HealthCheckResponse_NOT_SERVING)
	c.step(t, health.DefaultUnhealthyThreshold-1)
	require.Equal(t, health.Healthy, c.state(t, "a"))
	c.step(t, 1)
	st := backendStats(t, c.Group, "a")
	require.Equal(t, health.Unhealthy, st.State)
	assert.Equal(t, "grpc health: not serving (status NOT_SERVING)", st.LastError)
	assert.Equal(t, map[string]int{"b": 6}, counts(t, c.Group, 6))
	assert.Contains(t, waitChange(t, c.rec, "a", health.Healthy, health.Unhealthy).Reason, "NOT_SERVING")

	hsA.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	c.step(t, health.DefaultHealthyThreshold-1)
	require.Equal(t, health.Unhealthy, c.state(t, "a"))
	c.step(t, 1)
	require.Equal(t, health.Healthy, c.state(t, "a"))
	assert.Empty(t, backendStats(t, c.Group, "a").LastError)
	assert.Equal(t, map[string]int{"a": 2, "b": 2}, counts(t, c.Group, 4))
}

func TestRealOutlierEjectionRecheckedByHTTPProbe(t *testing.T) {
	t.Parallel()
	a, b := newHTTPBackend(t), newHTTPBackend(t)
	c := newRealChecked(t, group.Config{Algorithm: "round_robin",
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 3, BaseEjectionTime: 5 * time.Second, MaxEjectionPercent: 50},
		Health:  &health.Config{Probe: health.HTTPProbe("/healthz")}},
		group.Backend{ID: "a", Addr: a.addr()}, group.Backend{ID: "b", Addr: b.addr()})
	c.step(t, health.DefaultHealthyThreshold-1)
	require.Equal(t, health.Healthy, c.state(t, "a"))

	// eject fails requests on a until it is ejected, and steps the clock
	// to the second before its ejection ends, probes passing meanwhile.
	eject := func() {
		t.Helper()
		failUntilEjected(t, c.Group, "a", 3)
		st := backendStats(t, c.Group, "a")
		require.Equal(t, health.Ejected, st.State)
		assert.Equal(t, map[string]int{"b": 4}, counts(t, c.Group, 4))
		hits := a.hits.Load()
		left := st.EjectedUntil.Sub(c.clk.Now())
		require.Equal(t, time.Duration(0), left%time.Second)
		c.step(t, int(left/time.Second)-1)
		require.Equal(t, health.Ejected, c.state(t, "a"))
		assert.Empty(t, backendStats(t, c.Group, "a").LastError)
		assert.Greater(t, a.hits.Load(), hits, "probed while ejected")
	}

	// The ejection ends and /healthz passes: back at once.
	eject()
	c.step(t, 1)
	require.Equal(t, health.Healthy, c.state(t, "a"))
	assert.Equal(t, map[string]int{"a": 2, "b": 2}, counts(t, c.Group, 4))

	// The ejection ends while /healthz fails: a stays out until it passes
	// HealthyThreshold probes.
	eject()
	a.status.Store(http.StatusServiceUnavailable)
	c.step(t, 1)
	st := backendStats(t, c.Group, "a")
	require.Equal(t, health.Unhealthy, st.State)
	assert.Contains(t, st.LastError, "503")
	assert.Equal(t, map[string]int{"b": 4}, counts(t, c.Group, 4))
	// a was Unhealthy from the ejection's end, waiting for this probe: no
	// state change, so no event for its failure.
	assert.Equal(t, "ejection ended; waiting for a health check to pass",
		waitChange(t, c.rec, "a", health.Ejected, health.Unhealthy).Reason)
	a.status.Store(http.StatusOK)
	c.step(t, health.DefaultHealthyThreshold-1)
	require.Equal(t, health.Unhealthy, c.state(t, "a"))
	c.step(t, 1)
	require.Equal(t, health.Healthy, c.state(t, "a"))
	assert.Equal(t, map[string]int{"a": 2, "b": 2}, counts(t, c.Group, 4))

	changes := func() []string {
		var out []string
		for _, e := range stateChanges(c.rec.all(), "a") {
			out = append(out, e.From.String()+">"+e.State.String())
		}
		return out
	}
	want := []string{
		"initial>healthy",
		"healthy>ejected", "ejected>unhealthy", "unhealthy>healthy", // back at once
		"healthy>ejected", "ejected>unhealthy", "unhealthy>healthy", // back after 3 probes
	}
	waitChange(t, c.rec, "a", health.Unhealthy, health.Healthy)
	assert.Equal(t, want, changes())
}
