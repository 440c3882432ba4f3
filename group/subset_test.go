package group_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/elbtest"
	"github.com/go-elb/elb/internal/fakeclock"
)

// subsetOf returns the IDs of g's members in its subset, sorted.
func subsetOf(g *group.Group) []string {
	var in []string
	for _, b := range g.Stats().Backends {
		if !b.OutsideSubset && b.State != health.Draining {
			in = append(in, b.ID)
		}
	}
	slices.Sort(in)
	return in
}

// newSubsetChecked is newChecked with subsetting, on a fleet and a clock
// shared with other such groups (clients).
func newSubsetChecked(t *testing.T, f *fleet, clk *fakeclock.Clock, sc group.SubsetConfig, bs ...group.Backend) *checked {
	t.Helper()
	g, err := group.New(group.Config{
		Name:     "test",
		Subset:   &sc,
		Clock:    clk,
		FailFast: true,
		Health: &health.Config{Probe: f, Interval: time.Second, Timeout: time.Second,
			InitialInterval: time.Second, Jitter: health.NoJitter},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.Close(ctx) })
	c := &checked{Group: g, clk: clk, fleet: f, rec: record(g)}
	group.Warm(g)
	require.NoError(t, g.Add(bs...))
	c.settle(t)
	return c
}

// healthyIn counts the healthy members of the subset.
func healthyIn(c *checked) int {
	n := 0
	for _, b := range c.Stats().Backends {
		if !b.OutsideSubset && b.State == health.Healthy {
			n++
		}
	}
	return n
}

// C clients of B backends probe C x k times an interval with subsets of k,
// not C x B: each client probes its own subset's members once, and no
// other member ever.
func TestSubsetProbesFallFromCxBToCxK(t *testing.T) {
	const clients, backends, k = 12, 60, 5
	bs := make([]group.Backend, backends)
	for i := range bs {
		bs[i] = group.Backend{ID: fmt.Sprintf("b%d", i), Addr: fmt.Sprintf("10.0.0.%d:80", i+1)}
	}
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	all, sub := newFleet(), newFleet()
	var full, subsetted []*checked
	for i := range clients {
		// Full: a subset as large as the group, the same as no subset.
		full = append(full, newSubsetChecked(t, all, clk, group.SubsetConfig{Size: backends, ClientIndex: i, ClientCount: clients}, bs...))
		subsetted = append(subsetted, newSubsetChecked(t, sub, clk, group.SubsetConfig{Size: k, ClientIndex: i, ClientCount: clients}, bs...))
	}
	total := func(f *fleet) int {
		f.mu.Lock()
		defer f.mu.Unlock()
		n := 0
		for _, c := range f.probes {
			n += c
		}
		return n
	}
	before, beforeSub := total(all), total(sub)
	const intervals = 4
	for range intervals {
		clk.Advance(time.Second)
		for i := range clients {
			full[i].settle(t)
			subsetted[i].settle(t)
		}
	}
	perFull, perSub := (total(all)-before)/intervals, (total(sub)-beforeSub)/intervals
	t.Logf("probes an interval: %d clients x %d backends: %d without subsets, %d with subsets of %d", clients, backends, perFull, perSub, k)
	assert.Equal(t, clients*backends, perFull)
	assert.Equal(t, clients*k, perSub)
	// Every backend is probed by some client, by about clients x k /
	// backends of them (balanced: at most 10% over the mean, rounded).
	per := map[string]int{}
	for _, c := range subsetted {
		ids := subsetOf(c.Group)
		require.Len(t, ids, k)
		for _, id := range ids {
			per[id]++
		}
		assert.Equal(t, k, c.Stats().Available)
		assert.Equal(t, backends, c.Len(), "every backend stays a member")
	}
	for _, n := range per {
		assert.LessOrEqual(t, n, 1) // 12 x 5 / 60 = 1, and 1.1 rounds to 1
	}
	assert.Len(t, per, backends)
}

