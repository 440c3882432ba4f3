package balancer

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
)

// endpoints returns one endpoint per weight, IDs "e0", "e1", ..., each with
// its own Load.
func endpoints(weights ...int) []Endpoint {
	ids, addrs := endpointNames(len(weights))
	eps := make([]Endpoint, len(weights))
	for i, w := range weights {
		eps[i] = Endpoint{
			ID:     ids[i],
			Addr:   addrs[i],
			Weight: w,
			Load:   new(Load),
		}
	}
	return eps
}

// epNames holds the IDs and addresses endpoints has formatted, shared by
// every call: formatting 10,000 of them costs 50 ms under -race, and the
// size tests build hundreds of groups.
var epNames struct {
	sync.Mutex
	ids, addrs []string
}

// endpointNames returns the first n IDs ("e0", "e1", ...) and addresses
// of endpoints.
func endpointNames(n int) (ids, addrs []string) {
	epNames.Lock()
	defer epNames.Unlock()
	for i := len(epNames.ids); i < n; i++ {
		epNames.ids = append(epNames.ids, "e"+strconv.Itoa(i))
		epNames.addrs = append(epNames.addrs, fmt.Sprintf("10.0.%d.%d:8080", i/256, i%256))
	}
	return epNames.ids[:n:n], epNames.addrs[:n:n]
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
