package balancer

import (
	"fmt"
	"math/rand/v2"
	"sync"
)

// endpoints returns one endpoint per weight, IDs "e0", "e1", ..., each with
// its own Load.
func endpoints(weights ...int) []Endpoint {
	eps := make([]Endpoint, len(weights))
	for i, w := range weights {
		eps[i] = Endpoint{
			ID:     fmt.Sprintf("e%d", i),
			Addr:   fmt.Sprintf("10.0.%d.%d:8080", i/256, i%256),
			Weight: w,
			Load:   new(Load),
		}
	}
	return eps
}

// ones returns n weights of 1.
func ones(n int) []int {
	ws := make([]int, n)
	for i := range ws {
		ws[i] = 1
	}
	return ws
}

// seeded returns a deterministic random source for one goroutine.
func seeded(seed uint64) func() uint64 {
	return rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d)).Uint64
}

// lockedRand returns a deterministic random source that is safe for
// concurrent use, as [LeastRequest.Rand] must be.
func lockedRand(seed uint64) func() uint64 {
	var mu sync.Mutex
	r := seeded(seed)
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return r()
	}
}
