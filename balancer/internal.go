package balancer

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// cacheLinePad keeps a hot atomic counter off the cache line of the
// read-only fields next to it.
type cacheLinePad [64]byte

// rnd returns a random uint64 from f, or from math/rand/v2's lock-free
// per-thread source when f is nil.
func rnd(f func() uint64) uint64 {
	if f != nil {
		return f()
	}
	return rand.Uint64()
}

// rangeN maps r uniformly onto [0, n) by the high half of r*n: no division.
func rangeN(r, n uint64) uint64 {
	hi, _ := bits.Mul64(r, n)
	return hi
}

// range32 maps the 32-bit value x onto [0, n) for n <= 2^32.
func range32(x uint32, n uint64) uint64 { return (uint64(x) * n) >> 32 }

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// reducedWeights returns the endpoints' weights (below 1 counts as 1)
// divided by their greatest common divisor, and their sum. If the sum
// exceeds limit the weights are first scaled down proportionally, each to
// at least 1, so that the sum is at most limit+len(eps).
func reducedWeights(eps []Endpoint, limit uint64) (ws []uint64, total uint64) {
	ws = make([]uint64, len(eps))
	var g uint64
	for i := range eps {
		w := uint64(1)
		if eps[i].Weight > 1 {
			w = uint64(eps[i].Weight)
		}
		ws[i] = w
		g = gcd(w, g)
	}
	var carry uint64
	for i := range ws {
		ws[i] /= g
		total, carry = bits.Add64(total, ws[i], 0)
		if carry != 0 {
			total = math.MaxUint64
			break
		}
	}
	if total <= limit {
		return ws, total
	}
	var sum float64
	for _, w := range ws {
		sum += float64(w)
	}
	f := float64(limit) / sum
	g = 0
	for i, w := range ws {
		s := uint64(float64(w) * f)
		if s < 1 {
			s = 1
		}
		ws[i] = s
		g = gcd(s, g)
	}
	total = 0
	for i := range ws {
		ws[i] /= g
		total += ws[i]
	}
	return ws, total
}

// mulLess reports whether a*b < c*d, in 128-bit arithmetic when the
// operands need it.
func mulLess(a, b, c, d uint64) bool {
	if (a|b|c|d)>>32 == 0 {
		return a*b < c*d
	}
	h1, l1 := bits.Mul64(a, b)
	h2, l2 := bits.Mul64(c, d)
	return h1 < h2 || (h1 == h2 && l1 < l2)
}

// inFlight returns l's in-flight count, a negative count read as 0.
func inFlight(l *Load) uint64 {
	v := l.InFlight()
	if v < 0 {
		return 0
	}
	return uint64(v)
}

// noEndpoints is what the built-ins build from an empty slice, which the
// contract rules out: its Pick returns -1, which the group reports as an
// error, rather than dividing by zero.
type noEndpoints struct{}

func (noEndpoints) Pick(Request) int { return -1 }
