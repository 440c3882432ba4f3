package group

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/go-elb/elb/balancer"
)

// View is an adapter's view of a group: the place for the hooks of an
// adapter that keeps connections of its own to the backends, such as the
// gRPC policy (one View per channel). Applications use the Group.
//
// A View picks among the members of the group's pick set that are ready
// in it: the adapter reports, with SetReady, which members it can reach
// now (a gRPC channel: whose connection is READY), and keeps, with Attach,
// an object of its own with each (its connection), which every pick of
// that member through the View returns. Everything else is the group's:
// the pick set (health checks, ejections, draining, zones, panic mode),
// the algorithm and the weights (slow start included) it balances with,
// the session-affinity bindings (a request bound to a member of the pick
// set that is not ready in the View goes elsewhere, and the binding
// stays, for the Views that can reach the member), and every counter (requests in flight,
// requests, failures, latency, runs of failures for outlier detection,
// sticky hits). So picks through several Views, and Group.Pick, are
// counted, balanced, ejected and bound in one group, and a Pick ends
// (Done, DoneWith, Release) exactly as one from Group.Pick.
//
// A View keeps an immutable snapshot of its pick set, the group's pick set
// less the members not ready in it, built with the group's algorithm: the
// group rebuilds it with each of its own snapshots, and SetReady when a
// member's readiness changes. When every member of the group's pick set is
// ready in the View, the View shares the group's picker (one rotation for
// all). Its Pick and Repick take no lock and allocate nothing, like the
// group's (the same exceptions apply); they never wait (Group.Pick's
// waits, if any, are for applications).
//
// All methods are safe for concurrent use. A View must be closed when the
// adapter is done with it; a View of a group that closes picks
// ErrClosed. The zero View is not usable: use Group.NewView.
type View struct {
	g    *Group
	snap atomic.Pointer[snapshot]

	// Guarded by g.mu:
	entries map[string]*viewEntry // by member ID
	closed  bool
	errNone *GroupError // the error of an empty view, by the size it was built for
}

// viewEntry is what a View knows of one member.
type viewEntry struct {
	ready bool
	why   string // why it is not ready
	att   any
}

// viewSnapshot is what a View's snapshot holds beyond the group's.
type viewSnapshot struct {
	atts      []any           // each member's attachment in the View
	index     map[*member]int // sticky binding tables: each member's index
	uncounted bool            // the error is the View's own, or one Group.Pick waits out: not a NoBackend
}

// holds returns m and its index if s holds it, or nil. The group's own
// snapshot holds every member it is asked about (the caller checked
// member.inSet) and returns index -1.
func (s *snapshot) holds(m *member) (*member, int) {
	if s.index == nil {
		return m, -1
	}
	if i, ok := s.index[m]; ok {
		return m, i
	}
	return nil, -1
}

// NewView returns a new View of the group, with no member ready in it. A
// View of a closed group picks ErrClosed.
func (g *Group) NewView() *View {
	v := &View{g: g, entries: make(map[string]*viewEntry)}
	if !g.made() {
		v.snap.Store(&snapshot{err: errNotNew, viewSnapshot: viewSnapshot{uncounted: true}})
		v.closed = true
		return v
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		v.closed = true
	} else {
		g.views = append(g.views, v)
	}
	v.build(g.snap.Load())
	return v
}

// Group returns the group the View is of.
func (v *View) Group() *Group { return v.g }

// SetReady records whether the View's adapter can reach the member id now,
// and if not why (reason is for the adapter's own reports; empty is
// fine). A member takes requests through the View only while it is ready
// in it and in the group's pick set. The record is by ID, whether or not
// id is a member now (an adapter's list of backends may lag the group's),
// until Forget; a member that leaves and comes back under the same ID is
// ready again at once. Each change rebuilds the View's pick set: report
// many at once with Report.
func (v *View) SetReady(id string, ready bool, reason string) {
	v.Report(Readiness{ID: id, Ready: ready, Reason: reason})
}

// Readiness is one member's readiness in a View, for Report.
type Readiness struct {
	ID     string // the member's ID
	Ready  bool   // whether the adapter can reach it now
	Reason string // why it is not ready; "" is fine
}

// Report is SetReady for several members, with one rebuild of the View's
// pick set for all of them.
func (v *View) Report(rs ...Readiness) {
	g := v.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if v.closed {
		return
	}
	changed := false
	for _, r := range rs {
		e := v.entry(r.ID)
		e.why = r.Reason
		if r.Ready {
			e.why = ""
		}
		if e.ready == r.Ready {
			continue
		}
		e.ready = r.Ready
		if m := g.byID[r.ID]; m != nil && m.inSet.Load() {
			changed = true
		}
	}
	if changed {
		v.build(g.snap.Load())
	}
}

// Ready reports whether the member id is ready in the View, and if not
// the reason last given to SetReady.
func (v *View) Ready(id string) (bool, string) {
	g := v.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if e := v.entries[id]; e != nil {
		return e.ready, e.why
	}
	return false, ""
}

// Attach keeps x with the member id in this View: each pick of the member
// through the View returns it, without a lookup (a gRPC channel keeps the
// member's connection there). nil removes it. Like SetReady, it records by
// ID until Forget.
func (v *View) Attach(id string, x any) {
	g := v.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if v.closed {
		return
	}
	e := v.entry(id)
	e.att = x
	if m := g.byID[id]; e.ready && m != nil && m.inSet.Load() {
		v.build(g.snap.Load())
	}
}

