package group

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-elb/elb/health"
)

// startup is what a group knows of its first moments: whether it has ever
// served, and the Syncs whose first update is not applied yet. It is
// guarded by Group.mu.
type startup struct {
	warm      bool         // the pick set has had a member: see coldStart
	syncing   int          // Syncs whose first update is not applied yet
	sourceErr string       // the last error of such a Sync's source, "" if none
	waiting   atomic.Int64 // Picks and WaitReadys waiting now; not guarded
}

// publish makes s the snapshot Pick reads. A snapshot without a pick set
// gets a channel that is closed when it is replaced, so that Picks and
// WaitReady waiting on it wake on every change. The caller holds g.mu (or
// is New).
func (g *Group) publish(s *snapshot) {
	if s.err != nil {
		s.changed = make(chan struct{})
	} else {
		g.warm = true
	}
	if old := g.snap.Swap(s); old != nil && old.changed != nil {
		close(old.changed)
	}
}

// noPick is the snapshot of a group whose pick set r is empty: its error
// says why, counting the members by what keeps them out, and wait says
// whether a Pick should wait for a change: while a member with a weight
// awaits its first health checks, or a Sync its first update. The caller
// holds g.mu.
func (g *Group) noPick(r routing) *snapshot {
	var c census
	for _, m := range g.members {
		if !m.outside { // outside the subset: neither awaited nor counted
			c.count(m)
		}
	}
	err := g.errNoHealthy
	switch {
	case len(g.members) == 0:
		err = g.errNoBackends
	case r.weighted == 0:
		err = g.errNoAvailable
	}
	base := err.(*GroupError)
	var problem []string
	if base.Problem != "" {
		problem = append(problem, base.Problem)
	}
	if err == g.errNoHealthy {
		problem = append(problem, c.String(g.inSubset()))
	}
	if g.syncing > 0 {
		s := "waiting for the first update of its source (Sync)"
		if g.sourceErr != "" {
			s += "; the source's last error: " + g.sourceErr
		}
		problem = append(problem, s)
	}
	if len(problem) > 0 {
		err = &GroupError{Group: g.cfg.Name, Err: base.Err, Problem: strings.Join(problem, "; ")}
	}
	wait := !g.cfg.FailFast && !g.cfg.awaitReady && (c.initial > 0 || g.syncing > 0)
	return &snapshot{err: err, wait: wait}
}

// census counts the members that cannot take requests by the reason: each
// member once, by the first reason that applies in this order. (Draining
// backends are no longer members: they never count.)
type census struct {
	weight0, unready, initial, unhealthy, ejected int

	why string // the first unhealthy member's ID and last probe error
}

func (c *census) count(m *member) {
	switch {
	case m.weight == 0:
		c.weight0++
	case m.unready:
		c.unready++
	case m.state == health.Initial:
		c.initial++
	case m.state == health.Unhealthy:
		c.unhealthy++
		if c.why == "" && m.lastErr != "" {
			why := m.lastErr
			if len(why) > maxWhy {
				why = strings.ToValidUTF8(why[:maxWhy], "") + "..."
			}
			c.why = fmt.Sprintf("%s: %s", m.desc.Load().ID, why)
		}
	case m.state == health.Ejected:
		c.ejected++
	}
}

// String is the census as an error's detail: "3 members: 2 initial
// (awaiting first health check), 1 unhealthy".
// maxWhy bounds the probe error quoted in a census, in bytes.
const maxWhy = 120

// whyText is the last probe error of an unhealthy member, for the census's
// text: " (web-1: unexpected status 404 (want 200))", or "". It is the error as of
// the snapshot's build.
func (c *census) whyText() string {
	if c.why == "" {
		return ""
	}
	return " (" + c.why + ")"
}

func (c *census) String(members int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d member", members)
	if members != 1 {
		b.WriteByte('s')
	}
	sep := ": "
	for _, f := range []struct {
		n    int
		what string
	}{
		{c.initial, "initial (awaiting first health check)"},
		{c.unready, "not ready (not reached by the adapter)"},
		{c.unhealthy, "unhealthy" + c.whyText()},
		{c.ejected, "ejected"},
		{c.weight0, "weight 0"},
	} {
		if f.n > 0 {
			fmt.Fprintf(&b, "%s%d %s", sep, f.n, f.what)
			sep = ", "
		}
	}
	return b.String()
}

