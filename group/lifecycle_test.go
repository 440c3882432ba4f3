package group_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// recovered runs f and returns what it panicked with, or nil.
func recovered(f func()) (p any) {
	defer func() { p = recover() }()
	f()
	return nil
}

// panicker subscribes a function that panics on every event.
// panicker subscribes a subscriber that panics on every event, returning
// the number of events it was called with so far.
func panicker(g *group.Group) (seen func() uint64) {
	var n atomic.Uint64
	g.Subscribe(func(e group.Event) {
		n.Add(1)
		panic("subscriber bug on " + e.Type.String())
	})
	return n.Load
}

func TestClosePanickingSubscriberReleasesEverything(t *testing.T) {
	var reg group.Registry
	f := newFleet()
	cfg := group.Config{Name: "web", Registry: &reg,
		Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}, // a table, whose clock ticks every second
		Health: &health.Config{Probe: f, Interval: time.Second, Timeout: time.Second, Jitter: health.NoJitter}}
	g, clk := newGroup(t, cfg, group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	seen := panicker(g)
	rec := record(g)

	var err error
	assert.Nil(t, recovered(func() { err = g.Close(ctx) }), "Close runs no subscriber")
	require.NoError(t, err)
	// New members are probed at once, so their first checks may admit them
	// (state_changed) before Close: those are not Close's events.
	got := rec.list()
	closing := slices.DeleteFunc(slices.Clone(got), func(e string) bool { return strings.HasPrefix(e, "state_changed:") })
	assert.Equal(t, []string{"draining:a", "draining:b", "removed:a", "removed:b", "closed:"}, closing)
	// (A first check may land between the two Subscribes: only the
	// panicker sees it.)
	assert.Equal(t, seen(), g.Stats().SubscriberPanics, "every call of the panicking subscriber panicked")
	assert.GreaterOrEqual(t, seen(), uint64(len(closing)), "the panicking subscriber saw every event of Close")

	_, ok := reg.Group("web")
	assert.False(t, ok, "the group left its registry")
	probes := f.count("10.0.0.1:80")
	clk.Advance(10 * time.Second)
	assert.Zero(t, clk.Pending(), "no timer is left: no table tick, no probe, no drain timeout")
	assert.Equal(t, probes, f.count("10.0.0.1:80"), "the health checker is closed")
	g2, err := group.New(cfg)
	require.NoError(t, err, "the name can be reused")
	require.NoError(t, g2.Close(ctx))
	require.ErrorIs(t, g.Close(ctx), group.ErrClosed)
}

func TestRemovePanickingSubscriberEndsEveryIdleDrain(t *testing.T) {
	g, clk := newGroup(t, group.Config{DrainTimeout: time.Hour},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"},
		group.Backend{ID: "c", Addr: "10.0.0.3:80"}, group.Backend{ID: "d", Addr: "10.0.0.4:80"})
	panicker(g)
	rec := record(g)
	assert.Nil(t, recovered(func() { require.NoError(t, g.Remove("a", "b", "c")) }), "Remove runs no subscriber")
	assert.Len(t, g.Stats().Backends, 1, "every idle drain ended at once")
	assert.Equal(t, []string{"draining:a", "draining:b", "draining:c", "removed:a", "removed:b", "removed:c"}, rec.list())

	closed := make(chan error, 1)
	go func() { closed <- g.Close(ctx) }()
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second): // the fake clock never reaches DrainTimeout
		clk.Advance(time.Hour)
		t.Fatal("Close waited for the drain timeout")
	}
}

// Requests that outlive their backend's drain timeout still count when
// they end, and Stats reports how many the timeout cut.
func TestLateCompletionsAreCounted(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			g, clk := newGroup(t, group.Config{DrainTimeout: time.Minute}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
			rec := record(g)
			picks := make([]group.Pick, 2*n)
			for i := range picks {
				p, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				picks[i] = p
			}
			require.NoError(t, g.Remove("a"))
			clk.Advance(time.Minute) // the drain timeout cuts 2n requests
			assert.Equal(t, []string{"draining:a", "removed:a"}, rec.list())
			assert.Equal(t, int64(2*n), rec.all()[1].InFlight)
			st := g.Stats()
			assert.Equal(t, int64(2*n), st.DrainTimedOut)
			assert.Equal(t, int64(2*n), st.InFlight, "still in flight")
			assert.Equal(t, uint64(2*n), st.Requests)

			// n fail, n-1 succeed, one was never sent.
			for i, p := range picks[:2*n-1] {
				if i < n {
					p.Done(fmt.Errorf("late failure %d", i))
				} else {
					p.Done(nil)
				}
			}
			st = g.Stats()
			assert.Equal(t, int64(1), st.InFlight)
			assert.Equal(t, uint64(n), st.Failures, "late failures count")
			picks[2*n-1].Release()
			st = g.Stats()
			assert.Zero(t, st.InFlight)
			assert.Equal(t, uint64(2*n-1), st.Requests, "a late Release takes its request out")
			assert.Equal(t, uint64(n), st.Failures)
			assert.Equal(t, int64(2*n), st.DrainTimedOut)
			assert.Empty(t, st.Backends)

			// The counts are folded once: a new member of the same ID starts
			// afresh, and the totals keep the old one's.
			require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
			p, err := g.Pick(ctx, group.Request{})
			require.NoError(t, err)
			p.Done(nil)
			st = g.Stats()
			assert.Equal(t, uint64(2*n), st.Requests)
			assert.Equal(t, uint64(1), st.Backends[0].Requests)
			assert.Equal(t, uint64(n), st.Failures)
		})
	}
}

