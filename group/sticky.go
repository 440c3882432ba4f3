package group

import (
	"context"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/internal/flight"
	"github.com/go-elb/elb/internal/stickycookie"
	"github.com/go-elb/elb/internal/stickytable"
	"github.com/go-elb/elb/sticky"
)

// affinity is a group's session affinity: the normalized config, the
// cookie codec or binding table of its mode, and the counters.
type affinity struct {
	cfg     sticky.Config
	codec   *stickycookie.Codec         // Cookie
	table   *stickytable.Table[*member] // AppCookie, Header
	byIP    balancer.Algorithm          // SourceIP
	now     atomic.Int64                // Unix seconds, kept by tick: the table's coarse clock
	misses  atomic.Uint64               // requests with no usable binding, bound afresh
	moved   atomic.Uint64               // requests whose backend could not take them, bound anew
	timer   Timer                       // the next tick; guarded by Group.mu
	stopped bool                        // no more ticks; guarded by Group.mu
}

// tickEvery is how often a group with a binding table reads the clock for
// it; sweepEvery how often it drops expired entries.
const (
	tickEvery  = time.Second
	sweepEvery = time.Minute
)

// initSticky validates cfg.Sticky and sets up its mode.
func (g *Group) initSticky() error {
	c := g.cfg.Sticky
	if c == nil {
		return nil
	}
	cfg, err := c.Normalized()
	if err != nil {
		return invalidConfig(g.cfg.Name, "Sticky", err)
	}
	a := &affinity{cfg: cfg}
	switch {
	case cfg.Mode == sticky.Cookie:
		a.codec, err = stickycookie.NewCodec(stickycookie.CookieConfig{Keys: cfg.Keys, TTL: cfg.TTL, Now: g.cfg.Clock.Now})
		if err != nil { // Normalized checked the keys
			return invalidConfig(g.cfg.Name, "Sticky", err)
		}
	case cfg.Mode == sticky.SourceIP:
		a.byIP, _ = balancer.Get(balancer.NameSourceIPHash)
	case cfg.Mode.Table():
		a.now.Store(g.cfg.Clock.Now().Unix())
		a.table, err = stickytable.NewTable[*member](stickytable.TableConfig{TTL: cfg.TTL, MaxEntries: cfg.MaxEntries, Now: a.now.Load})
		if err != nil { // Normalized checked TTL and MaxEntries
			return invalidConfig(g.cfg.Name, "Sticky", err)
		}
	}
	g.sticky = a
	if a.table != nil {
		g.mu.Lock()
		a.timer = g.cfg.Clock.AfterFunc(tickEvery, func() { g.tick(a) })
		g.mu.Unlock()
	}
	return nil
}

// tick updates the binding table's clock, and now and then drops its
// expired entries. It runs until stopSticky, which Close calls: a group
// with a binding table must be closed, or its ticks go on.
func (g *Group) tick(a *affinity) {
	now := g.cfg.Clock.Now().Unix()
	if prev := a.now.Swap(now); now/int64(sweepEvery/time.Second) != prev/int64(sweepEvery/time.Second) {
		a.table.Sweep()
	}
	g.mu.Lock()
	if !a.stopped {
		a.timer = g.cfg.Clock.AfterFunc(tickEvery, func() { g.tick(a) })
	}
	g.mu.Unlock()
}

// stopSticky stops the table's clock. The caller holds g.mu.
func (g *Group) stopSticky() {
	if a := g.sticky; a != nil {
		a.stopped = true
		if a.timer != nil {
			a.timer.Stop()
			a.timer = nil
		}
	}
}

// stickySnapshot adds what the sticky mode needs to a new snapshot. The
// caller holds g.mu.
func (g *Group) stickySnapshot(s *snapshot, eps []balancer.Endpoint) {
	a := g.sticky
	switch {
	case a == nil:
	case a.codec != nil:
		s.tokens = make(map[stickycookie.Token]int, len(s.members)*len(a.cfg.Keys))
		for i, m := range s.members {
			for _, t := range m.tokens {
				s.tokens[t] = i
			}
		}
	case a.byIP != nil:
		if g.cfg.Algorithm == balancer.NameSourceIPHash {
			s.byIP = s.picker
		} else {
			s.byIP = a.byIP.Build(eps)
		}
	}
}