// noPickSet is the error path of a pick: s, loaded from src, has no pick
// set. It returns nil once the group's own pick set has one, after waiting
// as await does (the caller picks again), and otherwise the error the pick
// returns, counted in Stats.NoBackend unless it is a View's own. Only the
// group's own pick set waits: a View's never does.
func (g *Group) noPickSet(ctx context.Context, src *atomic.Pointer[snapshot], s *snapshot) error {
	if src == &g.snap && s.wait {
		err := g.await(ctx, s)
		if err != nil {
			g.noBackend.Add(1)
		}
		return err
	}
	if !s.uncounted {
		g.noBackend.Add(1)
	}
	return s.err
}

// await is the error path of a pick: s, the snapshot it read, has no pick
// set. If s says to wait (and ctx allows), await waits for a snapshot with
// a pick set and returns nil once there is one; it returns s's error at
// once if not, the error of the first snapshot that says not to wait, or,
// when ctx ends first, an error wrapping both the last snapshot's error
// and ctx.Err().
func (g *Group) await(ctx context.Context, s *snapshot) error {
	if !s.wait || ctx == nil {
		return s.err
	}
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	start := time.Now()
	for {
		select {
		case <-s.changed:
		case <-ctx.Done():
			return waited(s.err, ctx.Err(), time.Since(start))
		}
		if s = g.snap.Load(); s.err == nil {
			return nil
		}
		if !s.wait {
			return s.err
		}
	}
}

// WaitReady blocks until the group has a member that takes requests
// (Available() > 0), and returns nil then; at once if it has one already.
// It waits whatever keeps the members out (new members awaiting their
// first health checks, a Sync awaiting its source's first update, members
// unhealthy, ejected or at weight 0 that may recover or change, no members
// at all) since each may change, and ignores Config.FailFast. It returns
// an error wrapping ErrClosed if the group is or becomes closed, and, when
// ctx ends first, an error wrapping both ctx.Err() and the error Pick
// would return (ErrNoHealthyBackend, ErrNoBackends or
// ErrNoAvailableBackend), which says why the group is not ready:
//
//	elb: group "orders": no healthy backend (waited 2s: context deadline exceeded): 3 members: 3 unhealthy (web-1: unexpected status 503 (want 200))
//
// A program that must not serve before its backends can calls it once at
// start, with a deadline.
func (g *Group) WaitReady(ctx context.Context) error {
	if !g.made() {
		return errNotNew
	}
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	start := time.Now()
	for {
		s := g.snap.Load()
		switch {
		case s.err == nil:
			return nil
		case s.err == g.errClosed:
			return s.err
		}
		select {
		case <-s.changed:
		case <-ctx.Done():
			return waited(s.err, ctx.Err(), time.Since(start))
		}
	}
}

// waited is the error of a wait for a pick set that ctx ended after d:
// it wraps the last snapshot's error, keeping its detail, and ctx's.
func waited(err, ctxErr error, d time.Duration) error {
	ge, ok := err.(*GroupError)
	if !ok {
		return fmt.Errorf("%w (waited %v: %w)", err, d.Round(time.Millisecond), ctxErr)
	}
	return &GroupError{Group: ge.Group, Err: fmt.Errorf("%w (waited %v: %w)", ge.Err, d.Round(time.Millisecond), ctxErr),
		Problem: ge.Problem}
}

// sourcePending records a Sync's progress towards its first update: add
// +1 when it starts, -1 when its first update is applied or it returns
// before; lastErr, if not empty, is the source's latest error (or the
// update the group refused). A snapshot without a pick set is built anew,
// so that its error and whether Pick waits follow.
func (g *Group) sourcePending(add int, lastErr string) {
	g.mu.Lock()
	g.syncing += add
	switch {
	case g.syncing == 0:
		g.sourceErr = ""
	case lastErr != "":
		g.sourceErr = lastErr
	}
	if g.closed || g.snap.Load().err == nil {
		g.mu.Unlock()
		return
	}
	g.commit(nil)
}
