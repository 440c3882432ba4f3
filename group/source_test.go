package group_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/fakeclock"
)

// scriptSource is a Source driven by the test: each Next announces itself on
// calls and returns the next scriptAnswer sent with send.
type scriptSource struct {
	answers chan scriptAnswer
	calls   chan struct{}
}

type scriptAnswer struct {
	u   group.SourceUpdate
	err error
}

func newScriptSource() *scriptSource {
	return &scriptSource{answers: make(chan scriptAnswer), calls: make(chan struct{}, 100)}
}

func (s *scriptSource) Next(ctx context.Context) (group.SourceUpdate, error) {
	s.calls <- struct{}{}
	select {
	case a := <-s.answers:
		return a.u, a.err
	case <-ctx.Done():
		return group.SourceUpdate{}, ctx.Err()
	}
}

// await waits for Sync's next call of Next: by then the previous scriptAnswer
// has been applied, or refused, reported and backed off from.
func (s *scriptSource) await(t *testing.T) {
	t.Helper()
	select {
	case <-s.calls:
	case <-time.After(5 * time.Second):
		t.Fatal("Sync did not call Next")
	}
}

// send answers the pending Next with u.
func (s *scriptSource) send(t *testing.T, u group.SourceUpdate) {
	t.Helper()
	s.answers <- scriptAnswer{u: u}
}

// syncer runs Sync in the background for the length of a test.
type syncer struct {
	src    *scriptSource
	clk    *fakeclock.Clock // Sync's clock: its backoff timer is the only one
	cancel context.CancelFunc
	done   chan error

	mu   sync.Mutex
	errs []error
}

func startSync(t *testing.T, g *group.Group, cfg group.SyncConfig) *syncer {
	t.Helper()
	s := &syncer{src: newScriptSource(), clk: fakeclock.New(time.Unix(1_700_000_000, 0)), done: make(chan error, 1)}
	if cfg.Clock == nil {
		cfg.Clock = s.clk
	}
	cfg.OnError = func(err error) { s.mu.Lock(); s.errs = append(s.errs, err); s.mu.Unlock() }
	var c context.Context
	c, s.cancel = context.WithCancel(ctx)
	go func() { s.done <- group.RunSync(c, g, s.src, cfg) }()
	t.Cleanup(func() { s.cancel(); <-s.done })
	s.src.await(t)
	return s
}

// apply sends u and waits until Sync has applied it and calls Next again.
func (s *syncer) apply(t *testing.T, u group.SourceUpdate) {
	t.Helper()
	s.src.send(t, u)
	s.src.await(t)
}

// reported returns the errors reported so far.
func (s *syncer) reported() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// fail answers Next with an error and waits for Sync's backoff timer.
func (s *syncer) fail(t *testing.T, err error) {
	t.Helper()
	s.src.answers <- scriptAnswer{err: err}
	require.Eventually(t, func() bool { return s.clk.Pending() == 1 }, 5*time.Second, time.Millisecond)
}

// syncMembers returns "id addr/weight" for each member, sorted.
func syncMembers(g *group.Group) []string {
	var out []string
	for _, b := range g.Backends() {
		out = append(out, fmt.Sprintf("%s %s/%d", b.ID, b.Addr, *b.Weight))
	}
	sort.Strings(out)
	return out
}

func syncStats(t *testing.T, g *group.Group) map[string]group.BackendStats {
	t.Helper()
	out := map[string]group.BackendStats{}
	for _, b := range g.Stats().Backends {
		if b.State != health.Draining {
			out[b.ID] = b
		}
	}
	return out
}

