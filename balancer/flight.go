package balancer

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/go-elb/elb/internal/flight"
	"github.com/go-elb/elb/internal/pin"
)

// MaxLoadStripes is the most per-P in-flight counts a Load keeps; beyond
// that many Ps, two or more share one.
const MaxLoadStripes = 8

// flightCounts is one part of a Load's in-flight count, on a cache line of
// its own: the requests added in flight and those taken out.
type flightCounts struct {
	added   atomic.Int64
	removed atomic.Int64
	_       [64 - 16]byte
}

// flightParts are a Load's per-P counts.
type flightParts struct {
	counts []flightCounts
	// loose is set once AddInFlight has counted on the parts: it takes a
	// request out on the part of the P it ends on, which need not be the
	// one it began on, so a part's count is no longer the requests in
	// flight on it, only the sum is (see partInFlight). The group counts
	// with begin and end instead, which keep every part exact.
	loose atomic.Bool
}

func init() {
	flight.Begin = beginFlight
	flight.End = endFlight
}

// AddInFlight adds delta to the in-flight count: the group calls it with
// +1 on Pick and -1 on Done. A positive delta also counts as that many
// requests started (Started). It takes no lock, and allocates nothing but
// once: the per-P counts, when two cores first collide (see Load).
func (l *Load) AddInFlight(delta int64) {
	s := l.stripes.Load()
	if s == nil {
		w, d := &l.added, delta
		if delta < 0 {
			w, d = &l.removed, -delta
		}
		if v := w.Load(); w.CompareAndSwap(v, v+d) {
			return
		}
		s = l.makeStripes() // two cores at once: from now on, one count per P
	}
	if !s.loose.Load() {
		s.loose.Store(true)
	}
	c := &s.counts[stripe(len(s.counts))]
	if delta >= 0 {
		c.added.Add(delta)
	} else {
		c.removed.Add(-delta)
	}
}

// The parts begin and end name: the Load's own pair, or stripe p-1.
const pairPart flight.Part = 0

// beginFlight is flight.Begin: AddInFlight(1) on the *Load's part of the
// calling goroutine's P, which it returns. endFlight takes the request
// out of that part, wherever it ends, so that each part counts exactly
// the requests begun on it and not ended.
func beginFlight(load unsafe.Pointer) flight.Part {
	l := (*Load)(load)
	s := l.stripes.Load()
	if s == nil {
		if v := l.added.Load(); l.added.CompareAndSwap(v, v+1) {
			return pairPart
		}
		s = l.makeStripes()
	}
	i := stripe(len(s.counts))
	s.counts[i].added.Add(1)
	return flight.Part(i + 1)
}

// endFlight is flight.End: AddInFlight(-1) on the *Load's part p, which
// beginFlight returned.
func endFlight(load unsafe.Pointer, p flight.Part) {
	l := (*Load)(load)
	if p == pairPart {
		l.removed.Add(1)
		return
	}
	l.stripes.Load().counts[p-1].removed.Add(1)
}

// partInFlight returns the requests in flight on the part of the Load
// that the calling goroutine's P counts on (beginFlight), with those on
// the Load's own pair (all of them, before the stripes are made), and ok:
// whether that count is exact, which it is unless AddInFlight counted on
// the parts (flightParts.loose). It reads one stripe where InFlight reads
// them all, and that stripe is the one the P writes. *p caches the P's
// index + 1 across calls (0: not read yet), read only once needed.
func (l *Load) partInFlight(p *int) (n int64, ok bool) {
	s := l.stripes.Load()
	removed := l.removed.Load() // removed first, as in totals
	if s == nil {
		return l.added.Load() - removed, true
	}
	if s.loose.Load() {
		return 0, false
	}
	if *p == 0 {
		*p = pin.Pin() + 1
		pin.Unpin()
	}
	i := *p - 1
	if m := len(s.counts); i >= m {
		i %= m
	}
	c := &s.counts[i]
	removed += c.removed.Load()
	return l.added.Load() + c.added.Load() - removed, true
}

// makeStripes returns the Load's per-P counts, making them if no other
// goroutine has. A pointer-free allocation of a multiple of 64 bytes
// starts on a cache line (flight_test.go checks it).
func (l *Load) makeStripes() *flightParts {
	s := &flightParts{counts: make([]flightCounts, min(max(runtime.GOMAXPROCS(0), 1), MaxLoadStripes))}
	if l.stripes.CompareAndSwap(nil, s) {
		return s
	}
	return l.stripes.Load()
}

// InFlight returns the number of requests added in flight that have not
// been taken out yet: a sum of per-P parts that is never below the count
// at the moment InFlight returns, when every request taken out was first
// added in.
func (l *Load) InFlight() int64 {
	added, removed := l.totals()
	return added - removed
}

// Started returns the sum of AddInFlight's positive deltas: the requests
// ever added in flight.
func (l *Load) Started() int64 {
	added, _ := l.totals()
	return added
}

// totals returns the sums of the added and removed parts, removed read
// first: a request taken out after it was added is never counted out
// without being counted in. Before the stripes are made every request is
// counted in and out on the Load's own pair; after, on the stripes, but
// for the updates of goroutines that were counting on the pair as they
// were made (and the requests begun on the pair before, which end there).
func (l *Load) totals() (added, removed int64) {
	s := l.stripes.Load()
	removed = l.removed.Load()
	if s == nil {
		return l.added.Load(), removed
	}
	c := s.counts
	for i := range c {
		removed += c[i].removed.Load()
	}
	added = l.added.Load()
	for i := range c {
		added += c[i].added.Load()
	}
	return added, removed
}

// stripe returns the stripe of the calling goroutine's P, of n.
func stripe(n int) int {
	p := pin.Pin()
	pin.Unpin() // the P only chooses the stripe: an add is right on any
	if p >= n {
		p %= n // more Ps than stripes (a division, which the common case skips)
	}
	return p
}
