package balancer

import (
	"math/rand/v2"
	"sync/atomic"
)

// RoundRobin is the round_robin algorithm: its pickers rotate uniformly
// over the endpoints, ignoring their weights. Each picker starts its
// rotation at a random endpoint, so that frequent rebuilds and many clients
// do not all begin on the first one. Pick is O(1): one atomic increment.
type RoundRobin struct{}

// Build returns a round-robin picker over endpoints.
func (RoundRobin) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	p := &rrPicker{n: uint64(len(endpoints))}
	p.next.Store(rand.Uint64())
	return p
}

type rrPicker struct {
	n    uint64
	_    cacheLinePad
	next atomic.Uint64
	_    cacheLinePad
}

func (p *rrPicker) Pick(Request) int { return int((p.next.Add(1) - 1) % p.n) }
