package group

import (
	"sync/atomic"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/internal/flight"
	"github.com/go-elb/elb/internal/hash64"
)

// MaxTried is the number of backends a Tried records; a request's attempts
// beyond that avoid the first MaxTried backends only.
const MaxTried = 16

// Tried is the record of the backends a request's attempts went to, for
// retries (Group.Repick): each Repick with it records its backend, and a
// later one avoids every backend recorded, in the pick itself. The zero
// value is an empty record, ready to use; it lives wherever the caller
// declares it (on the stack), and is used by one request at a time.
//
// A retry takes the algorithm's choice when it is a backend not yet tried;
// otherwise it takes a fallback that depends on nothing but the request
// and the group's state, never a second random draw:
//
//   - least_request and weighted_least_connections: the least loaded
//     backend not yet tried (fewest in flight per unit of weight), ties to
//     the first after the algorithm's choice in member order;
//   - consistent_hash and source_ip_hash: a backend chosen from the key
//     (Request.Key, or the IP of Request.Source), so that a key's second
//     choice is always the same while the pick set is, and the keys of a
//     failed backend spread over the others;
//   - every other algorithm: the first backend after the algorithm's
//     choice, in member order, not yet tried.
//
// With session affinity, a retry does not follow a binding to a backend
// already tried: it is balanced as above and bound where it goes. When
// every backend of the pick set has been tried, a retry takes the
// algorithm's choice again. The fallback scans the pick set, O(n); the
// first attempt (an empty record, or nil) costs nothing more than a Pick
// without one.
type Tried struct {
	n     int
	ms    [MaxTried]*member
	class count   // what the request counts as in StickyStats so far
	hitOn *member // the member its sticky hit was counted on, for class countHit
}

// Len returns the number of backends recorded.
func (t *Tried) Len() int { return t.n }

// has reports whether m is recorded.
func (t *Tried) has(m *member) bool {
	for _, x := range t.ms[:t.n] {
		if x == m {
			return true
		}
	}
	return false
}

// add records m, once.
func (t *Tried) add(m *member) {
	if t.n < MaxTried && !t.has(m) {
		t.ms[t.n] = m
		t.n++
	}
}

// avoid returns the index in s of the member a retry takes instead of
// s.members[i], which t holds: see Tried. It returns i when every member
// has been tried.
func (g *Group) avoid(s *snapshot, i int, req *Request, t *Tried) int {
	n := len(s.members)
	start := i + 1
	switch g.cfg.Algorithm {
	case balancer.NameLeastRequest, balancer.NameWeightedLeastConnections:
		best := -1
		var bestLoad, bestWeight int64
		for k := range n {
			j := (start + k) % n
			if t.has(s.members[j]) {
				continue
			}
			load, w := s.members[j].load.InFlight(), int64(s.eps[j].Weight)
			if best < 0 || load*bestWeight < bestLoad*w {
				best, bestLoad, bestWeight = j, load, w
			}
		}
		if best >= 0 {
			return best
		}
		return i
	case balancer.NameConsistentHash:
		if n > 1 {
			start += int(hash64.String(req.Key, 0) % uint64(n-1))
		}
	case balancer.NameSourceIPHash:
		if n > 1 {
			start += int(hash64.String(sourceHost(req.Source), 0) % uint64(n-1))
		}
	}
	for k := range n {
		if j := (start + k) % n; !t.has(s.members[j]) {
			return j
		}
	}
	return i
}

// sourceHost returns the IP of a client address, "ip" or "ip:port", so
// that a client's retries fall back alike whatever its port.
func sourceHost(s string) string {
	if len(s) > 0 && s[0] == '[' {
		for i := 1; i < len(s); i++ {
			if s[i] == ']' {
				return s[1:i]
			}
		}
		return s
	}
	colon := -1
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			if colon >= 0 {
				return s // a bare IPv6 address
			}
			colon = i
		}
	}
	if colon >= 0 {
		return s[:colon]
	}
	return s
}

// token is what makes a Pick end once. Pick is a value that callers copy,
// so the pick's state lives here: the Pick holds a pointer to a pooled
// token and the token's generation when the pick was made, and the first
// end moves the generation on with one compare-and-swap, which every later
// end (of the Pick or a copy) then fails. A token goes back to the pool
// only after that swap, and generations only grow (modulo 2^58), so a
// stale Pick never ends the pick that reuses its token. Spare tokens wait
// one per P (token.go), then in a sync.Pool. Tokens are padded to a cache line:
// each is written by one goroutine at a time, and neighbours may be in use
// on other CPUs.
type token struct {
	gen atomic.Uint64
	_   [56]byte
}

// genMask keeps a token's generation below the bits of Pick.gen that hold
// the part of the in-flight count the pick was counted on (partShift) and
// its sticky count (countShift).
const (
	genMask    = 1<<partShift - 1
	partShift  = countShift - flight.Bits
	countShift = 62
)

// newPick returns a Pick of m with a fresh token.
func newPick(m *member) Pick {
	tok := getToken()
	return Pick{m: m, tok: tok, gen: tok.gen.Load()}
}

// on returns p counted in flight on part (flight.Begin's): the part its
// end takes it out of.
func (p Pick) on(part flight.Part) Pick {
	p.gen |= uint64(part) << partShift
	return p
}

// part returns the part of the in-flight count the pick was counted on.
func (p Pick) part() flight.Part { return flight.Part(p.gen >> partShift & (1<<flight.Bits - 1)) }

// counted returns the sticky counter the pick added to.
func (p Pick) counted() count { return count(p.gen >> countShift) }

// setCounted records the sticky counter the pick added to.
func (p *Pick) setCounted(c count) { p.gen = p.gen&(1<<countShift-1) | uint64(c)<<countShift }

// end reports whether this is the pick's first end, and counts the others
// in Stats.RepeatedDone.
func (p Pick) end() bool {
	g := p.gen & genMask
	if p.tok.gen.CompareAndSwap(g, (g+1)&genMask) {
		putToken(p.tok)
		return true
	}
	p.m.group.repeated.Add(1)
	return false
}

// count is a sticky counter a pick adds to.
type count uint8

const (
	countNone   count = iota
	countHit          // the member's stickyHits
	countMiss         // affinity.misses
	countRebind       // affinity.moved
)

// tally counts a sticky pick of m, classed c, in the statistics, once per
// request: a retry (t recording an earlier pick of the request) counts
// nothing more, except that a request whose hit was counted on a backend
// and that another backend serves becomes a rebind. It returns what it
// counted, for Release.
func (a *affinity) tally(t *Tried, m *member, c count) count {
	if t != nil && t.class != countNone {
		if t.class == countHit && m != t.hitOn {
			t.hitOn.stickyHits.Add(^uint64(0))
			a.moved.Add(1)
			t.class, t.hitOn = countRebind, nil
			return countRebind
		}
		return countNone
	}
	switch c {
	case countHit:
		m.stickyHits.Add(1)
	case countMiss:
		a.misses.Add(1)
	case countRebind:
		a.moved.Add(1)
	}
	if t != nil {
		t.class = c
		if c == countHit {
			t.hitOn = m
		}
	}
	return c
}

// uncount takes what the pick counted out of the sticky statistics.
func (p Pick) uncount() {
	switch p.counted() {
	case countHit:
		p.m.stickyHits.Add(^uint64(0))
	case countMiss:
		p.m.group.sticky.misses.Add(^uint64(0))
	case countRebind:
		p.m.group.sticky.moved.Add(^uint64(0))
	}
}
