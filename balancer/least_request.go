package balancer

import (
	"fmt"

	"github.com/go-elb/elb/internal/cfgerr"
)

// LeastRequest is the least_request algorithm: power of k choices. Each
// Pick draws ChoiceCount candidates at random and returns the one with the
// fewest in-flight requests per unit of weight (compared cross-multiplied);
// on a tie the first candidate drawn wins. Pick is O(ChoiceCount), O(1).
//
// With equal weights the candidates are distinct endpoints drawn
// uniformly. With unequal weights they are drawn in proportion to weight,
// independently (an alias table), so an idle group gets exactly the
// weighted shares.
//
// With UseLatency ("peak EWMA"), candidates are compared by
// (in-flight+1) x latency EWMA / weight instead. An endpoint without a
// latency sample yet ranks before every endpoint with one, so that it gets
// tried; two such endpoints compare by in-flight/weight.
type LeastRequest struct {
	// ChoiceCount is the number of candidates per pick, from 2 to 10
	// (gRPC's range); 0 means 2. Build clamps other values into range;
	// Validate rejects them.
	ChoiceCount int

	// UseLatency compares candidates by latency EWMA as well as in-flight
	// requests.
	UseLatency bool

	// Rand, if not nil, is the source of random numbers; it is called
	// concurrently from every goroutine that picks, so it must be safe
	// for concurrent use. Nil means math/rand/v2's top-level Uint64, which
	// is lock-free.
	Rand func() uint64
}

// The range of [LeastRequest.ChoiceCount].
const (
	minChoiceCount = 2
	maxChoiceCount = 10
)

// Validate returns an *elb.ConfigError for the field ChoiceCount if it is
// neither 0 nor 2-10. [Register] calls it.
func (a LeastRequest) Validate() error {
	if a.ChoiceCount != 0 && (a.ChoiceCount < minChoiceCount || a.ChoiceCount > maxChoiceCount) {
		return cfgerr.New("ChoiceCount", a.ChoiceCount,
			fmt.Sprintf("must be %d-%d, or 0 for %d", minChoiceCount, maxChoiceCount, minChoiceCount))
	}
	return nil
}

// Build returns a least-request picker over endpoints.
func (a LeastRequest) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	k := a.ChoiceCount
	if k == 0 {
		k = minChoiceCount
	}
	k = min(max(k, minChoiceCount), maxChoiceCount)
	ls := loads(endpoints)
	ws, _ := reducedWeights(endpoints, ^uint64(0))
	p := &lrPicker{eps: make([]loadWeight, len(endpoints)), k: k, latency: a.UseLatency, rand: a.Rand}
	for i := range p.eps {
		p.eps[i] = loadWeight{load: ls[i], w: ws[i]}
		if ws[i] != ws[0] && p.alias == nil {
			p.alias = newAliasTable(endpoints)
		}
	}
	return p
}

type lrPicker struct {
	eps     []loadWeight
	alias   aliasTable // nil when all weights are equal
	k       int
	latency bool
	rand    func() uint64
}

func (p *lrPicker) Pick(Request) int {
	n := len(p.eps)
	if n == 1 {
		return 0
	}
	if p.alias != nil {
		if p.k == 2 {
			r := rnd(p.rand)
			i, j := p.alias.pick32(uint32(r>>32)), p.alias.pick32(uint32(r))
			if p.better(j, i) {
				return j
			}
			return i
		}
		return p.pickWeighted()
	}
	if p.k == 2 {
		r := rnd(p.rand)
		i := int(range32(uint32(r>>32), uint64(n)))
		j := int(range32(uint32(r), uint64(n-1)))
		if j >= i {
			j++
		}
		if p.better(j, i) {
			return j
		}
		return i
	}
	return p.pickDistinct()
}

// pickDistinct draws min(k, n) distinct candidates uniformly, in random
// order: the m-th draw is uniform over the n-m endpoints not drawn yet.
func (p *lrPicker) pickDistinct() int {
	n := len(p.eps)
	k := min(p.k, n)
	var drawn [maxChoiceCount]int // ascending
	var r uint64
	best := -1
	for m := range k {
		if m%2 == 0 {
			r = rnd(p.rand)
		} else {
			r <<= 32
		}
		x := int(range32(uint32(r>>32), uint64(n-m)))
		pos := 0
		for pos < m && drawn[pos] <= x {
			x++
			pos++
		}
		copy(drawn[pos+1:m+1], drawn[pos:m])
		drawn[pos] = x
		if best < 0 || p.better(x, best) {
			best = x
		}
	}
	return best
}

// pickWeighted draws k candidates independently in proportion to weight.
func (p *lrPicker) pickWeighted() int {
	var r uint64
	best := -1
	for m := range p.k {
		if m%2 == 0 {
			r = rnd(p.rand)
		} else {
			r <<= 32
		}
		x := p.alias.pick32(uint32(r >> 32))
		if best < 0 || p.better(x, best) {
			best = x
		}
	}
	return best
}

// better reports whether endpoint a is strictly less loaded than b.
func (p *lrPicker) better(a, b int) bool {
	ea, eb := &p.eps[a], &p.eps[b]
	ia, ib := inFlight(ea.load), inFlight(eb.load)
	if p.latency {
		la, lb := ea.load.Latency(), eb.load.Latency()
		switch {
		case la <= 0 && lb > 0:
			return true
		case lb <= 0 && la > 0:
			return false
		case la > 0 && lb > 0:
			// (ia+1)*la/wa < (ib+1)*lb/wb; float64 keeps the triple
			// products in range and its rounding is immaterial here.
			return float64(ia+1)*float64(la)*float64(eb.w) < float64(ib+1)*float64(lb)*float64(ea.w)
		}
	}
	// ia/wa < ib/wb
	return mulLess(ia, eb.w, ib, ea.w)
}
