package group

import (
	"context"
	"sync"
)

// handoffs is the group's work that a request call (Pick, Done, DoneWith,
// Release) hands over rather than doing it, so that no request waits for
// the group's lock or for a rebuild of the pick set: ejecting a member
// after a run of failed requests (a rebuild: O(n), and milliseconds for a
// consistent_hash table) and forgetting a removed member once its last
// request ended (the group's lock, which a change may hold for as long).
//
// A request call appends the member under mu, which nothing holds for
// longer than an append or a swap of the two slices, and, if no goroutine
// is applying handoffs, starts one. That goroutine applies every handoff
// queued meanwhile under one hold of the group's lock, the ejections with
// one rebuild, and goes on until none is left: n members failing at once
// cost about as many rebuilds as batches, not n.
type handoffs struct {
	mu      sync.Mutex
	eject   []*member
	drained []*member
	// done is closed when the goroutine applying handoffs returns; nil
	// while none runs.
	done chan struct{}
	// queued and applied count the handoffs ever queued and applied;
	// caught broadcasts each batch applied.
	queued, applied uint64
	caught          sync.Cond
	// ends counts the drains handed over and not yet applied: members
	// that are gone but for that (see Group.queue).
	ends int
}

// handEject hands over the ejection of m (see eject).
func (g *Group) handEject(m *member) { g.handOff(m, true) }

// handDrained hands over the end of m's drain, its last request done (see
// endDrain).
func (g *Group) handDrained(m *member) { g.handOff(m, false) }

func (g *Group) handOff(m *member, eject bool) {
	h := &g.handoffs
	h.mu.Lock()
	if eject {
		h.eject = append(h.eject, m)
	} else {
		h.drained = append(h.drained, m)
		h.ends++
	}
	h.queued++
	if h.done == nil {
		h.done = make(chan struct{})
		go g.applyHandoffs(h.done)
	}
	h.mu.Unlock()
}

// applyHandoffs applies the queued handoffs until none is left, then
// closes done.
func (g *Group) applyHandoffs(done chan struct{}) {
	h := &g.handoffs
	var ejects, drains []*member
	for {
		h.mu.Lock()
		if len(h.eject) == 0 && len(h.drained) == 0 {
			h.done = nil
			h.mu.Unlock()
			close(done)
			return
		}
		// Swap in the slices of the last batch, emptied, to reuse them.
		ejects, h.eject = h.eject, ejects[:0]
		drains, h.drained = h.drained, drains[:0]
		h.mu.Unlock()

		g.mu.Lock()
		for _, m := range drains {
			g.endDrainLocked(m, false)
		}
		var evs []Event
		ejected := -1 // counted by the first ejection that needs it
		for _, m := range ejects {
			evs = append(evs, g.ejectLocked(m, &ejected)...)
		}
		g.apply(evs)

		h.mu.Lock()
		h.applied += uint64(len(ejects) + len(drains))
		h.ends -= len(drains)
		if h.caught.L != nil {
			h.caught.Broadcast()
		}
		h.mu.Unlock()
		clear(ejects)
		clear(drains)
	}
}

// caughtUp waits until the handoffs queued before it are applied, so that
// what reads the group's state (Stats) sees the effect of every request
// call that returned before: a Done that completed a run of failures has
// ejected its backend. It waits for one batch at most, the batch being
// applied or the next, each about one rebuild of the pick set.
func (g *Group) caughtUp() {
	h := &g.handoffs
	h.mu.Lock()
	if h.caught.L == nil {
		h.caught.L = &h.mu
	}
	for target := h.queued; h.applied < target; {
		h.caught.Wait()
	}
	h.mu.Unlock()
}

// endsHanded returns the number of ends of drains handed over and not yet
// applied. The caller may hold g.mu (which comes before h.mu).
func (g *Group) endsHanded() int {
	g.handoffs.mu.Lock()
	defer g.handoffs.mu.Unlock()
	return g.handoffs.ends
}

// settleHandoffs waits until no handoff is being applied, or ctx ends.
// Handoffs queued while it waits are waited for too.
func (g *Group) settleHandoffs(ctx context.Context) error {
	for {
		g.handoffs.mu.Lock()
		done := g.handoffs.done
		g.handoffs.mu.Unlock()
		if done == nil {
			return nil
		}
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
