package balancer

import (
	"cmp"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"

	"github.com/go-elb/elb/internal/hash64"
)

// ConsistentHash is the consistent_hash algorithm (and, with SourceIP, the
// source_ip_hash algorithm): a Maglev lookup table (Eisenbud et al.,
// NSDI '16), weighted as Envoy's MaglevTable is. Pick hashes the request's
// key to a table slot: O(1), no allocation.
//
// Up to 16,384 endpoints the table has one size, 2^19 - 1 = 524,287 slots
// (a prime; 1 byte a slot up to 256 endpoints, 2 beyond), whatever their
// number and weights: no Add, Remove, weight change or health flip resizes
// it, which would remap nearly every key. Endpoints are placed by their
// IDs alone, so a key maps to the same endpoint ID in every process and
// across rebuilds, whatever the order of the endpoints, and an endpoint
// that leaves and comes back gets back exactly the slots it had. The size
// is what 10,000 endpoints need for equal weights to get shares within 2%
// (52 or 53 slots each); a table sized by n (the obvious alternative, and
// what this was before) resizes on every change, and bands of sizes with
// hysteresis would need the previous table, which Build does not see.
// Measured (go test -run TableProperties -v ./balancer/ checks the bounds;
// rebuild: go test -bench 'Build/consistent_hash' ./balancer/, on a busy
// 2-core machine), removing one of n equal endpoints:
//
//	    n   keys moved   1/n      max/mean share   rebuild
//	   10   10.06%       10%      1.0000           18 ms
//	  100    1.15%        1%      1.0000           19 ms
//	  164    0.80%        0.61%   1.0000           20 ms
//	  200    0.69%        0.50%   1.0002           28 ms
//	  500    0.45%        0.20%   1.0004           23 ms
//	1,000    0.49%        0.10%   1.0014           20 ms
//	10,000   0.09%        0.01%   1.0109           25 ms
//
// An addition moves as little; a weight change moves keys to or from that
// endpoint and, measured, at most 0.4% between others (Maglev's cascade:
// no table can keep exact shares and never move keys between bystanders).
// Each endpoint gets a share of slots proportional to its weight, within
// a slot. The build costs the same at every size (the table's size):
// endpoints take turns walking their permutations of the table, and the
// last 768 free slots are found by search rather than by walking. The
// last 4 tables built are kept (about 4 MiB at most) and reused for the
// same endpoints and weights, so a health flip or a remove-and-add back
// costs no fill. Beyond
// 16,384 endpoints the size is fixed per power-of-two band of n (the
// largest prime below 32 x the band's top), and crossing a band remaps the
// keys.
//
// Keys are hashed with a fixed 64-bit hash (FNV-1a and a splitmix64
// finalizer), never a per-process seed. A request with an empty key (or
// source) goes to a random slot: still weight-proportional, but with no
// affinity.
type ConsistentHash struct {
	// SourceIP hashes the IP address of Request.Source instead of
	// Request.Key: "1.2.3.4:5555" and "1.2.3.4" map alike, as do all
	// textual forms of one IPv6 address (its port and zone are ignored).
	// A Source that is not an IP address is hashed as a string.
	SourceIP bool
}

const (
	// maglevFixedSize is the table size up to maglevFixedMax endpoints:
	// 2^19 - 1, a prime. At 10,000 endpoints that is 52 slots each, so
	// equal weights get shares within 2% of each other (52 or 53 slots).
	maglevFixedSize = 1<<19 - 1
	// maglevFixedMax is the most endpoints the fixed size serves.
	maglevFixedMax = 1 << 14
)

// Build returns a Maglev picker over endpoints.
func (a ConsistentHash) Build(endpoints []Endpoint) Picker {
	n := len(endpoints)
	if n == 0 {
		return noEndpoints{}
	}
	switch {
	case n <= 1<<8:
		return buildMaglev[uint8](endpoints, a.SourceIP)
	case n <= 1<<16:
		return buildMaglev[uint16](endpoints, a.SourceIP)
	}
	return buildMaglev[uint32](endpoints, a.SourceIP)
}