func TestSyncKeepsStateAndCountersOfMembersThatStay(t *testing.T) {
	c := newChecked(t, group.Config{Algorithm: "round_robin"},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"},
		group.Backend{ID: "b", Addr: "10.0.0.2:80"},
		group.Backend{ID: "c", Addr: "10.0.0.3:80"},
	)
	c.step(t, health.DefaultHealthyThreshold-1)
	for range 30 {
		p, err := c.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == "b" {
			p.Done(errors.New("boom"))
		} else {
			p.Done(nil)
		}
	}
	before := syncStats(t, c.Group)
	for _, id := range []string{"a", "b", "c"} {
		require.Equal(t, health.Healthy, before[id].State, id)
		require.EqualValues(t, 10, before[id].Requests, id)
	}
	require.EqualValues(t, 10, before["b"].Failures)

	s := startSync(t, c.Group, group.SyncConfig{})
	s.apply(t, group.SourceUpdate{Full: true, Backends: []group.Backend{
		{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(5)}, // re-weighted
		{ID: "b", Addr: "10.0.0.2:80"},                          // unchanged
		{ID: "d", Addr: "10.0.0.4:80"},                          // new; c leaves
	}})
	require.Empty(t, s.reported())
	assert.Equal(t, []string{"a 10.0.0.1:80/5", "b 10.0.0.2:80/1", "d 10.0.0.4:80/1"}, syncMembers(c.Group))
	after := syncStats(t, c.Group)
	for _, id := range []string{"a", "b"} {
		assert.Equal(t, health.Healthy, after[id].State, "%s keeps its health state", id)
		assert.Equal(t, before[id].Requests, after[id].Requests, "%s keeps its request count", id)
		assert.Equal(t, before[id].Failures, after[id].Failures, "%s keeps its failure count", id)
		assert.Equal(t, before[id].LastCheck, after[id].LastCheck, "%s is not probed anew", id)
	}
	assert.EqualValues(t, 5, after["a"].EffectiveWeight)
	assert.Equal(t, health.Initial, after["d"].State, "a new member must prove itself")
	assert.NotContains(t, after, "c")

	// A diff: b re-weighted, a removed, an unknown ID ignored.
	s.apply(t, group.SourceUpdate{Backends: []group.Backend{{ID: "b", Addr: "10.0.0.2:80", Weight: group.Weight(2)}}, Removed: []string{"a", "zz"}})
	require.Empty(t, s.reported())
	assert.Equal(t, []string{"b 10.0.0.2:80/2", "d 10.0.0.4:80/1"}, syncMembers(c.Group))
	after = syncStats(t, c.Group)
	assert.Equal(t, health.Healthy, after["b"].State)
	assert.Equal(t, before["b"].Requests, after["b"].Requests)
	assert.Equal(t, before["b"].Failures, after["b"].Failures)
}

func TestSyncDiffs(t *testing.T) {
	g, _ := newGroup(t, group.Config{},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"},
		group.Backend{ID: "b", Addr: "10.0.0.2:80", Zone: "az1"},
	)
	rec := record(g)
	s := startSync(t, g, group.SyncConfig{})
	s.apply(t, group.SourceUpdate{Backends: []group.Backend{
		{Addr: "10.0.0.3:80"},                       // new, ID = Addr
		{ID: "b", Addr: "10.0.0.2:80", Zone: "az2"}, // zone changed: updated in place
		{ID: "a", Addr: "10.0.0.9:80"},              // address changed: replaced
	}})
	require.Empty(t, s.reported())
	assert.Equal(t, []string{"10.0.0.3:80 10.0.0.3:80/1", "a 10.0.0.9:80/1", "b 10.0.0.2:80/1"}, syncMembers(g))
	assert.Equal(t, "az2", syncStats(t, g)["b"].Zone)
	assert.Equal(t, []string{"draining:a", "added:10.0.0.3:80", "updated:b", "added:a", "removed:a"}, rec.list(),
		"one change: the replaced backend drains before its successor is added")

	s.apply(t, group.SourceUpdate{}) // an empty diff changes nothing
	s.apply(t, group.SourceUpdate{Removed: []string{"10.0.0.3:80", "b"}})
	require.Empty(t, s.reported())
	assert.Equal(t, []string{"a 10.0.0.9:80/1"}, syncMembers(g))
}

