package balancer

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// WeightedRoundRobin is the weighted_round_robin algorithm: smooth
// weighted round robin, lock-free.
//
// Build divides the weights by their greatest common divisor and
// precomputes one period of the sequence, sum(weights)/gcd picks, into a
// table; Pick is an atomic increment indexing that table, O(1). Each picker
// starts at a random position in the period, so that frequent rebuilds and
// many clients do not all begin on the same endpoint.
//
// The table is nginx's smooth weighted round-robin sequence: at each step
// every endpoint's current weight grows by its weight, the first endpoint
// (lowest index) with the largest current weight is picked and its current
// weight drops by the total. Weights 5, 1, 1 give a a b a c a a. Build
// computes it in O(period x distinct weights) steps. When that would exceed
// about 2 million steps (2 ms; thousands of endpoints with dozens of
// distinct weights), Build lays the table out in static-stride order
// instead, as grpc-go's weighted_round_robin scheduler does: for generation
// g from 0 to maxW-1, each endpoint i in index order is included when
// (w_i*g + maxW/2) mod maxW >= maxW - w_i. Either way each endpoint occurs
// exactly w_i/gcd times per period, so every window of period consecutive
// picks gives each endpoint exactly its weight share.
//
// That holds for picks made one at a time. Once two picks have collided
// on the position's counter, the picker keeps one position per P instead
// (up to MaxLoadStripes, spread evenly over the period), so that cores do
// not share the counter's cache line: then every window of period
// consecutive picks made on one P gives each endpoint exactly its share,
// and the picks of all Ps together, in any window, stray from the shares
// by at most what one period's partial windows add up to, one per P.
//
// The table has one 4-byte entry per pick of the period, at most about
// max(128 x endpoints, 4096) entries: weights whose reduced sum exceeds
// that are first scaled down proportionally (each to at least 1), and the
// shares are then exact for the scaled weights. Weights of at most 128
// never reach the cap.
type WeightedRoundRobin struct{}

const (
	// wrrSmoothBudget bounds the steps (period x distinct weights) of the
	// exact nginx-sequence build.
	wrrSmoothBudget = 1 << 21
	// wrrMinTable is the smallest table cap, for small groups.
	wrrMinTable = 4096
	// wrrTablePerEndpoint is the table cap per endpoint.
	wrrTablePerEndpoint = 128
)

// Build returns a smooth weighted round-robin picker over endpoints.
func (WeightedRoundRobin) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	p := &wrrPicker{table: wrrTable(endpoints)}
	p.n = uint64(len(p.table))
	p.seq.init(rand.Uint64(), p.n)
	return p
}

type wrrPicker struct {
	table []int32
	n     uint64
	seq   sequence
}

func (p *wrrPicker) Pick(Request) int { return int(p.table[p.seq.step()%p.n]) }

// wrrTable returns one period of the weighted round-robin sequence.
func wrrTable(eps []Endpoint) []int32 { return wrrTableOf(eps, wrrTablePerEndpoint) }

// wrrTableOf is wrrTable with a cap of perEndpoint entries per endpoint
// (and at least wrrMinTable).
func wrrTableOf(eps []Endpoint, perEndpoint int) []int32 {
	limit := uint64(max(perEndpoint*len(eps), wrrMinTable))
	ws, total := reducedWeights(eps, limit)
	classes := wrrClasses(ws)
	if total*uint64(len(classes)) <= wrrSmoothBudget {
		return smoothTable(ws, total, classes)
	}
	return strideTable(ws, total)
}

// wrrClass is the endpoints sharing one weight. Within a class, members are
// picked in index order in rounds; the members not yet picked in the
// current round all have the same current weight, and those picked have
// that weight minus the total, so one value (smoothTable's key) stands for
// the whole class.
type wrrClass struct {
	w       int64
	cand    int32   // the next member to pick: members[k]
	k       int     // members picked in the current round
	members []int32 // ascending endpoint indices
}

