package balancer

import (
	"runtime"
	"sync/atomic"

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
	c := &(*s)[stripe(len(*s))]
	if delta >= 0 {
		c.added.Add(delta)
	} else {
		c.removed.Add(-delta)
	}
}

// makeStripes returns the Load's per-P counts, making them if no other
// goroutine has. A pointer-free allocation of a multiple of 64 bytes
// starts on a cache line (flight_test.go checks it).
func (l *Load) makeStripes() *[]flightCounts {
	s := make([]flightCounts, min(max(runtime.GOMAXPROCS(0), 1), MaxLoadStripes))
	if l.stripes.CompareAndSwap(nil, &s) {
		return &s
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
// were made.
func (l *Load) totals() (added, removed int64) {
	s := l.stripes.Load()
	removed = l.removed.Load()
	if s == nil {
		return l.added.Load(), removed
	}
	for i := range *s {
		removed += (*s)[i].removed.Load()
	}
	added = l.added.Load()
	for i := range *s {
		added += (*s)[i].added.Load()
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
