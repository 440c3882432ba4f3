package balancer

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// allAlgorithms are the built-ins in every mode.
func allAlgorithms() map[string]Algorithm {
	return map[string]Algorithm{
		"round_robin":            RoundRobin{},
		"weighted_round_robin":   WeightedRoundRobin{},
		"random":                 Random{},
		"random_rand":            Random{Rand: lockedRand(1)},
		"weighted_random":        WeightedRandom{},
		"weighted_least_conns":   WeightedLeastConnections{},
		"least_request":          LeastRequest{},
		"least_request_k3":       LeastRequest{ChoiceCount: 3},
		"least_request_k10":      LeastRequest{ChoiceCount: 10, Rand: lockedRand(2)},
		"peak_ewma":              PeakEWMA{},
		"peak_ewma_k3":           PeakEWMA{ChoiceCount: 3, Decay: time.Second},
		"least_request_clamped":  LeastRequest{ChoiceCount: 99},
		"consistent_hash":        ConsistentHash{},
		"source_ip_hash":         ConsistentHash{SourceIP: true},
		"least_request_nil_load": LeastRequest{},
	}
}

// TestPickInRange picks concurrently (run with -race) from one endpoint and
// from many, with equal and mixed weights and changing loads, and checks
// every index is in range.
func TestPickInRange(t *testing.T) {
	sizes := []int{1, 2, 3, 17, 1000, 10000}
	reqs := []Request{{}, {Key: "k1", Source: "10.0.0.1:1"}, {Key: "another", Source: "[::1]:2"}, {Source: "garbage"}}
	for name, alg := range allAlgorithms() {
		sizes := sizes
		if name == "consistent_hash" && !testing.Short() && !raceEnabled {
			// 32-bit table entries: the same generic code as the 8- and
			// 16-bit tables the other sizes race on, a second under -race
			// for the build alone; .ci/run runs this without -race.
			sizes = append(sizes, 70000)
		}
		for _, n := range sizes {
			for _, mixed := range []bool{false, true} {
				if n > 65535 && mixed {
					// The large size is for the width of table entries,
					// which weights do not change; a weighted Build of
					// 70,000 endpoints costs most of a minute under -race.
					continue
				}
				ws := ones(n)
				if mixed {
					ws = mixedWeights(n, 100)
				}
				eps := endpoints(ws...)
				if name == "least_request_nil_load" {
					for i := range eps {
						eps[i].Load = nil
					}
				}
				p := alg.Build(eps)
				// 4 goroutines pick 8,000 times, or 2,000 times from 1,000
				// endpoints up, which still makes all of 1,000 busy (2 of 3
				// picks stay in flight), so that scans run to the end.
				picks := 2000
				if n >= 1000 {
					picks = 500
				}
				t.Run(fmt.Sprintf("%s/n=%d/mixed=%v", name, n, mixed), func(t *testing.T) {
					var wg sync.WaitGroup
					for g := range 4 {
						wg.Go(func() {
							for k := range picks {
								i := p.Pick(reqs[(g+k)%len(reqs)])
								if i < 0 || i >= n {
									t.Errorf("Pick = %d, want [0, %d)", i, n)
									return
								}
								if l := eps[i].Load; l != nil {
									l.AddInFlight(1)
									if k%3 == 0 {
										l.AddInFlight(-1)
									}
								}
							}
						})
					}
					wg.Wait()
				})
			}
		}
	}
}

// TestPickDoesNotAllocate checks every built-in's Pick at several sizes.
func TestPickDoesNotAllocate(t *testing.T) {
	for name, alg := range allAlgorithms() {
		if name == "random_rand" || name == "least_request_k10" {
			continue // lockedRand's closure is the test's, not the picker's
		}
		for _, n := range []int{1, 3, 100, 10000} {
			eps := endpoints(mixedWeights(n, 10)...)
			p := alg.Build(eps)
			req := Request{Key: "user-7", Source: "192.0.2.1:4000"}
			if a := testing.AllocsPerRun(200, func() { p.Pick(req) }); a != 0 {
				t.Errorf("%s n=%d: Pick allocates %v times", name, n, a)
			}
		}
	}
}

// TestBuildEmpty checks that a Build from no endpoints, which the contract
// rules out, yields a picker that reports -1 instead of panicking.
func TestBuildEmpty(t *testing.T) {
	for name, alg := range allAlgorithms() {
		if got := alg.Build(nil).Pick(Request{Key: "k", Source: "10.0.0.1"}); got != -1 {
			t.Errorf("%s: Pick with no endpoints = %d, want -1", name, got)
		}
	}
}
