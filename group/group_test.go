package group_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/fakeclock"
)

var ctx = context.Background()

// newGroup returns a group on a fake clock, closed when the test ends.
// Its Pick fails fast (Config.FailFast), as most tests want to see a pick
// fail where it would wait: newWaitingGroup is one that waits.
func newGroup(t testing.TB, cfg group.Config, bs ...group.Backend) (*group.Group, *fakeclock.Clock) {
	t.Helper()
	cfg.FailFast = true
	return newWaitingGroup(t, cfg, bs...)
}

// newWaitingGroup is newGroup without FailFast forced: cfg says.
func newWaitingGroup(t testing.TB, cfg group.Config, bs ...group.Backend) (*group.Group, *fakeclock.Clock) {
	t.Helper()
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	if cfg.Clock == nil {
		cfg.Clock = clk
	}
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	g, err := group.New(cfg)
	require.NoError(t, err)
	require.NoError(t, g.Add(bs...))
	// Close alone: advancing the clock an hour first, as this did, fired
	// 3,600 ticks and 60 sweeps of a binding table (half a second a group
	// under -race) and checked nothing; no test needs those timers.
	t.Cleanup(func() { _ = g.Close(ctx) })
	return g, clk
}

// counts picks n times (finishing each at once) and counts picks per ID.
func counts(t testing.TB, g *group.Group, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		out[p.ID()]++
		p.Done(nil)
	}
	return out
}