// pickStickyFrom is Pick with session affinity on, from the pick set src
// points to (see pickFrom): the request goes to the member its binding
// names if that member is in the pick set (and, for a retry, not yet
// tried), and is balanced and bound otherwise.
func (g *Group) pickStickyFrom(ctx context.Context, src *atomic.Pointer[snapshot], req *Request, t *Tried, at *pickedAt) (Pick, error) {
	a := g.sticky
	var tok stickycookie.Token
	valid, renew := false, false // Cookie: the request's cookie
	switch {
	case a.byIP != nil && req.Source == "", a.table != nil && req.Affinity == "":
		return g.pickFrom(ctx, src, req, t, at) // nothing to bind by
	case a.codec != nil && req.Affinity != "":
		tok, renew, valid = a.codec.Verify(req.Affinity)
	}
	bound := false     // the request had a binding
	elsewhere := false // a View's: bound to a member of the pick set not ready in the View
	for {
		s := src.Load()
		if s.err != nil {
			if err := g.noPickSet(ctx, src, s); err != nil {
				return Pick{}, err
			}
			continue // a pick set: follow the binding there
		}
		var m *member
		i := -1
		switch {
		case a.table != nil:
			if v, ok := a.table.Get(req.Affinity); ok {
				bound = true
				if v.inSet.Load() { // in the newest pick set
					m, i = s.holds(v)
					elsewhere = m == nil
				}
			}
		case a.byIP != nil:
			if i = s.byIP.Pick(balancer.Request{Source: req.Source}); uint(i) < uint(len(s.members)) {
				bound = true
				m = s.members[i]
			}
		case valid:
			bound = true
			var ok bool
			if i, ok = s.tokens[tok]; ok {
				m = s.members[i]
			}
		}
		if m == nil || (t != nil && t.has(m)) {
			break
		}
		part := flight.Begin(unsafe.Pointer(&m.load))
		if m.draining.Load() { // left after s was taken: see pick
			m.unpick(part)
			continue
		}
		if t != nil {
			t.add(m)
		}
		p := newPick(m).on(part)
		p.setCounted(a.tally(t, m, countHit))
		if renew {
			p.cookie = a.codec.EncodeRef(m.desc.Load().ID)
		}
		if at != nil {
			at.s, at.i = s, i
		}
		return p, nil
	}
	p, err := g.pickFrom(ctx, src, req, t, at)
	if err != nil {
		return p, err
	}
	c := countMiss
	if bound {
		c = countRebind
	}
	p.setCounted(a.tally(t, p.m, c))
	switch {
	case a.table != nil && !elsewhere: // the other views still follow the binding
		a.table.Put(req.Affinity, p.m)
	case a.codec != nil:
		p.cookie = a.codec.EncodeRef(p.m.desc.Load().ID)
	}
	return p, nil
}

// Bind binds key to the picked backend in the group's binding table
// (sticky.AppCookie and sticky.Header modes), as a Pick with
// Request.Affinity key would have. An adapter calls it when a response
// starts a session, such as one that sets the application's session
// cookie. It does nothing in other modes, for the zero Pick, or for an
// empty key.
func (p Pick) Bind(key string) {
	if p.m == nil || key == "" {
		return
	}
	if a := p.m.group.sticky; a != nil && a.table != nil {
		a.table.Put(key, p.m)
	}
}

// Cookie returns the load-balancer cookie value the response should set
// (sticky.Cookie mode), under the name Config.Sticky.CookieName and with
// a lifetime of Config.Sticky.TTL, or "" when the request's own cookie
// still holds. It is set when the request had no valid cookie, its
// backend could not take the request, or the cookie is due for renewal.
// The value names the backend by an opaque token, never by its address.
func (p Pick) Cookie() string {
	if p.cookie == nil {
		return ""
	}
	return *p.cookie
}

// StickyHit reports whether the request followed its binding (a sticky hit).
func (p Pick) StickyHit() bool { return p.counted() == countHit }

// StickyConfig returns the group's session-affinity settings, normalized
// (defaults filled in) but without the Keys, and whether it has any. An
// adapter reads them to know where a request carries its binding: the
// cookie or header to read, and the cookie to set.
func (g *Group) StickyConfig() (sticky.Config, bool) {
	if g.sticky == nil {
		return sticky.Config{}, false
	}
	cfg := g.sticky.cfg
	cfg.Keys = nil // secrets stay in the group
	return cfg, true
}