func TestSyncRefusesBadUpdatesAndKeepsTheList(t *testing.T) {
	g, _ := newGroup(t, group.Config{Name: "orders"},
		group.Backend{ID: "a", Addr: "10.0.0.1:80"},
		group.Backend{ID: "b", Addr: "10.0.0.2:80"},
	)
	want := syncMembers(g)
	s := startSync(t, g, group.SyncConfig{MinBackoff: time.Second, MaxBackoff: time.Second})
	bad := []struct {
		name string
		u    group.SourceUpdate
		err  error
	}{
		{"invalid weight", group.SourceUpdate{Full: true, Backends: []group.Backend{{ID: "a", Addr: "10.0.0.1:80", Weight: group.Weight(500)}}}, group.ErrInvalidWeight},
		{"invalid address", group.SourceUpdate{Full: true, Backends: []group.Backend{{ID: "a", Addr: "10.0.0.1"}}}, group.ErrInvalidAddress},
		{"duplicate ID", group.SourceUpdate{Full: true, Backends: []group.Backend{{ID: "x", Addr: "10.0.0.1:80"}, {ID: "x", Addr: "10.0.0.3:80"}}}, group.ErrDuplicateID},
		{"empty full list", group.SourceUpdate{Full: true}, group.ErrEmptyUpdate},
		{"diff removing every member", group.SourceUpdate{Removed: []string{"a", "b"}}, group.ErrEmptyUpdate},
		{"diff clashing with a member's address", group.SourceUpdate{Backends: []group.Backend{{ID: "c", Addr: "10.0.0.1:80"}}}, group.ErrDuplicateAddress},
		{"diff both listing and removing an ID", group.SourceUpdate{Backends: []group.Backend{{ID: "c", Addr: "10.0.0.3:80"}}, Removed: []string{"c"}}, group.ErrInvalidUpdate},
		{"full update with removals", group.SourceUpdate{Full: true, Backends: []group.Backend{{ID: "a", Addr: "10.0.0.1:80"}}, Removed: []string{"b"}}, group.ErrInvalidUpdate},
	}
	for i, tc := range bad {
		s.src.send(t, tc.u)
		require.Eventually(t, func() bool { return s.clk.Pending() == 1 }, 5*time.Second, time.Millisecond, tc.name)
		errs := s.reported()
		require.Len(t, errs, i+1, tc.name)
		assert.ErrorIs(t, errs[i], tc.err, tc.name)
		assert.Contains(t, errs[i].Error(), `group "orders"`, tc.name)
		assert.Equal(t, want, syncMembers(g), "%s: the group keeps its list", tc.name)
		s.clk.Advance(time.Second)
		s.src.await(t)
	}
}

func TestSyncAllowEmpty(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	s := startSync(t, g, group.SyncConfig{AllowEmpty: true})
	s.apply(t, group.SourceUpdate{Full: true})
	require.Empty(t, s.reported())
	assert.Empty(t, g.Backends())
}

func TestSyncBacksOffOnSourceErrors(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	s := startSync(t, g, group.SyncConfig{MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
	boom := errors.New("source unreachable")

	// expectWait checks that Sync calls Next again no sooner than lo after
	// a failure, and by hi. Waits are the backoff ±20%, within 1s-4s.
	expectWait := func(lo, hi time.Duration) {
		t.Helper()
		s.fail(t, boom)
		s.clk.Advance(lo - time.Nanosecond)
		require.Equal(t, 1, s.clk.Pending(), "Next called again before %v", lo)
		require.Empty(t, s.src.calls)
		s.clk.Advance(hi - lo + time.Nanosecond)
		s.src.await(t)
	}
	expectWait(time.Second, 1200*time.Millisecond)           // MinBackoff, jitter never below it
	expectWait(1600*time.Millisecond, 2400*time.Millisecond) // doubled
	expectWait(3200*time.Millisecond, 4*time.Second)         // doubled again, capped at MaxBackoff
	expectWait(3200*time.Millisecond, 4*time.Second)         // stays capped
	assert.Equal(t, []string{"a 10.0.0.1:80/1"}, syncMembers(g), "errors keep the last list")
	errs := s.reported()
	require.Len(t, errs, 4)
	for _, err := range errs {
		assert.ErrorIs(t, err, boom)
	}

	// A good update resets the backoff.
	s.apply(t, group.SourceUpdate{Backends: []group.Backend{{ID: "b", Addr: "10.0.0.2:80"}}})
	expectWait(time.Second, 1200*time.Millisecond)
	assert.Equal(t, []string{"a 10.0.0.1:80/1", "b 10.0.0.2:80/1"}, syncMembers(g))
}

func TestSyncReturnsWhenContextEnds(t *testing.T) {
	g, _ := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: "10.0.0.1:80"})
	for _, during := range []string{"Next", "backoff"} {
		s := startSync(t, g, group.SyncConfig{})
		if during == "backoff" {
			s.fail(t, errors.New("boom"))
		}
		s.cancel()
		select {
		case err := <-s.done:
			assert.Equal(t, context.Canceled, err, during)
			s.done <- err // for the cleanup
		case <-time.After(5 * time.Second):
			t.Fatalf("Sync did not return when its context ended during %s", during)
		}
		assert.Zero(t, s.clk.Pending(), "the backoff timer is stopped")
	}
}

