package group_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// TestSyncGoroutineEnds: the goroutine Sync starts (and its helper) ends
// when its ctx ends and when the group closes, and the group no longer
// awaits the source either way.
func TestSyncGoroutineEnds(t *testing.T) {
	for _, end := range []string{"ctx", "close"} {
		before := runtime.NumGoroutine() // Eventually checks on a goroutine of its own: +1
		g, _ := newWaitingGroup(t, group.Config{})
		c, cancel := context.WithCancel(ctx)
		src := newScriptSource()
		require.NoError(t, group.Sync(c, g, src, group.SyncConfig{}))
		src.await(t)
		assert.Equal(t, 1, group.SourcesPending(g), end)
		if end == "ctx" {
			cancel()
		} else {
			require.NoError(t, g.Close(ctx))
		}
		require.Eventually(t, func() bool { return group.SourcesPending(g) == 0 }, 5*time.Second, time.Millisecond, end)
		if end == "ctx" {
			require.NoError(t, g.Close(ctx))
		}
		cancel()
		if !assert.Eventually(t, func() bool { return runtime.NumGoroutine() <= before+1 }, 5*time.Second, time.Millisecond, end) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%s: %d goroutines before, %d now:\n%s", end, before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestEventsGiveEachSubscriberItsOwnWeight: two subscribers of one event
// get Weight pointers of their own, as Backend.Weight documents.
func TestEventsGiveEachSubscriberItsOwnWeight(t *testing.T) {
	g, _ := newGroup(t, group.Config{})
	got := make(chan *int, 2)
	for range 2 {
		cancel := g.Subscribe(func(ev group.Event) {
			if ev.Type == group.EventAdded {
				got <- ev.Backend.Weight
			}
		})
		t.Cleanup(cancel)
	}
	require.NoError(t, g.Add(group.Backend{Addr: "10.0.0.1:80", Weight: group.Weight(3)}))
	group.WaitEvents(g)
	a, b := <-got, <-got
	require.NotNil(t, a)
	require.NotNil(t, b)
	assert.Equal(t, 3, *a)
	assert.Equal(t, 3, *b)
	assert.NotSame(t, a, b, "each subscriber gets a pointer of its own")
}

// TestViewPickNeverWaits: while Group.Pick would wait (members awaiting
// their first health checks, a Sync its first update), a View's Pick and
// Repick fail at once, in every sticky mode, and are not counted as
// NoBackend: an adapter queues them (gRPC picks a queued call again with
// every new picker), as Group.Pick waits. Once the members are judged,
// its failures count.
func TestViewPickNeverWaits(t *testing.T) {
	modes := map[string]*sticky.Config{
		"none":   nil,
		"header": {Mode: sticky.Header, Header: "X-User"},
		"source": {Mode: sticky.SourceIP},
		"cookie": {Mode: sticky.Cookie, Keys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")}},
	}
	for name, sc := range modes {
		t.Run(name, func(t *testing.T) {
			g, gt := newGated(t, group.Config{Name: "orders", Sticky: sc, Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}})
			v := g.NewView()
			t.Cleanup(v.Close)
			v.SetReady("a", true, "")
			require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
			probe := gt.next(t) // not answered yet: the member stays Initial
			req := group.Request{Affinity: "u1", Source: "192.0.2.1:1"}
			done := make(chan error, 2)
			go func() { _, _, err := v.Pick(context.Background(), req); done <- err }()
			go func() { var tr group.Tried; _, _, err := v.Repick(context.Background(), req, &tr); done <- err }()
			for range 2 {
				select {
				case err := <-done:
					assert.ErrorIs(t, err, group.ErrNoHealthyBackend)
				case <-time.After(5 * time.Second):
					t.Fatal("a View's pick waits")
				}
			}
			assert.Zero(t, g.Stats().NoBackend, "picks an adapter queues")
			_, err := g.Pick(shortCtx(t), req)
			assert.ErrorIs(t, err, context.DeadlineExceeded, "the group's own Pick waits")
			assert.Equal(t, uint64(1), g.Stats().NoBackend, "a wait that ended in failure")

			probe.reply <- errors.New("down") // judged: unhealthy
			require.Eventually(t, func() bool { return g.Stats().Backends[0].State == health.Unhealthy }, 5*time.Second, time.Millisecond)
			_, _, err = v.Pick(context.Background(), req)
			assert.ErrorIs(t, err, group.ErrNoHealthyBackend)
			assert.Equal(t, uint64(2), g.Stats().NoBackend, "a View's failure for lack of a healthy member")
		})
	}
}

// TestWaitingPicksAndViewsUnderChange: Picks that wait, WaitReadys and a
// View's picks, while members come and go, pass and fail their checks and
// a Sync awaits its first update; Close ends every wait and no request is
// left in flight. (For the race detector; bounded in count.)
func TestWaitingPicksAndViewsUnderChange(t *testing.T) {
	g, gt := newGated(t, group.Config{Name: "orders", Health: &health.Config{HealthyThreshold: 1, UnhealthyThreshold: 1}})
	v := g.NewView()
	t.Cleanup(v.Close)
	src := newScriptSource()
	require.NoError(t, group.Sync(ctx, g, src, group.SyncConfig{}))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				c, cancel := context.WithTimeout(ctx, time.Millisecond)
				switch (w + i) % 3 {
				case 0:
					if p, err := g.Pick(c, group.Request{}); err == nil {
						p.Done(nil)
					}
				case 1:
					_ = g.WaitReady(c)
				default:
					if p, _, err := v.Pick(c, group.Request{}); err == nil {
						p.Done(nil)
					}
				}
				cancel()
			}
		})
	}
	// Answer every probe, passing two in three.
	answered, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(answered)
		for n := 1; ; n++ {
			var c gateCall
			select {
			case c = <-gt.calls:
			case <-stop:
				return
			}
			if n%3 == 0 {
				c.reply <- errors.New("down")
			} else {
				c.reply <- nil
			}
		}
	}()
	for i := range 50 {
		id := fmt.Sprintf("m%d", i%5)
		v.SetReady(id, i%4 != 0, "")
		if g.Remove(id) != nil {
			require.NoError(t, g.Add(group.Backend{ID: id, Addr: fmt.Sprintf("10.0.0.%d:80", i%5+1)}))
		}
	}
	wg.Wait()
	blocked := make(chan error, 1)
	go func() {
		p, err := g.Pick(context.Background(), group.Request{})
		p.Done(nil)
		blocked <- err
	}()
	require.NoError(t, g.Close(longCtx(t)))
	select {
	case err := <-blocked:
		if err != nil {
			assert.ErrorIs(t, err, group.ErrClosed)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a Pick still waits after Close")
	}
	assert.Zero(t, group.Waiting(g))
	require.Eventually(t, func() bool { return group.SourcesPending(g) == 0 }, 5*time.Second, time.Millisecond)
	for _, b := range g.Stats().Backends {
		assert.Zero(t, b.InFlight, b.ID)
	}
	close(stop)
	<-answered
}