func TestBadInputIsTypedAndNamed(t *testing.T) {
	g, _ := newGroup(t, group.Config{Name: "orders"}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	cases := []struct {
		name string
		b    group.Backend
		want error
		says string
	}{
		{"weight over 100", group.Backend{Addr: "10.0.0.2:80", Weight: group.Weight(101)}, group.ErrInvalidWeight, "101"},
		{"negative weight", group.Backend{Addr: "10.0.0.2:80", Weight: group.Weight(-5)}, group.ErrInvalidWeight, "-5"},
		{"empty address", group.Backend{ID: "x"}, group.ErrInvalidAddress, "empty address"},
		{"no port", group.Backend{Addr: "10.0.0.2"}, group.ErrInvalidAddress, `"10.0.0.2"`},
		{"no host", group.Backend{Addr: ":80"}, group.ErrInvalidAddress, `":80"`},
		{"port 0", group.Backend{Addr: "h:0"}, group.ErrInvalidAddress, `"0"`},
		{"port too big", group.Backend{Addr: "h:65536"}, group.ErrInvalidAddress, `"65536"`},
		{"port not a number", group.Backend{Addr: "h:http"}, group.ErrInvalidAddress, `"http"`},
		{"duplicate ID", group.Backend{ID: "a", Addr: "10.0.0.9:80"}, group.ErrDuplicateID, `"a"`},
		{"duplicate address", group.Backend{ID: "b", Addr: "10.0.0.1:80"}, group.ErrDuplicateAddress, `"10.0.0.1:80"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := g.Add(c.b)
			require.ErrorIs(t, err, c.want)
			var be *group.BackendError
			require.ErrorAs(t, err, &be)
			assert.Equal(t, "orders", be.Group)
			assert.Contains(t, err.Error(), c.says)
			assert.Contains(t, err.Error(), `"orders"`)
		})
	}
	assert.Len(t, g.Backends(), 1, "no bad backend may have been added")
}

func TestAddIsAllOrNothing(t *testing.T) {
	g, _ := newGroup(t, group.Config{})
	err := g.Add(group.Backend{Addr: "10.0.0.1:80"}, group.Backend{Addr: "10.0.0.2:80", Weight: group.Weight(500)})
	require.ErrorIs(t, err, group.ErrInvalidWeight)
	err = g.Add(group.Backend{Addr: "10.0.0.1:80"}, group.Backend{Addr: "10.0.0.1:80"})
	require.ErrorIs(t, err, group.ErrDuplicateID)
	err = g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.1:80"})
	require.ErrorIs(t, err, group.ErrDuplicateAddress)
	assert.Empty(t, g.Backends())
}

func TestConfigErrors(t *testing.T) {
	_, err := group.New(group.Config{Name: "g", Algorithm: "no_such_algorithm"})
	require.ErrorIs(t, err, balancer.ErrUnknownAlgorithm)
	var ge *group.GroupError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, "g", ge.Group)
	var ue *balancer.UnknownAlgorithmError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "no_such_algorithm", ue.Name)
	assert.Contains(t, err.Error(), "no_such_algorithm")

	_, err = group.New(group.Config{Name: "g", DrainTimeout: -time.Second})
	require.ErrorIs(t, err, group.ErrInvalidConfig)
	assert.Contains(t, err.Error(), "-1s")
}

func TestUpdateAndRemoveErrors(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	require.ErrorIs(t, g.Update(group.Backend{ID: "zz", Addr: "10.0.0.3:80"}), group.ErrUnknownBackend)
	err := g.Update(group.Backend{ID: "a", Addr: "10.0.0.3:80"})
	require.ErrorIs(t, err, group.ErrAddressChange)
	assert.Contains(t, err.Error(), "10.0.0.3:80")
	require.ErrorIs(t, g.Update(group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(101)}), group.ErrInvalidWeight)

	err = g.Remove("a", "nope")
	require.ErrorIs(t, err, group.ErrUnknownBackend)
	assert.Contains(t, err.Error(), `"nope"`)
	assert.Len(t, g.Backends(), 2, "a failed Remove removes nothing")
}

func TestPickErrors(t *testing.T) {
	g, _ := newGroup(t, group.Config{Name: "empty"})
	_, err := g.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrNoBackends)
	assert.Contains(t, err.Error(), `"empty"`)

	require.NoError(t, g.Add(group.Backend{Addr: "10.0.0.1:80", Weight: group.Weight(0)}))
	_, err = g.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrNoAvailableBackend)
	assert.Equal(t, uint64(2), g.Stats().NoBackend)

	require.NoError(t, g.Close(ctx))
	_, err = g.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrClosed)
	require.ErrorIs(t, g.Add(group.Backend{Addr: "10.0.0.2:80"}), group.ErrClosed)
	require.ErrorIs(t, g.Update(group.Backend{Addr: "10.0.0.1:80"}), group.ErrClosed)
	require.ErrorIs(t, g.Remove("10.0.0.1:80"), group.ErrClosed)
	require.ErrorIs(t, g.Set(nil), group.ErrClosed)
	require.ErrorIs(t, g.Close(ctx), group.ErrClosed)

	var zero group.Pick
	zero.Done(errors.New("ignored")) // must not panic
	assert.Equal(t, "", zero.Addr())
}

// badAlgorithm's picker returns an index out of range.
type badAlgorithm struct{}

func (badAlgorithm) Build(eps []balancer.Endpoint) balancer.Picker { return badPicker(len(eps)) }

type badPicker int

func (p badPicker) Pick(balancer.Request) int { return int(p) }

func init() {
	if err := balancer.Register("test_out_of_range", badAlgorithm{}); err != nil {
		panic(err)
	}
}

func TestBrokenPickerIsAnErrorNotAPanic(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "test_out_of_range"}, group.Backend{Addr: "10.0.0.1:80"})
	_, err := g.Pick(ctx, group.Request{})
	require.ErrorIs(t, err, group.ErrPicker)
	assert.Contains(t, err.Error(), "test_out_of_range")
	assert.Zero(t, g.Stats().InFlight)
}

func TestWeights(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "weighted_round_robin"},
		group.Backend{ID: "default", Addr: "10.0.0.1:80"},
		group.Backend{ID: "five", Addr: "10.0.0.2:80", Weight: group.Weight(5)},
		group.Backend{ID: "off", Addr: "10.0.0.3:80", Weight: group.Weight(0)},
	)
	got := counts(t, g, 600)
	assert.Equal(t, map[string]int{"default": 100, "five": 500}, got)

	// The weights come back resolved: the default as 1, 0 as 0.
	for _, b := range g.Backends() {
		require.NotNil(t, b.Weight, b.ID)
		assert.Equal(t, map[string]int{"default": 1, "five": 5, "off": 0}[b.ID], *b.Weight, b.ID)
	}
	st := g.Stats()
	assert.Equal(t, 2, st.Available)
	assert.Equal(t, 0.0, st.Backends[2].EffectiveWeight)

	// Turning "off" on and "five" off takes effect for the next pick.
	require.NoError(t, g.Update(group.Backend{ID: "off", Addr: "10.0.0.3:80", Weight: group.Weight(3)}))
	require.NoError(t, g.Update(group.Backend{ID: "five", Addr: "10.0.0.2:80", Weight: group.Weight(0)}))
	got = counts(t, g, 400)
	assert.Equal(t, map[string]int{"default": 100, "off": 300}, got)
}

func TestLocalZoneAndFailover(t *testing.T) {
	g, _ := newGroup(t, group.Config{LocalZone: "az1"},
		group.Backend{ID: "a1", Addr: "10.0.1.1:80", Zone: "az1"},
		group.Backend{ID: "a2", Addr: "10.0.1.2:80", Zone: "az1", Weight: group.Weight(3)},
		group.Backend{ID: "b1", Addr: "10.0.2.1:80", Zone: "az2", Weight: group.Weight(100)},
	)
	assert.Equal(t, map[string]int{"a1": 100, "a2": 300}, counts(t, g, 400))

	// The local zone loses its last eligible backend: fail over to all zones.
	require.NoError(t, g.Update(group.Backend{ID: "a1", Addr: "10.0.1.1:80", Zone: "az1", Weight: group.Weight(0)}))
	require.NoError(t, g.Remove("a2"))
	assert.Equal(t, map[string]int{"b1": 50}, counts(t, g, 50))

	// It comes back: traffic returns home.
	require.NoError(t, g.Update(group.Backend{ID: "a1", Addr: "10.0.1.1:80", Zone: "az1"}))
	assert.Equal(t, map[string]int{"a1": 50}, counts(t, g, 50))
}

func TestStatsCountRequestsFailuresAndInFlight(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "round_robin"}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	var open []group.Pick
	for i := range 10 {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if i < 3 {
			open = append(open, p)
			continue
		}
		if i%2 == 0 {
			p.Done(errors.New("boom"))
		} else {
			p.DoneWith(group.Result{Latency: 10 * time.Millisecond})
		}
	}
	st := g.Stats()
	require.Len(t, st.Backends, 1)
	b := st.Backends[0]
	assert.Equal(t, uint64(10), b.Requests)
	assert.Equal(t, uint64(3), b.Failures)
	assert.Equal(t, int64(3), b.InFlight)
	// The latency estimate counts each failure as at least the 1s penalty.
	assert.GreaterOrEqual(t, b.Latency, time.Second)
	assert.Equal(t, health.Healthy, b.State)
	assert.Equal(t, uint64(10), st.Requests)
	assert.Equal(t, int64(3), st.InFlight)

	// Totals keep what a removed backend counted.
	require.NoError(t, g.Remove("a"))
	for _, p := range open {
		p.Done(nil)
	}
	st = g.Stats()
	assert.Empty(t, st.Backends)
	assert.Equal(t, uint64(10), st.Requests)
	assert.Equal(t, uint64(3), st.Failures)
	assert.Zero(t, st.InFlight)
}

// recorder collects a group's events.
type recorder struct {
	g   *group.Group
	mu  sync.Mutex
	evs []group.Event
}

func record(g *group.Group) *recorder {
	r := &recorder{g: g}
	g.Subscribe(func(e group.Event) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() })
	return r
}

// all returns the events so far, once those queued are delivered.
func (r *recorder) all() []group.Event {
	group.WaitEvents(r.g)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]group.Event(nil), r.evs...)
}

// list returns "type:id" for each event so far, once those queued are
// delivered.
func (r *recorder) list() []string {
	group.WaitEvents(r.g)
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.evs))
	for i, e := range r.evs {
		out[i] = fmt.Sprintf("%v:%s", e.Type, e.Backend.ID)
	}
	return out
}

func TestRemoveDrainsInFlightRequests(t *testing.T) {
	g, clk := newGroup(t, group.Config{Algorithm: "round_robin"}, group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	rec := record(g)
	var onA []group.Pick
	for len(onA) < 3 {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == "a" {
			onA = append(onA, p)
		} else {
			p.Done(nil)
		}
	}
	require.NoError(t, g.Remove("a"))
	assert.Equal(t, map[string]int{"b": 20}, counts(t, g, 20), "no new request after Remove")
	st := g.Stats()
	require.Len(t, st.Backends, 2)
	assert.Equal(t, health.Draining, st.Backends[1].State)
	assert.Equal(t, int64(3), st.Backends[1].InFlight)

	clk.Advance(time.Minute) // well inside the drain timeout
	onA[0].Done(nil)
	onA[1].Done(nil)
	assert.Equal(t, []string{"draining:a"}, rec.list(), "still draining while a request is open")
	onA[2].Done(nil)
	assert.Equal(t, []string{"draining:a", "removed:a"}, rec.list())
	assert.Len(t, g.Stats().Backends, 1)
	assert.Zero(t, clk.Pending(), "the drain timer is stopped")
	assert.Equal(t, int64(0), rec.all()[1].InFlight, "drained cleanly")
}

func TestDrainTimeout(t *testing.T) {
	g, clk := newGroup(t, group.Config{DrainTimeout: 30 * time.Second}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	rec := record(g)
	p, err := g.Pick(ctx, group.Request{})
	require.NoError(t, err)
	require.NoError(t, g.Remove("a"))
	clk.Advance(29 * time.Second)
	assert.Equal(t, []string{"draining:a"}, rec.list())
	clk.Advance(time.Second)
	assert.Equal(t, []string{"draining:a", "removed:a"}, rec.list())
	assert.Equal(t, int64(1), rec.all()[1].InFlight, "the event says what was cut off")
	p.Done(nil) // late: counts nothing twice, fires nothing
	assert.Len(t, rec.list(), 2)
	assert.Equal(t, uint64(1), g.Stats().Requests)
}

func TestCloseWaitsForDrain(t *testing.T) {
	clk := fakeclock.New(time.Unix(0, 0))
	g, err := group.New(group.Config{Name: "c", Clock: clk})
	require.NoError(t, err)
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"}))
	rec := record(g)
	p, err := g.Pick(ctx, group.Request{})
	require.NoError(t, err)

	closed := make(chan error, 1)
	go func() { closed <- g.Close(ctx) }()
	require.Eventually(t, func() bool {
		q, err := g.Pick(ctx, group.Request{})
		q.Done(nil)
		return errors.Is(err, group.ErrClosed)
	}, time.Second, time.Millisecond)
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v with a request in flight", err)
	case <-time.After(20 * time.Millisecond):
	}
	p.Done(nil)
	require.NoError(t, <-closed)
	evs := rec.list()
	assert.Equal(t, "closed:", evs[len(evs)-1], "EventClosed comes last: %v", evs)
	assert.Len(t, evs, 5) // draining a, b; removed a, b; closed
}

func TestCloseReportsRequestsCutByTheDrainTimeout(t *testing.T) {
	clk := fakeclock.New(time.Unix(0, 0))
	g, err := group.New(group.Config{Name: "c", Clock: clk, DrainTimeout: 10 * time.Second})
	require.NoError(t, err)
	require.NoError(t, g.Add(group.Backend{Addr: "10.0.0.1:80"}))
	_, err = g.Pick(ctx, group.Request{}) // never done
	require.NoError(t, err)
	closed := make(chan error, 1)
	go func() { closed <- g.Close(ctx) }()
	require.Eventually(t, func() bool { return clk.Pending() == 1 }, time.Second, time.Millisecond)
	clk.Advance(10 * time.Second)
	err = <-closed
	require.ErrorIs(t, err, group.ErrDrainTimeout)
	assert.Contains(t, err.Error(), "1 requests were still in flight after 10s")
}

func TestCloseOfAnIdleGroupIgnoresADoneContext(t *testing.T) {
	done, cancel := context.WithCancel(ctx)
	cancel()
	for range 50 {
		g, _ := newGroup(t, group.Config{}, group.Backend{Addr: "10.0.0.1:80"})
		require.NoError(t, g.Close(done), "nothing was in flight")
	}
}

func TestCloseGivesUpWhenContextEnds(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{Addr: "10.0.0.1:80"})
	_, err := g.Pick(ctx, group.Request{})
	require.NoError(t, err)
	c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	err = g.Close(c)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	// A Pick without its Done: the error says where.
	assert.Equal(t, `elb: group "test": context deadline exceeded: backends still draining: "10.0.0.1:80" has 1 in flight (each Pick needs its Done; the drain timeout, 5m0s, cuts them)`, err.Error())
}

func TestSet(t *testing.T) {
	g, _ := newGroup(t, group.Config{},
		group.Backend{ID: "keep", Addr: "10.0.0.1:80", Weight: group.Weight(2)},
		group.Backend{ID: "same", Addr: "10.0.0.2:80"},
		group.Backend{ID: "drop", Addr: "10.0.0.3:80"},
		group.Backend{ID: "move", Addr: "10.0.0.4:80"},
	)
	rec := record(g)
	err := g.Set([]group.Backend{
		{ID: "keep", Addr: "10.0.0.1:80", Weight: group.Weight(7)},
		{ID: "same", Addr: "10.0.0.2:80"},
		{ID: "move", Addr: "10.0.0.5:80"},
		{ID: "new", Addr: "10.0.0.3:80"}, // the dropped backend's address, under a new ID
	})
	require.NoError(t, err)
	ids := map[string]string{}
	for _, b := range g.Backends() {
		ids[b.ID] = fmt.Sprintf("%s/%d", b.Addr, *b.Weight)
	}
	assert.Equal(t, map[string]string{"keep": "10.0.0.1:80/7", "same": "10.0.0.2:80/1", "move": "10.0.0.5:80/1", "new": "10.0.0.3:80/1"}, ids)
	// Draining comes first, so that a subscriber tracking backends by ID
	// sees "move" leave and then come back at its new address.
	assert.Equal(t, []string{"draining:drop", "draining:move", "updated:keep", "added:move", "added:new", "removed:drop", "removed:move"}, rec.list())

	before := len(rec.list())
	require.NoError(t, g.Set(g.Backends()))
	assert.Len(t, rec.list(), before, "a Set that changes nothing is silent")

	require.ErrorIs(t, g.Set([]group.Backend{{Addr: "10.0.0.9:80"}, {Addr: "10.0.0.9:80"}}), group.ErrDuplicateID)
	require.ErrorIs(t, g.Set([]group.Backend{{Addr: "10.0.0.9:80", Weight: group.Weight(1000)}}), group.ErrInvalidWeight)
	assert.Len(t, g.Backends(), 4, "a failed Set changes nothing")
}

func TestSubscriberMayCallTheGroup(t *testing.T) {
	g, _ := newGroup(t, group.Config{})
	var seen []string
	cancel := g.Subscribe(func(e group.Event) {
		seen = append(seen, e.Type.String()+":"+e.Backend.ID)
		if e.Type == group.EventAdded && e.Backend.ID == "a" {
			require.NoError(t, g.Add(group.Backend{ID: "b", Addr: "10.0.0.2:80"}))
		}
	})
	require.NoError(t, g.Add(group.Backend{ID: "a", Addr: "10.0.0.1:80"}))
	group.WaitEvents(g)
	assert.Equal(t, []string{"added:a", "added:b"}, seen)
	cancel()
	require.NoError(t, g.Add(group.Backend{ID: "c", Addr: "10.0.0.3:80"}))
	group.WaitEvents(g)
	assert.Len(t, seen, 2, "no event after cancel")
}

func TestAPanickingSubscriberDoesNotStopEvents(t *testing.T) {
	g, _ := newGroup(t, group.Config{})
	rec := record(g)
	cancel := g.Subscribe(func(e group.Event) {
		if e.Backend.ID == "boom" {
			panic("subscriber bug")
		}
	})
	defer cancel()
	require.NotPanics(t, func() {
		require.NoError(t, g.Add(group.Backend{ID: "boom", Addr: "10.0.0.1:80"}, group.Backend{ID: "after", Addr: "10.0.0.2:80"}))
	}, "no caller runs a subscriber")
	require.NoError(t, g.Add(group.Backend{ID: "later", Addr: "10.0.0.3:80"}))
	assert.Equal(t, []string{"added:boom", "added:after", "added:later"}, rec.list(), "the rest of the batch and later events still arrive")
	assert.Equal(t, uint64(1), g.Stats().SubscriberPanics)
}

func TestUpdateWithoutChangeIsSilent(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(2)})
	rec := record(g)
	require.NoError(t, g.Update(group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(2)}))
	assert.Empty(t, rec.list())
	require.NoError(t, g.Update(group.Backend{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(3)}))
	assert.Equal(t, []string{"updated:a"}, rec.list())
}

func TestMetadataIsCopied(t *testing.T) {
	md := map[string]string{"rack": "r1"}
	g, _ := newGroup(t, group.Config{}, group.Backend{Addr: "10.0.0.1:80", Metadata: md})
	md["rack"] = "changed"
	p, err := g.Pick(ctx, group.Request{})
	require.NoError(t, err)
	defer p.Done(nil)
	assert.Equal(t, "r1", p.Backend().Metadata["rack"])
	bs := g.Backends()
	bs[0].Metadata["rack"] = "changed too"
	assert.Equal(t, "r1", g.Backends()[0].Metadata["rack"])
}

// TestRemoveUnderLoadLosesNothing runs pickers flat out while backends are
// removed and re-added: no pick may land on a backend after its removal
// returned, every request is counted once, and every drain ends cleanly.
func TestRemoveUnderLoadLosesNothing(t *testing.T) {
	for _, alg := range balancer.Names() {
		if alg == "test_out_of_range" || alg == "primary_backup" || alg == balancer.NamePrequal { // prequal would probe made-up addresses
			continue
		}
		t.Run(alg, func(t *testing.T) {
			g, _ := newGroup(t, group.Config{Algorithm: alg})
			rec := record(g)
			const n = 8
			for i := range n {
				require.NoError(t, g.Add(group.Backend{ID: fmt.Sprint(i), Addr: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: group.Weight(i + 1)}))
			}
			var removed [n]atomic.Bool // set once Remove(i) has returned
			var picks, violations atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for k := 0; ; k++ {
						select {
						case <-stop:
							return
						default:
						}
						var was [n]bool
						for i := range n {
							was[i] = removed[i].Load()
						}
						p, err := g.Pick(ctx, group.Request{Key: fmt.Sprint(w, k), Source: "10.9.9.9"})
						if err != nil {
							continue
						}
						picks.Add(1)
						var i int
						fmt.Sscan(p.ID(), &i)
						if was[i] && removed[i].Load() {
							violations.Add(1)
						}
						if k%7 == 0 {
							time.Sleep(time.Microsecond) // hold some requests open
						}
						p.Done(nil)
						runtime.Gosched() // leave the writer a share of 2 cores
					}
				})
			}
			for round := range 20 {
				i := round % (n - 1) // backend n-1 always stays
				require.NoError(t, g.Remove(fmt.Sprint(i)))
				removed[i].Store(true)
				time.Sleep(200 * time.Microsecond)
				removed[i].Store(false) // cleared before it can be picked again
				require.NoError(t, g.Add(group.Backend{ID: fmt.Sprint(i), Addr: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: group.Weight(i + 1)}))
			}
			close(stop)
			wg.Wait()
			assert.Zero(t, violations.Load(), "picks of a removed backend")
			require.Eventually(t, func() bool { return len(g.Stats().Backends) == n }, time.Second, time.Millisecond, "every drain ends")
			st := g.Stats()
			assert.Equal(t, uint64(picks.Load()), st.Requests, "every request counted once")
			assert.Zero(t, st.InFlight)
			for _, e := range rec.all() {
				if e.Type == group.EventRemoved {
					assert.Zero(t, e.InFlight, "removed only once drained")
				}
			}
		})
	}
}

// TestConcurrentChanges hammers every mutator at once with picks; run with
// -race.
func TestConcurrentChanges(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "least_request"})
	var wg sync.WaitGroup
	var picks atomic.Uint64
	stop := make(chan struct{})
	for range 3 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if p, err := g.Pick(ctx, group.Request{}); err == nil {
					picks.Add(1)
					_ = p.Addr()
					p.Done(nil)
				}
				_ = g.Stats()
			}
		})
	}
	for i := range 200 {
		id := fmt.Sprint(i % 10)
		b := group.Backend{ID: id, Addr: fmt.Sprintf("10.0.0.%d:80", i%10+1), Weight: group.Weight(i%100 + 1), Zone: fmt.Sprint("az", i%3)}
		switch i % 4 {
		case 0:
			_ = g.Add(b)
		case 1:
			_ = g.Update(b)
		case 2:
			_ = g.Remove(id)
		case 3:
			_ = g.Set([]group.Backend{b, {ID: "fixed", Addr: "10.0.1.1:80"}})
		}
	}
	close(stop)
	wg.Wait()
	require.Eventually(t, func() bool { return len(g.Stats().Backends) == len(g.Backends()) }, time.Second, time.Millisecond, "every drain ends")
	st := g.Stats()
	assert.Zero(t, st.InFlight)
	assert.Equal(t, picks.Load(), st.Requests, "every pick counted once, departed backends included")
}

func TestPickAndDoneDoNotAllocate(t *testing.T) {
	for _, alg := range []string{"round_robin", "weighted_round_robin", "weighted_random", "random", "weighted_least_connections", "least_request", "consistent_hash", "source_ip_hash"} {
		var bs []group.Backend
		for i := range 50 {
			bs = append(bs, group.Backend{Addr: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: group.Weight(i%10 + 1)})
		}
		g, _ := newGroup(t, group.Config{Algorithm: alg}, bs...)
		req := group.Request{Key: "user-42", Source: "192.0.2.7:5555"}
		allocs := testing.AllocsPerRun(1000, func() {
			p, err := g.Pick(ctx, req)
			if err != nil {
				panic(err)
			}
			p.Done(nil)
		})
		assert.Zero(t, allocs, alg)
	}
}

func TestReleaseCountsNeitherWay(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	p, err := g.Pick(ctx, group.Request{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), g.Stats().InFlight)
	p.Release()
	st := g.Stats()
	assert.Zero(t, st.InFlight)
	assert.Zero(t, st.Requests)
	assert.Zero(t, st.Failures)
	assert.Equal(t, 1, g.Len())
	var zero group.Pick
	zero.Release() // must not panic
}