func wrrClasses(ws []uint64) []wrrClass {
	byWeight := make(map[uint64]int)
	var classes []wrrClass
	lastW, c := uint64(0), 0
	for i, w := range ws {
		if w == lastW {
			classes[c].members = append(classes[c].members, int32(i))
			continue
		}
		lastW = w
		var ok bool
		c, ok = byWeight[w]
		if !ok {
			c = len(classes)
			byWeight[w] = c
			classes = append(classes, wrrClass{w: int64(w), cand: int32(i)})
		}
		classes[c].members = append(classes[c].members, int32(i))
	}
	return classes
}

// smoothTable simulates nginx's smooth weighted round robin over weight
// classes: each step costs one update per class instead of one per
// endpoint. ws must be reduced by their gcd, so the period is total.
//
// A class's state is one int64 key, cur<<idxBits | (idxMask - cand), so
// that the largest key is the largest current weight with ties to the
// lowest candidate index. Current weights stay within (-total, 2*total]
// and len(ws) <= total <= wrrSmoothBudget, so keys take under 50 bits.
func smoothTable(ws []uint64, total uint64, classes []wrrClass) []int32 {
	table := make([]int32, total)
	idxBits := uint(bits.Len(uint(len(ws))))
	mask := int64(1)<<idxBits - 1
	nc := len(classes)
	key, inc := make([]int64, nc), make([]int64, nc)
	classOf := make([]int32, len(ws)) // endpoint -> class
	for c := range classes {
		key[c] = mask - int64(classes[c].cand)
		inc[c] = classes[c].w << idxBits
		for _, i := range classes[c].members {
			classOf[i] = int32(c)
		}
	}
	dec := int64(total) << idxBits
	for step := range table {
		bestKey := advance(key, inc)
		cand := int32(mask - bestKey&mask)
		table[step] = cand
		best := classOf[cand]
		b := &classes[best]
		if b.k++; b.k == len(b.members) {
			b.k = 0
			bestKey -= dec
		}
		next := b.members[b.k]
		key[best] = bestKey + int64(cand) - int64(next)
		b.cand = next
	}
	return table
}

// advance adds inc to key and returns the largest key.
func advance(key, inc []int64) int64 {
	inc = inc[:len(key)]
	best := int64(math.MinInt64)
	for c, k := range key {
		k += inc[c]
		key[c] = k
		best = max(best, k)
	}
	return best
}

// strideTable lays out one period in static-stride order: generation g in
// [0, maxW) holds, in index order, each endpoint i with
// (w_i*g + maxW/2) mod maxW >= maxW - w_i. It runs in O(total + maxW + n):
// endpoint i's inclusions are the generations g_k = ceil((k*maxW - maxW/2)
// / w_i) - 1 for k in 1..w_i, placed by a counting sort on g.
func strideTable(ws []uint64, total uint64) []int32 {
	var maxW uint64
	for _, w := range ws {
		maxW = max(maxW, w)
	}
	half := maxW / 2
	// each calls f(g) for every generation g that includes weight w.
	each := func(w uint64, f func(g uint64)) {
		// num = k*maxW - half + w - 1, kept as q*w + r; g = q - 1.
		num := maxW - half + w - 1
		q, r := num/w, num%w
		dq, dr := maxW/w, maxW%w
		for range w {
			f(q - 1)
			q, r = q+dq, r+dr
			if r >= w {
				q, r = q+1, r-w
			}
		}
	}
	start := make([]uint64, maxW+1)
	for _, w := range ws {
		each(w, func(g uint64) { start[g+1]++ })
	}
	for g := uint64(1); g <= maxW; g++ {
		start[g] += start[g-1]
	}
	table := make([]int32, total)
	for i, w := range ws {
		each(w, func(g uint64) {
			table[start[g]] = int32(i)
			start[g]++
		})
	}
	return table
}
