package balancer

// Random is the random algorithm: its pickers choose an endpoint uniformly
// at random, ignoring weights. Pick is O(1).
//
// Rand, if not nil, is the source of random numbers; it is called
// concurrently from every goroutine that picks, so it must be safe for
// concurrent use. Nil means math/rand/v2's top-level Uint64, which is
// lock-free.
type Random struct {
	Rand func() uint64
}

// Build returns a uniform random picker over endpoints.
func (a Random) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	return &randomPicker{n: uint64(len(endpoints)), rand: a.Rand}
}

type randomPicker struct {
	n    uint64
	rand func() uint64
}

func (p *randomPicker) Pick(Request) int { return int(rangeN(rnd(p.rand), p.n)) }
