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
// count, which it keeps one per P, up to MaxLoadStripes (GOMAXPROCS when
// NewLoad is called), each on a cache line of its own (64 bytes per P):
// see Load. Use it for a Load that many goroutines update at once.
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
	if s := l.stripes; s != nil {
		c = &s[uint(pin.Pin())%uint(len(s))]
		pin.Unpin() // the P only picks the stripe: an add is right on any
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
// without being counted in.
func (l *Load) totals() (added, removed int64) {
	s := l.stripes
	if s == nil {
		removed = l.shared.removed.Load()
		return l.shared.added.Load(), removed
	}
	for i := range s {
		removed += s[i].removed.Load()
	}
	for i := range s {
		added += s[i].added.Load()
	}
	return added, removed
}