// Events reach each subscriber in order; one that falls behind keeps the
// newest MaxPendingEvents and counts the rest as dropped; the others are
// not held back by it.
func TestSlowSubscriberKeepsTheNewestEvents(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	update := func(seq int) { // each call a change, numbered by its metadata
		require.NoError(t, g.Update(group.Backend{ID: "a", Addr: "10.0.0.1:80", Metadata: map[string]string{"seq": fmt.Sprint(seq)}}))
	}
	seqs := func(mu *sync.Mutex, evs *[]group.Event) []int {
		mu.Lock()
		defer mu.Unlock()
		out := make([]int, len(*evs))
		for i, e := range *evs {
			_, err := fmt.Sscan(e.Backend.Metadata["seq"], &out[i])
			require.NoError(t, err)
		}
		return out
	}
	gate, first := make(chan struct{}), make(chan struct{})
	var slowMu sync.Mutex
	var slow []group.Event
	g.Subscribe(func(e group.Event) {
		if e.Backend.Metadata["seq"] == "0" { // hold the first event
			close(first)
			<-gate
		}
		slowMu.Lock()
		slow = append(slow, e)
		slowMu.Unlock()
	})
	fast := record(g)
	update(0)
	<-first
	for i := 1; i <= 10; i++ {
		update(i)
	}
	require.Eventually(t, func() bool { return len(seqs(&fast.mu, &fast.evs)) == 11 },
		10*time.Second, time.Millisecond, "the other subscriber is not held back")

	const extra = 500
	last := 10 + group.MaxPendingEvents + extra
	for i := 11; i <= last; i++ {
		update(i)
	}
	require.Eventually(t, func() bool { s := seqs(&fast.mu, &fast.evs); return s[len(s)-1] == last },
		10*time.Second, time.Millisecond)
	close(gate)
	group.WaitEvents(g)

	got := seqs(&slowMu, &slow)
	want := []int{0}
	for i := last - group.MaxPendingEvents + 1; i <= last; i++ {
		want = append(want, i)
	}
	assert.Equal(t, want, got, "in order, the newest MaxPendingEvents kept")
	f := seqs(&fast.mu, &fast.evs)
	assert.True(t, slices.IsSorted(f) && len(slices.Compact(slices.Clone(f))) == len(f), "in order")
	assert.Equal(t, uint64(last-group.MaxPendingEvents)+uint64(last+1-len(f)), g.Stats().EventsDropped,
		"what either subscriber lost is counted")
}

// A subscriber may close the group from its callback, and Close does not
// wait for subscribers (but for the logger).
func TestSubscriberMayCloseTheGroup(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	done := make(chan error, 1)
	g.Subscribe(func(e group.Event) {
		if e.Type == group.EventUpdated {
			done <- g.Close(ctx)
		}
	})
	rec := record(g)
	require.NoError(t, g.Update(group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(2)}))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close from a subscriber deadlocked")
	}
	assert.Equal(t, []string{"updated:a", "draining:a", "removed:a", "closed:"}, rec.list())
	cancel := g.Subscribe(func(group.Event) { t.Error("an event after EventClosed") })
	cancel()
}

// One change of every backend fits a subscriber's queue whatever the
// group's size: a stalled subscriber loses none of a Set's events.
func TestStalledSubscriberKeepsOneChangeOfEveryBackend(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000} {
		if raceEnabled && n > 1000 {
			continue // 1.4 s under -race: .ci/run runs it without
		}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			g, _ := newGroup(t, group.Config{Algorithm: "round_robin"})
			gate, held := make(chan struct{}), make(chan struct{})
			g.Subscribe(func(e group.Event) {
				if e.Backend.ID == "first" {
					close(held)
					<-gate
				}
			})
			rec := record(g)
			require.NoError(t, g.Add(group.Backend{ID: "first", Addr: "10.9.9.9:80"}))
			<-held
			bs := make([]group.Backend, n)
			for i := range bs {
				bs[i] = group.Backend{Addr: fmt.Sprintf("10.%d.%d.%d:80", i>>16, i>>8&255, i&255)}
			}
			require.NoError(t, g.Set(bs)) // first drains and goes, n are added
			close(gate)
			assert.Len(t, rec.list(), 1+n+2)
			assert.Zero(t, g.Stats().EventsDropped)
		})
	}
}
