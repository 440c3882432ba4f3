package balancer

import (
	"runtime"
	"sync/atomic"
)

// sequence is the position of a rotating picker (round_robin,
// weighted_round_robin, weighted_least_connections' scan start,
// load_report_wrr's table) in its period. While picks come one at a time it
// is one counter, so that consecutive picks walk the period in order.
// The first time two picks collide on it (a failed compare-and-swap), it
// turns for good into one counter per P (up to MaxLoadStripes), each on a
// cache line of its own and starting its own way into the period, so that
// picks on several cores stop writing one cache line: from then on the
// picks made on each P walk the period in order.
type sequence struct {
	striped atomic.Bool
	stripes []seqStripe
	_       cacheLinePad
	next    atomic.Uint64
	_       cacheLinePad
}

type seqStripe struct {
	next atomic.Uint64
	_    [64 - 8]byte
}

// init starts the sequence at start, and its per-P counters spread evenly
// over the period from there.
func (q *sequence) init(start, period uint64) {
	q.next.Store(start)
	q.stripes = make([]seqStripe, min(max(runtime.GOMAXPROCS(0), 1), MaxLoadStripes))
	for i := range q.stripes {
		q.stripes[i].next.Store(start + uint64(i)*period/uint64(len(q.stripes)))
	}
}

// step returns the next position; positions grow without bound, and the
// caller reduces them modulo its period.
func (q *sequence) step() uint64 {
	if !q.striped.Load() {
		v := q.next.Load()
		if q.next.CompareAndSwap(v, v+1) {
			return v
		}
		q.striped.Store(true)
	}
	return q.stripes[stripe(len(q.stripes))].next.Add(1) - 1
}
