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
// A benched candidate ([Load.Bench]) loses to one that is not; when every
// candidate drawn is benched, Pick draws again, up to 3 times, and then
// scans (O(n)) for an endpoint that is not benched, returning a benched
// one only when all are. For latency as well as in-flight requests, see [PeakEWMA].
//
// Through a group, once two cores have collided on an endpoint's Load
// (see Load), the counts compared are those of the picking goroutine's P:
// the group counts each request on the part of the Load of the P that
// picked it, and takes it out of that part wherever it ends, so a part
// holds exactly the requests picked on its P and not ended, and a pick
// reads no cache line that the other cores write. A pick is then the
// least loaded of its candidates by its own P's requests, blind to those
// the other Ps picked: each P balances its own requests, and a backend
// that holds every request sent to it collects at most, per P, as many as
// the other candidate has from that P, plus one (with exact sums: plus
// one in all). [Load.InFlight], the group's Stats and drains count the
// sums, exactly. On Loads counted with [Load.AddInFlight] (not by a
// group), where a part is no P's requests, it compares the sums.
type LeastRequest struct {
	// ChoiceCount is the number of candidates per pick, from 2 to 10
	// (gRPC's range); 0 means 2. Build clamps other values into range;
	// Validate rejects them.
	ChoiceCount int

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
	return newLRPicker(endpoints, k, a.Rand, false)
}

// newLRPicker returns a power-of-k-choices picker over endpoints (at least
// one), comparing candidates by in-flight/weight or, with ewma, by
// peak_ewma's cost.
func newLRPicker(endpoints []Endpoint, k int, rand func() uint64, ewma bool) *lrPicker {
	ls := loads(endpoints)
	ws, _ := reducedWeights(endpoints, ^uint64(0))
	p := &lrPicker{eps: make([]loadWeight, len(endpoints)), k: k, ewma: ewma, rand: rand}
	for i := range p.eps {
		p.eps[i] = loadWeight{load: ls[i], w: ws[i]}
		if ws[i] != ws[0] && p.alias == nil {
			p.alias = newAliasTable(endpoints)
		}
	}
	return p
}

type lrPicker struct {
	eps   []loadWeight
	alias aliasTable // nil when all weights are equal
	k     int
	ewma  bool // compare by peak_ewma's cost
	rand  func() uint64

	ticksPerDecay float64 // peak_ewma: 1 ms / Decay
}

// benchRedraws is how many draws Pick makes, after the first, before it
// scans for an endpoint that is not benched.
const benchRedraws = 3

func (p *lrPicker) Pick(Request) int {
	if len(p.eps) == 1 {
		return 0
	}
	var c lrScratch
	i := p.draw(&c)
	if !c.benched(p.eps[i].load) {
		return i
	}
	for range benchRedraws {
		if j := p.draw(&c); !c.benched(p.eps[j].load) {
			return j
		}
	}
	return p.scanUnbenched(i, &c)
}

// scanUnbenched returns the first endpoint that is not benched from a
// random start, or i if every endpoint is.
func (p *lrPicker) scanUnbenched(i int, c *lrScratch) int {
	n := len(p.eps)
	j := int(rangeN(rnd(p.rand), uint64(n)))
	for range n {
		if !c.benched(p.eps[j].load) {
			return j
		}
		if j++; j == n {
			j = 0
		}
	}
	return i
}

// draw returns the best of k candidates.
func (p *lrPicker) draw(c *lrScratch) int {
	if p.alias != nil {
		if p.k == 2 {
			r := rnd(p.rand)
			i, j := p.alias.pick32(uint32(r>>32)), p.alias.pick32(uint32(r))
			if p.better(j, i, c) {
				return j
			}
			return i
		}
		return p.pickWeighted(c)
	}
	if p.k == 2 {
		n := len(p.eps)
		r := rnd(p.rand)
		i := int(range32(uint32(r>>32), uint64(n)))
		j := int(range32(uint32(r), uint64(n-1)))
		if j >= i {
			j++
		}
		if p.better(j, i, c) {
			return j
		}
		return i
	}
	return p.pickDistinct(c)
}

// pickDistinct draws min(k, n) distinct candidates uniformly, in random
// order: the m-th draw is uniform over the n-m endpoints not drawn yet.
func (p *lrPicker) pickDistinct(c *lrScratch) int {
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
		if best < 0 || p.better(x, best, c) {
			best = x
		}
	}
	return best
}

// pickWeighted draws k candidates independently in proportion to weight.
func (p *lrPicker) pickWeighted(c *lrScratch) int {
	var r uint64
	best := -1
	for m := range p.k {
		if m%2 == 0 {
			r = rnd(p.rand)
		} else {
			r <<= 32
		}
		x := p.alias.pick32(uint32(r >> 32))
		if best < 0 || p.better(x, best, c) {
			best = x
		}
	}
	return best
}

// better reports whether endpoint a is a strictly better pick than b: not
// benched when b is, else less loaded.
func (p *lrPicker) better(a, b int, c *lrScratch) bool {
	ea, eb := &p.eps[a], &p.eps[b]
	if ba, bb := c.benched(ea.load), c.benched(eb.load); ba != bb {
		return bb
	}
	if p.ewma {
		return p.ewmaLess(ea, eb)
	}
	// The requests in flight on the part of the caller's P (see
	// Load.partInFlight), or, if either part is not exact, the sums.
	ia, oka := ea.load.partInFlight(&c.p)
	ib, okb := eb.load.partInFlight(&c.p)
	if !oka || !okb {
		ia, ib = ea.load.InFlight(), eb.load.InFlight()
	}
	return mulLess(uint64(max(ia, 0)), eb.w, uint64(max(ib, 0)), ea.w) // ia/wa < ib/wb
}

// lrScratch is what one pick reads once: the clock, for benches, and the
// caller's P, for the in-flight counts.
type lrScratch struct {
	benchClock
	p int // the P's index + 1; 0 = not read yet (see Load.partInFlight)
}
