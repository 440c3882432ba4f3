package group_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/elbtest"
	"github.com/go-elb/elb/sticky"
)

// conn is a View attachment: an adapter's connection to one backend.
type conn struct{ id string }

// viewOf returns a View of g with the members ids ready and attached.
func viewOf(t testing.TB, g *group.Group, ids ...string) *group.View {
	t.Helper()
	v := g.NewView()
	t.Cleanup(v.Close)
	rs := make([]group.Readiness, len(ids))
	for i, id := range ids {
		v.Attach(id, &conn{id})
		rs[i] = group.Readiness{ID: id, Ready: true}
	}
	v.Report(rs...)
	return v
}

// A View picks only the members ready in it, returns each one's own
// attachment, and counts in the group: at every size.
func TestViewPicksOnlyReadyMembers(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100, 1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			bs := sized(n)
			g, _ := newGroup(t, group.Config{Algorithm: "round_robin"}, bs...)
			v := g.NewView()
			t.Cleanup(v.Close)
			_, _, err := v.Pick(ctx, group.Request{})
			require.ErrorIs(t, err, group.ErrNoHealthyBackend, "nothing ready yet")
			assert.Zero(t, v.Available())
			ready := map[string]bool{}
			for i, b := range bs {
				v.Attach(b.ID, &conn{b.ID})
				if i%2 == 0 {
					v.SetReady(b.ID, true, "")
					ready[b.ID] = true
				} else {
					v.SetReady(b.ID, false, "connecting")
				}
			}
			require.Equal(t, len(ready), v.Available())
			seen := map[string]int{}
			for range 2 * len(ready) {
				p, att, err := v.Pick(ctx, group.Request{})
				require.NoError(t, err)
				require.True(t, ready[p.ID()], "picked %s, not ready in the view", p.ID())
				require.Equal(t, p.ID(), att.(*conn).id, "the attachment is the picked member's")
				seen[p.ID()]++
				p.Done(nil)
			}
			assert.Len(t, seen, len(ready), "round robin over the ready members")
			for id, c := range seen {
				assert.Equal(t, 2, c, id)
			}
			st := g.Stats()
			assert.Equal(t, uint64(2*len(ready)), st.Requests, "the view's picks are the group's requests")
			assert.Zero(t, st.NoBackend, "a view with nothing ready is not the group's failure")
			assert.Zero(t, testing.AllocsPerRun(100, func() {
				p, _, _ := v.Pick(ctx, group.Request{})
				p.Done(nil)
			}))
			ok, why := v.Ready(bs[len(bs)-1].ID)
			if n > 1 && (n-1)%2 == 1 {
				assert.False(t, ok)
				assert.Equal(t, "connecting", why)
			}
		})
	}
}

// Picks through two Views and the group itself share one pick set and its
// counters: a run of failures through one View ejects the member for all.
func TestViewsShareOneGroup(t *testing.T) {
	g, clk := newGroup(t, group.Config{Algorithm: "round_robin",
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 3, BaseEjectionTime: 10 * time.Second}},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"}, group.Backend{ID: "c", Addr: "10.0.0.3:80"})
	v1 := viewOf(t, g, "a", "b", "c")
	v2 := viewOf(t, g, "a", "b", "c")
	fail := errors.New("unavailable")
	for i := 0; i < 3; {
		p, _, err := v1.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == "a" {
			p.Done(fail)
			i++
			continue
		}
		p.Done(nil)
	}
	group.CaughtUp(g)
	require.Equal(t, 2, g.Available(), "ejected by v1's failures")
	require.Equal(t, 2, v2.Available(), "and so gone from v2")
	for range 20 {
		for _, pick := range []func() (group.Pick, error){
			func() (group.Pick, error) { p, _, err := v2.Pick(ctx, group.Request{}); return p, err },
			func() (group.Pick, error) { return g.Pick(ctx, group.Request{}) },
		} {
			p, err := pick()
			require.NoError(t, err)
			require.NotEqual(t, "a", p.ID())
			p.Done(nil)
		}
	}
	st := g.Stats()
	assert.Equal(t, uint64(3), st.Failures)
	var total uint64
	for _, b := range st.Backends {
		total += b.Requests
	}
	assert.Equal(t, st.Requests, total)
	clk.Advance(11 * time.Second)
	require.Eventually(t, func() bool { return v2.Available() == 3 }, 5*time.Second, time.Millisecond, "back after the ejection, in every view")
}