func buildMaglev[T uint8 | uint16 | uint32](eps []Endpoint, sourceIP bool) *maglevPicker[T] {
	m := maglevSize(len(eps))
	o := canonicalOrder(eps)
	perm := make([]int32, len(eps))
	for k, i := range o.order {
		perm[k] = int32(i)
	}
	key := maglevKey{m: m, ids: make([]string, len(eps)), ws: make([]uint64, len(eps))}
	for k, i := range o.order {
		key.ids[k], key.ws[k] = eps[i].ID, o.ws[i]
	}
	table, ok := maglevCache.get(key).([]T)
	if !ok {
		table = maglevTable[T](eps, o, m)
		maglevCache.put(key, table)
	}
	return &maglevPicker[T]{table: table, perm: perm, m: m, sourceIP: sourceIP}
}

type maglevPicker[T uint8 | uint16 | uint32] struct {
	table    []T     // canonical position of each slot's endpoint
	perm     []int32 // canonical position -> index in the endpoints slice
	m        uint64
	sourceIP bool
}

// Pick looks the request's hash up in the Maglev table.
func (p *maglevPicker[T]) Pick(req Request) int {
	var h uint64
	switch {
	case p.sourceIP && req.Source != "":
		h = hashSource(req.Source)
	case !p.sourceIP && req.Key != "":
		h = hash64.String(req.Key, 0)
	default:
		h = rand.Uint64()
	}
	return int(p.perm[p.table[rangeN(h, p.m)]])
}

// maglevCache keeps the last few tables built, by their endpoints (IDs
// and reduced weights, in canonical order): a health flip, or a backend
// removed and added back, returns to a set seen moments before, and its
// table (the same, by construction) is then reused instead of rebuilt.
// Tables are immutable once built; pickers over the same set in any order
// share one. Only fixed-size tables are kept: at most maglevCacheSize MiB
// or so (1 or 2 bytes a slot).
var maglevCache tableCache

// maglevCacheSize is how many tables maglevCache keeps.
const maglevCacheSize = 4

// maglevKey is what a table depends on.
type maglevKey struct {
	m   uint64
	ids []string
	ws  []uint64
}

func (k maglevKey) equal(o maglevKey) bool {
	return k.m == o.m && slices.Equal(k.ids, o.ids) && slices.Equal(k.ws, o.ws)
}

// tableCache is a small most-recently-used list of tables.
type tableCache struct {
	mu      sync.Mutex
	entries []tableEntry // most recent first
}

type tableEntry struct {
	key   maglevKey
	table any
}

// get returns the table for key, or nil.
func (c *tableCache) get(key maglevKey) any {
	if key.m != maglevFixedSize {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, e := range c.entries {
		if e.key.equal(key) {
			copy(c.entries[1:i+1], c.entries[:i])
			c.entries[0] = e
			return e.table
		}
	}
	return nil
}

// put adds key's table, dropping the least recently used beyond the size.
func (c *tableCache) put(key maglevKey, table any) {
	if key.m != maglevFixedSize {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) < maglevCacheSize {
		c.entries = append(c.entries, tableEntry{})
	}
	copy(c.entries[1:], c.entries[:len(c.entries)-1])
	c.entries[0] = tableEntry{key, table}
}

// maglevSize returns the table size for n endpoints: maglevFixedSize up to
// maglevFixedMax endpoints, so that no change of membership or weight in
// that range resizes the table; above, one size per power-of-two band of
// n, the largest prime below 32 x the band's top (32 to 64 slots an
// endpoint).
func maglevSize(n int) uint64 {
	if n <= maglevFixedMax {
		return maglevFixedSize
	}
	top := uint64(1) << bits.Len64(uint64(n-1)) // n <= top < 2n
	return prevPrime(32 * top)
}

// maglevEntry is one endpoint's walk through its permutation of the table:
// slot pos next, then pos+skip, pos+2*skip, ... modulo the table size.
type maglevEntry struct {
	pos, skip uint64
	idx       int // canonical position
}

// canonical is the endpoints' canonical order (by hash of ID, then ID),
// independent of their order in the slice, with their reduced weights and
// ID hashes (both by slice index).
type canonical struct {
	order  []int // canonical position -> slice index
	ws, hs []uint64
}

func canonicalOrder(eps []Endpoint) canonical {
	ws, _ := reducedWeights(eps, aliasWeightLimit)
	hs := make([]uint64, len(eps))
	order := make([]int, len(eps))
	for i := range eps {
		hs[i] = hash64.String(eps[i].ID, seedOffset)
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(hs[a], hs[b]), strings.Compare(eps[a].ID, eps[b].ID), cmp.Compare(a, b))
	})
	return canonical{order, ws, hs}
}

