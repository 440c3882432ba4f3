package balancer

import (
	"container/heap"
	"sync/atomic"
)

// pqLatest is an endpoint's latest prequal probe answer, kept on its Load
// (which the group keeps for the member's whole life, across rebuilds) so
// that a picker built over the endpoint starts its pool from the answers
// of the pickers before it. Whichever picker probed the endpoint last
// wrote it: after a rebuild, the picker replaced; with Views, the group's
// or a View's (the latest answer either way).
//
// It is written and read without locks and without allocating: a
// sequence lock over atomic words, as serverLoad's. A writer that finds
// another writing drops its own answer (the other's is as fresh); a reader
// that finds one writing, or the words changed under it, takes no answer
// for that endpoint. Only Build reads it.
//
// uses counts the picks the answer served, in every picker, so that an
// answer serves MaxReuse picks in all, not MaxReuse in each picker built
// within MaxAge. Its high 32 bits are the answer's tag (the low 32 bits of
// seq after the answer was written, always even); a pick adds 1 only
// while the tag is its answer's, so a use of an answer that a newer one
// has replaced counts for nothing (but for a race, when it counts one
// for the newer answer).
type pqLatest struct {
	seq  atomic.Uint64 // odd while an answer is being written; 0: none yet
	rif  atomic.Int64  // the server's in-flight count; pqFailed: the probe failed
	lat  atomic.Int64  // the server's latency estimate, ns
	at   atomic.Int64  // arrival, ns since epoch on the prober's clock
	uses atomic.Uint64 // tag<<32 | picks served
}

// pqFailed is the in-flight count that records a failed probe.
const pqFailed = -1

// pqNoTag is the tag of an answer that is not on its Load: it is odd,
// and the tags of answers on a Load are even.
const pqNoTag = 1

// record makes (rif, lat, at) the latest answer and returns its tag, or
// pqNoTag if another answer was being recorded meanwhile.
func (l *pqLatest) record(rif, lat, at int64) uint32 {
	seq := l.seq.Load()
	if seq&1 != 0 || !l.seq.CompareAndSwap(seq, seq+1) {
		return pqNoTag
	}
	tag := uint32(seq + 2)
	l.rif.Store(rif)
	l.lat.Store(lat)
	l.at.Store(at)
	l.uses.Store(uint64(tag) << 32)
	l.seq.Store(seq + 2)
	return tag
}

// used counts a pick served by the answer of the tag, if it is still the
// latest.
func (l *pqLatest) used(tag uint32) {
	if uint32(l.uses.Load()>>32) == tag {
		l.uses.Add(1)
	}
}

// latest returns the latest answer, as a pool entry for endpoint idx
// whose at is still on the prober's clock, and false if there is none,
// the probe failed, or an answer is being written.
func (l *pqLatest) latest(idx int32) (pqEntry, bool) {
	seq := l.seq.Load()
	if seq == 0 || seq&1 != 0 {
		return pqEntry{}, false
	}
	e := pqEntry{idx: idx, rif: l.rif.Load(), lat: l.lat.Load(), at: l.at.Load(), tag: uint32(seq)}
	u := l.uses.Load()
	if l.seq.Load() != seq || e.rif < 0 {
		return pqEntry{}, false
	}
	e.uses = int32(min(uint32(u), 1<<30))
	return e, true
}

// seed fills the empty pool of a new picker with the newest of its
// endpoints' latest answers that are at most MaxAge old (or as far in the
// future: a probe of another picker may land while Build runs) and have
// served fewer than MaxReuse picks, counting the picks they served as
// this picker does; and starts the hot threshold's history with their
// in-flight counts.
func (p *pqPicker) seed() {
	now := p.since()
	byAge := (*pqByAge)(&p.pool) // once full, a heap: the oldest answer first
	for i := range p.eps {
		l := p.eps[i].Load
		if l == nil {
			continue
		}
		e, ok := l.probe.latest(int32(i))
		if !ok || e.uses >= p.maxReuse {
			continue
		}
		e.at -= p.base
		if now-e.at > p.maxAge || e.at-now > p.maxAge {
			continue
		}
		e.at = min(e.at, now)
		e.rif += int64(e.uses)
		switch {
		case len(p.pool) < cap(p.pool):
			p.pool = append(p.pool, e)
			if len(p.pool) == cap(p.pool) {
				heap.Init(byAge)
			}
		case e.at > p.pool[0].at:
			p.pool[0] = e
			heap.Fix(byAge, 0)
		}
	}
	if len(p.pool) == 0 {
		return
	}
	var rifs [maxPoolSize]int64
	for j, e := range p.pool {
		rifs[j] = e.rif - int64(e.uses)
	}
	p.observe(rifs[:len(p.pool)]...)
}

// oldest returns the index of the pool's oldest answer, or -1 if it is
// empty.
func (p *pqPicker) oldest() int {
	o := -1
	for j := range p.pool {
		if o < 0 || p.pool[j].at < p.pool[o].at {
			o = j
		}
	}
	return o
}

// pqByAge orders a pool oldest answer first, as a heap.
type pqByAge []pqEntry

func (h pqByAge) Len() int           { return len(h) }
func (h pqByAge) Less(i, j int) bool { return h[i].at < h[j].at }
func (h pqByAge) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pqByAge) Push(x any)        { *h = append(*h, x.(pqEntry)) }
func (h *pqByAge) Pop() any {
	e := (*h)[len(*h)-1]
	*h = (*h)[:len(*h)-1]
	return e
}
