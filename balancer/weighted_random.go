package balancer

import (
	"math"
	"math/bits"
)

// WeightedRandom is the weighted_random algorithm: its pickers choose an
// endpoint at random in proportion to its weight, by Vose's alias method:
// O(n) Build, O(1) Pick (one random number, one table entry).
//
// Rand, if not nil, is the source of random numbers; it is called
// concurrently from every goroutine that picks, so it must be safe for
// concurrent use. Nil means math/rand/v2's top-level Uint64, which is
// lock-free.
type WeightedRandom struct {
	Rand func() uint64
}

// Build returns a weighted random picker over endpoints.
func (a WeightedRandom) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	return &weightedRandomPicker{table: newAliasTable(endpoints), rand: a.Rand}
}

type weightedRandomPicker struct {
	table aliasTable
	rand  func() uint64
}

func (p *weightedRandomPicker) Pick(Request) int { return p.table.pick(rnd(p.rand)) }

// aliasEntry is one column of an alias table: the column's own endpoint is
// chosen when a uniform 32-bit fraction is below prob, alias otherwise.
type aliasEntry struct {
	prob  uint32
	alias uint32
}

// aliasTable is a Vose alias table: column i belongs to endpoint i.
type aliasTable []aliasEntry

// aliasWeightLimit bounds the reduced weights' sum so that the exact
// integer construction cannot overflow.
const aliasWeightLimit = 1 << 32

// newAliasTable builds the alias table for the endpoints' weights in exact
// integer arithmetic; only the final 32-bit thresholds are rounded.
func newAliasTable(eps []Endpoint) aliasTable {
	ws, total := reducedWeights(eps, aliasWeightLimit)
	n := uint64(len(ws))
	t := make(aliasTable, n)
	// Column mass is total; endpoint i brings ws[i]*n.
	p := make([]uint64, n)
	var small, large []uint32
	for i, w := range ws {
		p[i] = w * n
		t[i] = aliasEntry{prob: math.MaxUint32, alias: uint32(i)}
		if p[i] < total {
			small = append(small, uint32(i))
		} else {
			large = append(large, uint32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		// p[s] < total, so the quotient fits in 32 bits.
		q, _ := bits.Div64(p[s]>>32, p[s]<<32, total)
		t[s] = aliasEntry{prob: uint32(q), alias: l}
		p[l] -= total - p[s]
		if p[l] < total {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	// Columns left in either list are full: prob MaxUint32 and alias self.
	return t
}

// pick maps a uniform 64-bit r to an endpoint: the high half of r*n picks
// the column, the low half is the fraction compared with its threshold.
func (t aliasTable) pick(r uint64) int {
	col, frac := bits.Mul64(r, uint64(len(t)))
	e := t[col]
	if uint32(frac>>32) < e.prob {
		return int(col)
	}
	return int(e.alias)
}

// pick32 is pick for a uniform 32-bit x; len(t) must be at most 2^32.
func (t aliasTable) pick32(x uint32) int {
	prod := uint64(x) * uint64(len(t))
	col := prod >> 32
	e := t[col]
	if uint32(prod) < e.prob {
		return int(col)
	}
	return int(e.alias)
}