// maglevTable fills a table of m slots, m prime, with the canonical
// positions of the endpoints.
//
// Endpoints take turns in the canonical order. As in Envoy, an endpoint of
// weight w takes its j-th turn at iteration ceil(j*maxW/w), so that it
// claims slots in proportion to w; within an iteration, heavier endpoints
// go first. Each turn claims the next free slot of the endpoint's
// permutation.
func maglevTable[T uint8 | uint16 | uint32](eps []Endpoint, o canonical, m uint64) []T {
	if m >= 1<<32 { // the search's products would overflow
		return maglevFill[T](eps, o, m, 0)
	}
	return maglevFill[T](eps, o, m, maglevTailSlots)
}

// maglevFill is maglevTable, searching rather than walking for the last
// tailSlots slots (0: walking to the end; the table is the same).
//
// The fill and its two loops (nextFree, maglevTail.claim) touch only
// memory the call allocated and has not yet shared, so they are left out
// of the race detector's instrumentation (go:norace), which would make
// every build of the half-million-slot table 7 times slower under -race.
//
//go:norace
func maglevFill[T uint8 | uint16 | uint32](eps []Endpoint, o canonical, m uint64, tailSlots uint64) []T {
	n := len(eps)
	order, ws, hs := o.order, o.ws, o.hs

	// Weight classes, heaviest first; members in canonical order.
	entries := make([]maglevEntry, n)
	var maxW uint64
	for k, i := range order {
		entries[k] = maglevEntry{
			pos:  hs[i] % m,
			skip: hash64.String(eps[i].ID, seedSkip)%(m-1) + 1,
			idx:  k,
		}
		maxW = max(maxW, ws[i])
	}
	type class struct {
		w, j    uint64 // weight, turns taken
		members []int  // into entries
	}
	var classes []class
	byWeight := make(map[uint64]int)
	for k, i := range order {
		c, ok := byWeight[ws[i]]
		if !ok {
			c = len(classes)
			byWeight[ws[i]] = c
			classes = append(classes, class{w: ws[i]})
		}
		classes[c].members = append(classes[c].members, k)
	}
	slices.SortFunc(classes, func(a, b class) int { return cmp.Compare(b.w, a.w) })

	// Turns, by (iteration, class): a small binary heap.
	turns := make(turnHeap, 0, len(classes))
	for c := range classes {
		turns.push(turn{0, c})
	}
	table := make([]T, m)
	filled := make([]uint64, (m+63)/64)
	left := m
	var tail *maglevTail
	for left > 0 {
		t := turns.pop()
		cl := &classes[t.class]
		for _, k := range cl.members {
			e := &entries[k]
			var p uint64
			if tail != nil {
				p = tail.claim(e)
			} else {
				p = nextFree(filled, e.pos, e.skip, m)
				filled[p>>6] |= 1 << (p & 63)
			}
			table[p] = T(e.idx)
			if p += e.skip; p >= m {
				p -= m
			}
			e.pos = p
			if left--; left == 0 {
				break
			}
			if left == tailSlots {
				tail = newMaglevTail(filled, m)
			}
		}
		cl.j++
		turns.push(turn{(cl.j*maxW + cl.w - 1) / cl.w, t.class})
	}
	return table
}

// maglevTailSlots is when the fill switches from walking permutations to
// searching the free slots: once this few are left. A walk then needs
// about m/left probes per claim, a search left steps; the sum of both is
// least near sqrt(m) (724 for the fixed size).
const maglevTailSlots = 768

// maglevTail finds the claims of the last free slots exactly as the walks
// would, without walking: endpoint e's next claim is the free slot s that
// its walk reaches first, the one with the least (s-pos)/skip mod m.
type maglevTail struct {
	free []uint64 // the free slots
	m    uint64
	inv  map[uint64]uint64 // skip -> its inverse mod m, as needed
	bm   uint64            // Barrett constant, floor(2^64 / m)
}

func newMaglevTail(filled []uint64, m uint64) *maglevTail {
	t := &maglevTail{m: m, inv: make(map[uint64]uint64), bm: ^uint64(0) / m}
	for w, word := range filled {
		for free := ^word; free != 0; free &= free - 1 {
			if s := uint64(w)<<6 + uint64(bits.TrailingZeros64(free)); s < m {
				t.free = append(t.free, s)
			}
		}
	}
	return t
}