// Forget drops what the View knows of id, readiness and attachment: an
// adapter calls it for a backend it no longer has.
func (v *View) Forget(id string) {
	g := v.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if v.closed {
		return
	}
	e := v.entries[id]
	if e == nil {
		return
	}
	delete(v.entries, id)
	if e.ready {
		v.build(g.snap.Load())
	}
}

// entry returns the entry of id, making it. The caller holds g.mu.
func (v *View) entry(id string) *viewEntry {
	e := v.entries[id]
	if e == nil {
		e = &viewEntry{why: "not reported"}
		v.entries[id] = e
	}
	return e
}

// Pick is Group.Pick among the members ready in the View; it also returns
// the member's attachment in the View (nil if none). It fails as
// Group.Pick does when the group cannot pick, and with an error wrapping
// ErrNoHealthyBackend when no member of the group's pick set is ready in
// the View; ErrClosed once the View or the group is closed. It never
// waits (an adapter such as gRPC queues calls itself): ctx is not used to
// wait, whatever Config.FailFast says. Stats.NoBackend counts its failures
// for the group's reasons, but not those Group.Pick would wait out
// (members awaiting their first checks, a Sync its first update), which
// an adapter queues, nor those of the View alone (nothing ready in it).
func (v *View) Pick(ctx context.Context, req Request) (Pick, any, error) {
	return v.Repick(ctx, req, nil)
}

// Repick is Group.Repick among the members ready in the View (see Pick).
func (v *View) Repick(ctx context.Context, req Request, tried *Tried) (Pick, any, error) {
	var (
		p   Pick
		err error
		at  pickedAt
	)
	if v.g.sticky != nil {
		p, err = v.g.pickStickyFrom(ctx, &v.snap, &req, tried, &at)
	} else {
		p, err = v.g.pickFrom(ctx, &v.snap, &req, tried, &at)
	}
	if err != nil || at.s == nil || uint(at.i) >= uint(len(at.s.atts)) {
		return p, nil, err
	}
	return p, at.s.atts[at.i], nil
}

// Available returns the number of members that take requests through the
// View now: those of the group's pick set that are ready in it.
func (v *View) Available() int { return len(v.snap.Load().members) }

// Close ends the View: its picks fail with ErrClosed, and the group stops
// rebuilding it. Picks made through it end as usual. Closing a closed View
// does nothing.
func (v *View) Close() {
	g := v.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if v.closed {
		return
	}
	v.closed = true
	for i, x := range g.views {
		if x == v {
			g.views = append(g.views[:i:i], g.views[i+1:]...)
			break
		}
	}
	v.entries = nil
	v.build(nil)
}

// syncViews rebuilds every View from the group's newest snapshot. rebuild
// calls it after publishing that snapshot, before the members that leave
// are marked draining, so a View's picks retry as the group's do. The
// caller holds g.mu.
func (g *Group) syncViews() {
	if len(g.views) == 0 {
		return
	}
	gs := g.snap.Load()
	for _, v := range g.views {
		v.build(gs)
	}
}

// build publishes the View's snapshot: gs less the members not ready in
// the View. The caller holds g.mu.
func (v *View) build(gs *snapshot) {
	g := v.g
	switch {
	case v.closed:
		v.snap.Store(&snapshot{err: g.errClosed, viewSnapshot: viewSnapshot{uncounted: true}})
		return
	case gs.err != nil:
		// The group's own failure, counted, unless Group.Pick would wait:
		// a pick the adapter queues (gRPC picks it again with each new
		// picker) is no more a failure than a Pick that waits.
		v.snap.Store(&snapshot{err: gs.err, viewSnapshot: viewSnapshot{uncounted: gs.wait}})
		return
	}
	keep := make([]int, 0, len(gs.members))
	for i, m := range gs.members {
		if e := v.entries[m.desc.Load().ID]; e != nil && e.ready {
			keep = append(keep, i)
		}
	}
	if len(keep) == 0 {
		if v.errNone == nil || v.errNone.Problem != noneReady(len(gs.members)) {
			v.errNone = &GroupError{Group: g.cfg.Name, Err: ErrNoHealthyBackend, Problem: noneReady(len(gs.members))}
		}
		v.snap.Store(&snapshot{err: v.errNone, viewSnapshot: viewSnapshot{uncounted: true}})
		return
	}
	s := &snapshot{}
	if len(keep) == len(gs.members) { // all ready: share the group's picker
		s.members, s.eps, s.picker, s.byIP, s.tokens = gs.members, gs.eps, gs.picker, gs.byIP, gs.tokens
	} else {
		s.members = make([]*member, len(keep))
		s.eps = make([]balancer.Endpoint, len(keep))
		for j, i := range keep {
			s.members[j], s.eps[j] = gs.members[i], gs.eps[i]
		}
		s.picker = g.alg.Build(s.eps)
		g.stickySnapshot(s, s.eps)
	}
	s.atts = make([]any, len(s.members))
	for i, m := range s.members {
		s.atts[i] = v.entries[m.desc.Load().ID].att
	}
	if a := g.sticky; a != nil && a.table != nil {
		s.index = make(map[*member]int, len(s.members))
		for i, m := range s.members {
			s.index[m] = i
		}
	}
	v.snap.Store(s)
}

// noneReady is the problem of a View with no member ready.
func noneReady(n int) string {
	return fmt.Sprintf("none of the %d members of the pick set is ready in this view", n)
}
