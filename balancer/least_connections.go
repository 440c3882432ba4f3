package balancer

import (
	"math/rand/v2"
	"sync/atomic"
)

// WeightedLeastConnections is the weighted_least_connections algorithm: its
// pickers choose the endpoint with the fewest in-flight requests per unit
// of weight, comparing in-flight/weight cross-multiplied, without division.
//
// Ties rotate: each Pick scans from an atomically rotating start and the
// first minimum found wins. An endpoint with nothing in flight ends the
// scan at once, since nothing beats it: Pick costs O(1) while some endpoint
// near the start is idle and O(n) at worst, when every endpoint is busy.
// Idle endpoints therefore share requests equally, whatever their weights.
// Tied endpoints share picks, though not always equally: a scan that
// starts on a more loaded endpoint ends on the next tied one.
type WeightedLeastConnections struct{}

// Build returns a weighted least-connections picker over endpoints.
func (WeightedLeastConnections) Build(endpoints []Endpoint) Picker {
	ls := loads(endpoints)
	ws, _ := reducedWeights(endpoints, ^uint64(0))
	p := &wlcPicker{eps: make([]loadWeight, len(endpoints))}
	for i := range p.eps {
		p.eps[i] = loadWeight{load: ls[i], w: ws[i]}
	}
	p.next.Store(rand.Uint64())
	return p
}

// loadWeight is an endpoint's live load and its gcd-reduced weight.
type loadWeight struct {
	load *Load
	w    uint64
}

type wlcPicker struct {
	eps  []loadWeight
	_    cacheLinePad
	next atomic.Uint64
	_    cacheLinePad
}

func (p *wlcPicker) Pick(Request) int {
	eps := p.eps
	n := len(eps)
	i := int((p.next.Add(1) - 1) % uint64(n))
	best := -1
	var bestIn, bestW uint64
	for range n {
		e := &eps[i]
		in := inFlight(e.load)
		if in == 0 {
			return i
		}
		// in/w < bestIn/bestW
		if best < 0 || mulLess(in, bestW, bestIn, e.w) {
			best, bestIn, bestW = i, in, e.w
		}
		if i++; i == n {
			i = 0
		}
	}
	return best
}
