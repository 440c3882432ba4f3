package balancer

import (
	"runtime"
	"sync/atomic"

	"github.com/go-elb/elb/internal/pin"
)

// MaxLoadStripes is the most per-P in-flight counts a Load from NewLoad
// keeps; beyond that many Ps, two or more share one.
const MaxLoadStripes = 8

// flightCounts is one part of a Load's in-flight count, on a cache line of
// its own: the requests added in flight and those taken out.
type flightCounts struct {
	added   atomic.Int64
	removed atomic.Int64
	_       [64 - 16]byte
}

// NewLoad returns an idle Load like the zero Load, but for its in-flight
// count, which turns into one count per P, up to MaxLoadStripes
// (GOMAXPROCS when NewLoad is called), each on a cache line of its own
// (64 bytes per P), the first time two cores update it at the same
// instant: see Load. Use it for a Load that many goroutines update at
// once.
func NewLoad() *Load {
	// A pointer-free allocation of a multiple of 64 bytes starts on a
	// cache line (flight_test.go checks it).
	return &Load{stripes: make([]flightCounts, min(max(runtime.GOMAXPROCS(0), 1), MaxLoadStripes))}
}

// AddInFlight adds delta to the in-flight count: the group calls it with
// +1 on Pick and -1 on Done. A positive delta also counts as that many
// requests started (Started). It takes no lock and allocates nothing.
func (l *Load) AddInFlight(delta int64) {
	c := &l.shared
	if l.striped.Load() {
		c = &l.stripes[stripe(len(l.stripes))]
	} else if l.stripes != nil {
		w, d := &c.added, delta
		if delta < 0 {
			w, d = &c.removed, -delta
		}
		if v := w.Load(); w.CompareAndSwap(v, v+d) {
			return
		}
		// Two cores at once: from now on, one count per P.
		l.striped.Store(true)
		c = &l.stripes[stripe(len(l.stripes))]
	}
	if delta >= 0 {
		c.added.Add(delta)
	} else {
		c.removed.Add(-delta)
	}
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
// without being counted in. Before the Load turns striped every request
// is counted in and out on shared; after, on the stripes, but for those a
// goroutine was counting on shared as it turned.
func (l *Load) totals() (added, removed int64) {
	if !l.striped.Load() {
		removed = l.shared.removed.Load()
		return l.shared.added.Load(), removed
	}
	s := l.stripes
	removed = l.shared.removed.Load()
	for i := range s {
		removed += s[i].removed.Load()
	}
	added = l.shared.added.Load()
	for i := range s {
		added += s[i].added.Load()
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