func TestSyncReturnsWhenGroupCloses(t *testing.T) {
	cases := []struct {
		name    string
		members []group.Backend
		backoff bool
	}{
		{"members, in Next", []group.Backend{{Addr: "10.0.0.1:80"}}, false},
		{"no members, in Next", nil, false},
		{"members, in backoff", []group.Backend{{Addr: "10.0.0.1:80"}}, true},
	}
	for _, tc := range cases {
		g, _ := newGroup(t, group.Config{Name: "orders"}, tc.members...)
		s := startSync(t, g, group.SyncConfig{})
		if tc.backoff {
			s.fail(t, errors.New("boom"))
		}
		require.NoError(t, g.Close(ctx))
		select {
		case err := <-s.done:
			assert.ErrorIs(t, err, group.ErrClosed, tc.name)
			s.done <- err
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: Sync did not return when the group closed", tc.name)
		}
	}

	// A group closed already.
	g, _ := newGroup(t, group.Config{})
	require.NoError(t, g.Close(ctx))
	assert.ErrorIs(t, group.RunSync(ctx, g, newScriptSource(), group.SyncConfig{}), group.ErrClosed)
}

func TestSyncConfigErrors(t *testing.T) {
	g, _ := newGroup(t, group.Config{Name: "orders"})
	for _, cfg := range []group.SyncConfig{
		{MinBackoff: -1},
		{MaxBackoff: -time.Second},
		{MinBackoff: 10 * time.Second, MaxBackoff: time.Second},
		{MinBackoff: time.Minute}, // more than the default MaxBackoff
	} {
		err := group.RunSync(ctx, g, newScriptSource(), cfg)
		assert.ErrorIs(t, err, group.ErrInvalidConfig, "%+v", cfg)
		assert.Contains(t, err.Error(), "Backoff", "%+v", cfg)
	}
	assert.ErrorIs(t, group.RunSync(ctx, nil, newScriptSource(), group.SyncConfig{}), group.ErrInvalidConfig)
	assert.ErrorIs(t, group.RunSync(ctx, g, nil, group.SyncConfig{}), group.ErrInvalidConfig)
}

// chanSource is a Source fed through a channel.
type chanSource chan group.SourceUpdate

func (c chanSource) Next(ctx context.Context) (group.SourceUpdate, error) {
	select {
	case u := <-c:
		return u, nil
	case <-ctx.Done():
		return group.SourceUpdate{}, ctx.Err()
	}
}

func ExampleSync() {
	g, err := group.New(group.Config{Name: "orders"})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())

	src := make(chanSource) // in real use: discovery.NewDNS, discovery.NewFile, ...
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()                                  // stops Sync (closing the group does too)
	err = group.Sync(ctx, g, src, group.SyncConfig{ // returns at once; Sync runs on its own goroutine
		OnError:    func(err error) { fmt.Println("refused:", err) },
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, // quick for the example
	})
	if err != nil {
		panic(err)
	}

	src <- group.SourceUpdate{Full: true, Backends: []group.Backend{
		{ID: "a", Addr: "10.0.0.1:8080"},
		{ID: "b", Addr: "10.0.0.2:8080", Weight: group.Weight(3)},
	}}
	src <- group.SourceUpdate{Backends: []group.Backend{{ID: "c", Addr: "10.0.0.3:8080"}}, Removed: []string{"a"}}
	src <- group.SourceUpdate{Full: true} // an empty list: refused, the group keeps its members
	src <- group.SourceUpdate{}           // an empty diff: changes nothing (its receipt means the others are done)
	for _, b := range g.Backends() {
		fmt.Println(b.ID, b.Addr, *b.Weight)
	}
	// Output:
	// refused: elb: group "orders": update would leave the group empty: a full update with no backends (SyncConfig.AllowEmpty allows it)
	// b 10.0.0.2:8080 3
	// c 10.0.0.3:8080 1
}
