package group_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
)

// Picks from many goroutines at once turn the per-backend counts into
// per-P parts; Stats still counts every request exactly: the group's
// total, each backend's, none left in flight, and a Release taken out,
// for every algorithm the issue names, at every size, with weights.
func TestStatsExactUnderParallelPicks(t *testing.T) {
	sizes := []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000}
	if raceEnabled {
		sizes = []int{1, 2, 3, 10, 100, 164, 500, 1000}
	}
	for _, alg := range []string{"round_robin", "weighted_round_robin", "random", "weighted_random", "least_request", "peak_ewma"} {
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%s/n=%d", alg, n), func(t *testing.T) {
				bs := sized(n)
				for i := range bs {
					bs[i].Weight = group.Weight(i%10 + 1)
				}
				g, _ := newGroup(t, group.Config{Algorithm: alg}, bs...)
				goroutines := 2 * runtime.GOMAXPROCS(0)
				each := 3000
				if raceEnabled {
					each = 500
				}
				var wg sync.WaitGroup
				for w := range goroutines {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for k := range each {
							p, err := g.Pick(ctx, group.Request{})
							if err != nil {
								t.Error(err)
								return
							}
							if k%7 == w%7 {
								p.Release() // taken back: not a request
								continue
							}
							if k%50 == 0 {
								runtime.Gosched()
							}
							p.Done(nil)
							p.Done(nil) // repeated: ignored, counted apart
						}
					}()
				}
				wg.Wait()
				st := g.Stats()
				released := 0
				for w := range goroutines {
					for k := range each {
						if k%7 == w%7 {
							released++
						}
					}
				}
				want := uint64(goroutines*each - released)
				assert.Equal(t, want, st.Requests, "requests")
				assert.Zero(t, st.InFlight, "in flight")
				assert.Equal(t, want, st.RepeatedDone, "repeated Done")
				var sum uint64
				for _, b := range st.Backends {
					require.Zero(t, b.InFlight, b.ID)
					sum += b.Requests
				}
				assert.Equal(t, want, sum, "backends' requests")
			})
		}
	}
}
