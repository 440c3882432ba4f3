package balancer

import "math/rand/v2"

// WeightedLeastConnections is the weighted_least_connections algorithm: its
// pickers choose the endpoint with the fewest in-flight requests per unit
// of weight, comparing in-flight/weight cross-multiplied, without division.
//
// Ties go in weighted round-robin order, as nginx's least_conn does: each
// Pick starts its scan at the next endpoint of a smooth weighted
// round-robin sequence (the table of [WeightedRoundRobin]) and the first
// minimum found wins. An endpoint with nothing in flight ends the scan at
// once, since nothing beats it, so an idle group gets exactly the weighted
// round-robin shares (per P, once picks on several cores collide: see
// WeightedRoundRobin) and Pick costs O(1) while some endpoint near the
// start is idle; it is O(n) at worst, when every endpoint is busy.
type WeightedLeastConnections struct{}

// Build returns a weighted least-connections picker over endpoints.
func (WeightedLeastConnections) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	ls := loads(endpoints)
	ws, _ := reducedWeights(endpoints, ^uint64(0))
	p := &wlcPicker{eps: make([]loadWeight, len(endpoints)), start: wrrTable(endpoints)}
	p.n = uint64(len(p.start))
	for i := range p.eps {
		p.eps[i] = loadWeight{load: ls[i], w: ws[i]}
	}
	p.seq.init(rand.Uint64(), p.n)
	return p
}

// loadWeight is an endpoint's live load and its gcd-reduced weight.
type loadWeight struct {
	load *Load
	w    uint64
}

type wlcPicker struct {
	eps   []loadWeight
	start []int32 // where scans start: a weighted round-robin period
	n     uint64  // len(start)
	seq   sequence
}

func (p *wlcPicker) Pick(Request) int {
	eps := p.eps
	n := len(eps)
	i := int(p.start[p.seq.step()%p.n])
	best, benched := -1, -1
	var bestIn, bestW uint64
	var c benchClock
	for range n {
		e := &eps[i]
		in := inFlight(e.load)
		// in/w < bestIn/bestW
		if best < 0 || in == 0 || mulLess(in, bestW, bestIn, e.w) {
			if !c.benched(e.load) {
				if in == 0 {
					return i
				}
				best, bestIn, bestW = i, in, e.w
			} else if benched < 0 {
				benched = i
			}
		}
		if i++; i == n {
			i = 0
		}
	}
	if best < 0 {
		return benched // every endpoint is benched: the first one met
	}
	return best
}