// Only the subset's members are picked, under every algorithm and sticky
// mode, and with the default algorithm at every size: the others are
// members, listed and flagged.
func TestSubsetPicksOnlyItsMembers(t *testing.T) {
	type tc struct {
		name string
		cfg  group.Config
		n, k int
	}
	var cases []tc
	for name, cfg := range elbtest.Configs(registered()) {
		for _, nk := range [][2]int{{3, 20}, {164, 20}} {
			cases = append(cases, tc{name, cfg, nk[0], nk[1]})
		}
	}
	for _, n := range []int{1, 2, 3, 10, 100, 164, 500, 1000} {
		for _, k := range []int{1, 3, 20} {
			cases = append(cases, tc{"default", group.Config{}, n, k})
		}
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/n=%d/k=%d", c.name, c.n, c.k), func(t *testing.T) {
			cfg := c.cfg
			cfg.Subset = &group.SubsetConfig{Size: c.k, ClientID: "client-7"}
			g, _ := newGroup(t, cfg, sized(c.n)...)
			in := subsetOf(g)
			require.Len(t, in, min(c.k, c.n))
			st := g.Stats()
			require.Len(t, st.Backends, c.n)
			assert.Equal(t, min(c.k, c.n), st.Available)
			for i := range 60 {
				req := group.Request{Key: fmt.Sprint("k", i), Source: fmt.Sprintf("192.0.2.%d:1", i%250), Affinity: fmt.Sprint("s", i%7)}
				p, err := g.Pick(ctx, req)
				require.NoError(t, err)
				assert.Contains(t, in, p.ID())
				p.Done(nil)
			}
		})
	}
}

// The subset depends on the client's ID and the members, not on the order
// they were added in; one member added or removed changes at most one
// entry of a client's subset.
func TestSubsetIsStable(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100, 164, 500, 1000} {
		bs := sized(n)
		a, _ := newGroup(t, group.Config{Subset: &group.SubsetConfig{Size: 10, ClientID: "host-1"}}, bs...)
		rev := slices.Clone(bs)
		slices.Reverse(rev)
		b, _ := newGroup(t, group.Config{Subset: &group.SubsetConfig{Size: 10, ClientID: "host-1"}}, rev...)
		require.Equal(t, subsetOf(a), subsetOf(b), "n=%d", n)
		before := subsetOf(a)
		require.NoError(t, a.Add(group.Backend{ID: "new", Addr: "192.0.2.1:80"}))
		assert.LessOrEqual(t, len(diff(before, subsetOf(a))), 1, "n=%d: add", n)
		require.NoError(t, a.Remove(before[0]))
		assert.LessOrEqual(t, len(diff(subsetOf(b), subsetOf(a))), 2, "n=%d: add and remove", n)
	}
	// Another ID, another subset (at 1000 members, all but surely).
	a, _ := newGroup(t, group.Config{Subset: &group.SubsetConfig{Size: 10, ClientID: "host-1"}}, sized(1000)...)
	b, _ := newGroup(t, group.Config{Subset: &group.SubsetConfig{Size: 10, ClientID: "host-2"}}, sized(1000)...)
	assert.NotEqual(t, subsetOf(a), subsetOf(b))
	// No ID: a random one, drawn per group.
	c, _ := newGroup(t, group.Config{Subset: &group.SubsetConfig{}}, sized(1000)...)
	d, _ := newGroup(t, group.Config{Subset: &group.SubsetConfig{}}, sized(1000)...)
	assert.Len(t, subsetOf(c), group.DefaultSubsetSize)
	assert.NotEqual(t, subsetOf(c), subsetOf(d))
}

// diff returns the IDs of b not in a.
func diff(a, b []string) []string {
	var out []string
	for _, id := range b {
		if !slices.Contains(a, id) {
			out = append(out, id)
		}
	}
	return out
}

