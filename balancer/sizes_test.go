package balancer

import (
	"fmt"
	"testing"
)

// propertySizes are the group sizes at which the documented promises are
// checked.
var propertySizes = []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000}

// Rotations give exact shares at every size: over any window of one
// period (sum(weights)/gcd picks; n for round_robin), each endpoint is
// picked exactly weight/gcd times, from whichever position the picker
// starts at.
func TestRotationSharesAreExactAtEverySize(t *testing.T) {
	for _, n := range propertySizes {
		for _, tc := range []struct {
			name string
			alg  Algorithm
			ws   []int
		}{
			{"round_robin", RoundRobin{}, ones(n)},
			{"weighted_round_robin/equal", WeightedRoundRobin{}, ones(n)},
			{"weighted_round_robin/1..100", WeightedRoundRobin{}, mixedWeights(n, 100)},
			{"weighted_round_robin/even", WeightedRoundRobin{}, mixedWeights(n, 2)},
		} {
			t.Run(fmt.Sprintf("%s/n=%d", tc.name, n), func(t *testing.T) {
				ws := tc.ws
				if tc.name == "round_robin" {
					ws = ones(n) // round_robin ignores weights
				}
				d := 0
				for _, w := range ws {
					d = int(gcd(uint64(d), uint64(w)))
				}
				period := 0
				for _, w := range ws {
					period += w / d
				}
				p := tc.alg.Build(endpoints(tc.ws...))
				got := make([]int, n)
				for range 2 { // two windows: the second starts where the first ended
					clear(got)
					for range period {
						got[p.Pick(Request{})]++
					}
					for i, w := range ws {
						if got[i] != w/d {
							t.Fatalf("endpoint %d of weight %d: %d picks in a window of %d, want %d", i, w, got[i], period, w/d)
						}
					}
				}
			})
		}
	}
}

// Every built-in picks without allocating at every size, equal and mixed
// weights. Under -race, which spends most of this on the builds (a second
// and a half) and adds no allocation, it checks three sizes (and
// TestPickDoesNotAllocate four more); .ci/run checks every size without.
func TestPickDoesNotAllocateAtEverySize(t *testing.T) {
	sizes := propertySizes
	if raceEnabled {
		sizes = []int{1, 2, 164}
	}
	for name, alg := range allAlgorithms() {
		if name == "random_rand" || name == "least_request_k10" {
			continue // lockedRand's closure is the test's, not the picker's
		}
		for _, n := range sizes {
			for _, ws := range [][]int{ones(n), mixedWeights(n, 100)} {
				p := alg.Build(endpoints(ws...))
				req := Request{Key: "user-7", Source: "192.0.2.1:4000"}
				if a := testing.AllocsPerRun(100, func() { p.Pick(req) }); a != 0 {
					t.Errorf("%s n=%d: Pick allocates %v times", name, n, a)
				}
			}
		}
	}
}
