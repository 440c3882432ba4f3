package balancer

import "math/rand/v2"

// RoundRobin is the round_robin algorithm: its pickers rotate uniformly
// over the endpoints, ignoring their weights. Each picker starts its
// rotation at a random endpoint, so that frequent rebuilds and many clients
// do not all begin on the first one. Pick is O(1): one atomic increment.
//
// Picks made one at a time rotate in order: any n consecutive picks give
// each of n endpoints one. Once two picks have collided on the rotation's
// counter, the picker keeps one rotation per P instead (up to
// MaxLoadStripes, each starting at its own offset), so that cores do not
// share the counter's cache line: then any n consecutive picks made on one
// P give each endpoint one, and any k picks in a row, on however many Ps,
// give each endpoint k/n picks give or take one per rotation.
type RoundRobin struct{}

// Build returns a round-robin picker over endpoints.
func (RoundRobin) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	p := &rrPicker{n: uint64(len(endpoints))}
	p.seq.init(rand.Uint64(), p.n)
	return p
}

type rrPicker struct {
	n   uint64
	seq sequence
}

func (p *rrPicker) Pick(Request) int { return int(p.seq.step() % p.n) }