// A failed member of the subset is not replaced while MinHealthy members
// of the subset are healthy; below that, members from outside join, one
// for each healthy member missing, and leave once the subset recovers.
func TestSubsetReplacesOnlyBelowTheFloor(t *testing.T) {
	bs := sized(30)
	f := newFleet()
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	c := newSubsetChecked(t, f, clk, group.SubsetConfig{Size: 6, MinHealthy: 4, ClientID: "c"}, bs...)
	c.step(t, 3)
	base := subsetOf(c.Group)
	require.Len(t, base, 6)
	require.Equal(t, 6, healthyIn(c))
	addr := map[string]string{}
	for _, b := range bs {
		addr[b.ID] = b.Addr
	}
	// Two down: 4 healthy, at the floor. Nothing joins.
	f.set(addr[base[0]], true)
	f.set(addr[base[1]], true)
	c.step(t, 3)
	assert.Equal(t, base, subsetOf(c.Group), "no replacement at the floor")
	assert.Equal(t, 4, healthyIn(c))
	assert.Equal(t, 4, c.Stats().Available)
	// A third down: 3 healthy, one missing: one member joins.
	f.set(addr[base[2]], true)
	c.step(t, 3)
	now := subsetOf(c.Group)
	joined := diff(base, now)
	require.Len(t, joined, 1, "one replacement for one missing")
	assert.Subset(t, now, base)
	c.step(t, 3) // its checks pass
	assert.Equal(t, 4, healthyIn(c))
	assert.Equal(t, 4, c.Stats().Available)
	// The replacement turns out unhealthy: it stays, probed, and the next
	// joins.
	f.set(addr[joined[0]], true)
	c.step(t, 3)
	now = subsetOf(c.Group)
	assert.Len(t, diff(base, now), 2)
	assert.Contains(t, now, joined[0])
	c.step(t, 3)
	assert.Equal(t, 4, healthyIn(c))
	// The subset's own members recover: the replacements leave, unprobed.
	for _, id := range base[:3] {
		f.set(addr[id], false)
	}
	c.step(t, 3)
	assert.Equal(t, base, subsetOf(c.Group))
	probes := f.count(addr[joined[0]])
	c.step(t, 2)
	assert.Equal(t, probes, f.count(addr[joined[0]]), "a member that left is not probed")
	for _, b := range c.Stats().Backends {
		if b.ID == joined[0] {
			assert.True(t, b.OutsideSubset)
			assert.Equal(t, health.Initial, b.State)
		}
	}
}

// The default floor is half the subset, rounded up: with 5 of 10 healthy,
// nothing joins; with 4, one does.
func TestSubsetDefaultFloor(t *testing.T) {
	bs := sized(40)
	f := newFleet()
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	c := newSubsetChecked(t, f, clk, group.SubsetConfig{Size: 10, ClientIndex: 3, ClientCount: 8}, bs...)
	c.step(t, 3)
	base := subsetOf(c.Group)
	addr := map[string]string{}
	for _, b := range bs {
		addr[b.ID] = b.Addr
	}
	for _, id := range base[:5] {
		f.set(addr[id], true)
	}
	c.step(t, 3)
	assert.Equal(t, base, subsetOf(c.Group))
	f.set(addr[base[5]], true)
	c.step(t, 3)
	assert.Len(t, diff(base, subsetOf(c.Group)), 1)
}

// With LocalZone, the subset is the local zone's while it has Size
// members, and all of them plus others' when it has fewer.
func TestSubsetLocalZoneFirst(t *testing.T) {
	var bs []group.Backend
	for i := range 40 {
		z := "az1"
		if i%4 != 0 {
			z = "az2" // 10 in az1, 30 in az2
		}
		bs = append(bs, group.Backend{ID: fmt.Sprint("b", i), Addr: fmt.Sprintf("10.0.0.%d:80", i+1), Zone: z})
	}
	zones := func(g *group.Group) map[string]int {
		out := map[string]int{}
		for _, b := range g.Stats().Backends {
			if !b.OutsideSubset {
				out[b.Zone]++
			}
		}
		return out
	}
	for _, sc := range []group.SubsetConfig{{ClientID: "c"}, {ClientIndex: 1, ClientCount: 3}} {
		sc.Size = 4
		g, _ := newGroup(t, group.Config{LocalZone: "az1", Subset: &sc}, bs...)
		assert.Equal(t, map[string]int{"az1": 4}, zones(g))
		assert.Equal(t, []group.ZoneStats{{Zone: "az1", Backends: 4, Healthy: 4}}, g.Stats().Zones)
		sc.Size = 14
		g, _ = newGroup(t, group.Config{LocalZone: "az1", Subset: &sc}, bs...)
		assert.Equal(t, map[string]int{"az1": 10, "az2": 4}, zones(g))
		for id := range counts(t, g, 100) {
			assert.Contains(t, []string{"az1"}, zoneOf(bs, id), "picks stay in the local zone")
		}
	}
	// A zone change is a membership change: the subset follows it.
	sc := group.SubsetConfig{Size: 4, ClientID: "c"}
	g, _ := newGroup(t, group.Config{LocalZone: "az3", Subset: &sc}, bs...)
	moved := bs[1]
	moved.Zone = "az3"
	require.NoError(t, g.Update(moved))
	assert.Contains(t, subsetOf(g), moved.ID)
}