// mod returns x mod m, for any x: Barrett reduction, no division.
func (t *maglevTail) mod(x uint64) uint64 {
	q, _ := bits.Mul64(x, t.bm)
	r := x - q*t.m
	if r >= t.m {
		r -= t.m
	}
	return r
}

// claim takes e's next slot off the free list and returns it.
//
//go:norace
func (t *maglevTail) claim(e *maglevEntry) uint64 {
	inv, ok := t.inv[e.skip]
	if !ok {
		inv = modInverse(e.skip, t.m)
		t.inv[e.skip] = inv
	}
	best, bestSteps := 0, t.m
	for i, s := range t.free {
		d := s + t.m - e.pos // in (0, 2m): (s - pos) mod m, before reduction
		if d >= t.m {
			d -= t.m
		}
		// Steps from pos to s: d / skip mod m; d, inv < m < 2^32.
		if steps := t.mod(d * inv); steps < bestSteps {
			best, bestSteps = i, steps
		}
	}
	s := t.free[best]
	last := len(t.free) - 1
	t.free[best] = t.free[last]
	t.free = t.free[:last]
	return s
}

// modInverse returns the inverse of a mod the prime m, 0 < a < m.
func modInverse(a, m uint64) uint64 {
	// Extended Euclid on (m, a), tracking a's coefficient only.
	r0, r1 := int64(m), int64(a)
	t0, t1 := int64(0), int64(1)
	for r1 != 0 {
		q := r0 / r1
		r0, r1 = r1, r0-q*r1
		t0, t1 = t1, t0-q*t1
	}
	if t0 < 0 {
		t0 += int64(m)
	}
	return uint64(t0)
}

// nextFree returns the first slot not in filled of the walk p, p+skip,
// p+2*skip, ... modulo m. It tests four slots a round: the loads are
// independent, and late in the fill, when most slots are taken, one branch
// decides four probes.
//
//go:norace
func nextFree(filled []uint64, p, skip, m uint64) uint64 {
	if filled[p>>6]&(1<<(p&63)) == 0 {
		return p
	}
	for {
		// p = (p + skip) mod m without a branch: p, skip < m < 2^62.
		p1 := p + skip - m
		p1 += m & uint64(int64(p1)>>63)
		p2 := p1 + skip - m
		p2 += m & uint64(int64(p2)>>63)
		p3 := p2 + skip - m
		p3 += m & uint64(int64(p3)>>63)
		p4 := p3 + skip - m
		p4 += m & uint64(int64(p4)>>63)
		t1 := filled[p1>>6] >> (p1 & 63)
		t2 := filled[p2>>6] >> (p2 & 63)
		t3 := filled[p3>>6] >> (p3 & 63)
		t4 := filled[p4>>6] >> (p4 & 63)
		if t1&t2&t3&t4&1 == 0 {
			switch {
			case t1&1 == 0:
				return p1
			case t2&1 == 0:
				return p2
			case t3&1 == 0:
				return p3
			}
			return p4
		}
		p = p4
	}
}

// turn is a weight class's next turn in the Maglev fill.
type turn struct {
	iter  uint64
	class int
}

func (a turn) less(b turn) bool { return a.iter < b.iter || (a.iter == b.iter && a.class < b.class) }

// turnHeap orders the weight classes' turns in maglevFill; like the fill, it
// touches only memory of its build, so it runs without the race detector's
// instrumentation.
type turnHeap []turn

//go:norace
func (h *turnHeap) push(t turn) {
	*h = append(*h, t)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s[i].less(s[parent]) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

//go:norace
func (h *turnHeap) pop() turn {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < len(s) && s[l].less(s[small]) {
			small = l
		}
		if r := l + 1; r < len(s) && s[r].less(s[small]) {
			small = r
		}
		if small == i {
			break
		}
		s[i], s[small] = s[small], s[i]
		i = small
	}
	*h = s
	return top
}

// prevPrime returns the largest prime below x, for x > 3.
func prevPrime(x uint64) uint64 {
	x--
	if x%2 == 0 {
		x--
	}
	for !isPrime(x) {
		x -= 2
	}
	return x
}

// isPrime reports whether the odd number x >= 3 is prime, by trial
// division: Build calls it a few times on numbers below 2^25 or so.
func isPrime(x uint64) bool {
	for d := uint64(3); d*d <= x; d += 2 {
		if x%d == 0 {
			return false
		}
	}
	return true
}