// A session bound through one View is followed by another View and by
// Group.Pick, while the bound member is ready there; a View that cannot
// reach it sends the request elsewhere and leaves the binding alone.
func TestViewsShareBindings(t *testing.T) {
	g, _ := newGroup(t, group.Config{Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-S"}}, sized(10)...)
	ids := make([]string, 10)
	for i, b := range g.Backends() {
		ids[i] = b.ID
	}
	v1, v2 := viewOf(t, g, ids...), viewOf(t, g, ids...)
	for i := range 50 {
		req := group.Request{Affinity: fmt.Sprint("session-", i)}
		p, _, err := v1.Pick(ctx, req)
		require.NoError(t, err)
		bound := p.ID()
		p.Done(nil)
		p2, att, err := v2.Pick(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, bound, p2.ID())
		assert.True(t, p2.StickyHit())
		assert.Equal(t, bound, att.(*conn).id, "v2's own attachment")
		p2.Done(nil)
		p3, err := g.Pick(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, bound, p3.ID())
		p3.Done(nil)
		// Not reachable through v2: v2 balances the session elsewhere.
		v2.SetReady(bound, false, "down")
		p4, att, err := v2.Pick(ctx, req)
		require.NoError(t, err)
		assert.NotEqual(t, bound, p4.ID())
		assert.Equal(t, p4.ID(), att.(*conn).id)
		p4.Done(nil)
		p5, _, err := v1.Pick(ctx, req)
		require.NoError(t, err)
		assert.Equal(t, bound, p5.ID(), "v2's detour leaves the binding as it was")
		p5.Done(nil)
		v2.SetReady(bound, true, "")
	}
}

// A View follows the group's changes: members that leave are no longer
// picked, new ones once ready, a member back under its ID at once; it
// fails with ErrClosed once closed, or once the group is.
func TestViewFollowsTheGroup(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, sized(3)...)
	v := viewOf(t, g, "b0", "b1", "b2", "b3")
	require.Equal(t, 3, v.Available())
	require.NoError(t, g.Remove("b0"))
	assert.Equal(t, 2, v.Available())
	require.NoError(t, g.Add(group.Backend{ID: "b3", Addr: "10.9.9.9:80"}))
	assert.Equal(t, 3, v.Available(), "b3 was reported ready before it joined")
	require.NoError(t, g.Add(group.Backend{ID: "b4", Addr: "10.9.9.10:80"}))
	assert.Equal(t, 3, v.Available(), "b4 is not ready in the view")
	require.NoError(t, g.Add(group.Backend{ID: "b0", Addr: "10.0.0.0:80"}))
	assert.Equal(t, 4, v.Available(), "b0 is back, ready")
	v.Forget("b0")
	assert.Equal(t, 3, v.Available())
	v.Forget("nope")

	v2 := g.NewView()
	v2.SetReady("b1", true, "")
	v2.Close()
	v2.Close()
	v2.SetReady("b2", true, "") // ignored
	_, _, err := v2.Pick(ctx, group.Request{})
	assert.ErrorIs(t, err, group.ErrClosed)

	p, _, err := v.Pick(ctx, group.Request{})
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- g.Close(ctx) }()
	require.Eventually(t, func() bool { return g.Stats().Closed }, 5*time.Second, time.Millisecond)
	p.Done(nil) // the view's pick drains like the group's
	require.NoError(t, <-closed)
	assert.Zero(t, g.Stats().NoBackend, "the view's own failures are not the group's")
	_, _, err = v.Pick(ctx, group.Request{})
	assert.ErrorIs(t, err, group.ErrClosed)
	_, _, err = g.NewView().Pick(ctx, group.Request{})
	assert.ErrorIs(t, err, group.ErrClosed)
}

// A View's Repick avoids the backends a request tried, as the group's does.
func TestViewRepick(t *testing.T) {
	for name, cfg := range elbtest.Configs(registered()) {
		t.Run(name, func(t *testing.T) {
			g, _ := newGroup(t, cfg, sized(10)...)
			var ids []string
			for _, b := range g.Backends() {
				ids = append(ids, b.ID)
			}
			v := viewOf(t, g, ids[:5]...)
			var tried group.Tried
			seen := map[string]bool{}
			for range 5 {
				p, att, err := v.Repick(ctx, group.Request{Key: "k", Source: "10.1.1.1:5", Affinity: "s"}, &tried)
				require.NoError(t, err)
				require.False(t, seen[p.ID()], "tried %s twice", p.ID())
				require.Equal(t, p.ID(), att.(*conn).id)
				seen[p.ID()] = true
				p.Done(nil)
			}
		})
	}
}

// Pick and Done through a View allocate nothing, at every size, under
// every algorithm and sticky mode (following a binding).
func TestViewPickDoesNotAllocate(t *testing.T) {
	for name, cfg := range elbtest.Configs(registered()) {
		for _, n := range []int{1, 3, 100} {
			t.Run(fmt.Sprint(name, "/", n), func(t *testing.T) {
				g, _ := newGroup(t, cfg, sized(n)...)
				var ids []string
				for _, b := range g.Backends() {
					ids = append(ids, b.ID)
				}
				v := viewOf(t, g, ids[:max(1, n/2)]...)
				req := group.Request{Key: "k", Source: "10.1.1.1:5"}
				if cfg.Sticky != nil && cfg.Sticky.Mode != sticky.Cookie {
					req.Affinity = "s"
				}
				p, _, err := v.Pick(ctx, req) // makes the binding
				require.NoError(t, err)
				p.Done(nil)
				if c := p.Cookie(); c != "" {
					req.Affinity = c
				}
				allocs := testing.AllocsPerRun(200, func() {
					p, _, _ := v.Pick(ctx, req)
					p.Done(nil)
				})
				assert.Zero(t, allocs)
			})
		}
	}
}

// Views change readiness, and the group membership, while picks go on.
func TestViewConcurrency(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "least_request"}, sized(10)...)
	var ids []string
	for _, b := range g.Backends() {
		ids = append(ids, b.ID)
	}
	v := viewOf(t, g, ids...)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if p, att, err := v.Pick(ctx, group.Request{}); err == nil {
					if att.(*conn).id != p.ID() {
						panic("attachment of another member")
					}
					p.Done(nil)
				}
			}
		})
	}
	for i := range 300 {
		id := ids[i%len(ids)]
		v.SetReady(id, i%3 != 0, "")
		if i%10 == 0 {
			require.NoError(t, g.Remove(id))
			require.NoError(t, g.Add(sized(10)[i%len(ids)]))
		}
	}
	close(stop)
	wg.Wait()
	st := g.Stats()
	for _, b := range st.Backends {
		assert.Zero(t, b.InFlight)
	}
}