func zoneOf(bs []group.Backend, id string) string {
	for _, b := range bs {
		if b.ID == id {
			return b.Zone
		}
	}
	return ""
}

// Ejections count against the subset: MaxEjectionPercent of its members,
// not of the group's.
func TestSubsetOutlierDetection(t *testing.T) {
	g, _ := newGroup(t, group.Config{
		Subset:  &group.SubsetConfig{Size: 10, ClientID: "c"},
		Outlier: &health.OutlierConfig{ConsecutiveFailures: 2, MaxEjectionPercent: 10},
	}, sized(200)...)
	fail := errors.New("boom")
	for range 200 {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		p.Done(fail)
	}
	ejected := 0
	for _, b := range g.Stats().Backends {
		if b.State == health.Ejected {
			ejected++
			assert.False(t, b.OutsideSubset)
		}
	}
	assert.Equal(t, 1, ejected, "10%% of a subset of 10")
}

// Pick and Done allocate nothing with subsetting either.
func TestSubsetPickAndDoneDoNotAllocate(t *testing.T) {
	g, _ := newGroup(t, group.Config{Subset: &group.SubsetConfig{Size: 5, ClientIndex: 2, ClientCount: 10}}, sized(100)...)
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := g.Pick(ctx, group.Request{})
		if err != nil {
			panic(err)
		}
		p.Done(nil)
	})
	assert.Zero(t, allocs)
}

// Registry.Find finds a member outside the subset, flagged.
func TestSubsetMembersOutsideAreFound(t *testing.T) {
	reg := &group.Registry{}
	g, _ := newGroup(t, group.Config{Name: "orders", Registry: reg, Subset: &group.SubsetConfig{Size: 1, ClientID: "c"}}, sized(10)...)
	var out string
	for _, b := range g.Stats().Backends {
		if b.OutsideSubset {
			out = b.ID
		}
	}
	locs := reg.Find(out)
	require.Len(t, locs, 1)
	assert.Equal(t, "orders", locs[0].Group)
}

// BenchmarkSubsetChange is one membership change (a backend removed, or
// added back) in a group with subsetting: the subset is chosen again. A
// change of health or weight chooses nothing again (BenchmarkRebuild).
func BenchmarkSubsetChange(b *testing.B) {
	for _, c := range []struct {
		name string
		sc   group.SubsetConfig
		n    int
	}{
		{"rendezvous", group.SubsetConfig{Size: 32, ClientID: "c"}, 1000},
		{"rendezvous", group.SubsetConfig{Size: 32, ClientID: "c"}, 10000},
		{"balanced/clients=1000", group.SubsetConfig{Size: 32, ClientIndex: 7, ClientCount: 1000}, 1000},
		{"balanced/clients=10000", group.SubsetConfig{Size: 32, ClientIndex: 7, ClientCount: 10000}, 1000},
	} {
		b.Run(fmt.Sprintf("%s/n=%d", c.name, c.n), func(b *testing.B) {
			bs := sized(c.n)
			g, _ := newGroup(b, group.Config{Subset: &c.sc}, bs...)
			i := 0
			for b.Loop() {
				i++
				var err error
				if i%2 == 1 {
					err = g.Remove(bs[0].ID)
				} else {
					err = g.Add(bs[0])
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
