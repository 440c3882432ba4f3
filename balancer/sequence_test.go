package balancer

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// Picks made one at a time walk the period in order; the first collision
// turns the sequence into one per P, after which each P's positions are
// consecutive and all Ps together keep every endpoint's share within one
// pick per stripe, at every size.
func TestSequenceOrderAndStripes(t *testing.T) {
	for _, n := range []uint64{1, 2, 3, 10, 100, 164, 500, 1000, 10000} {
		t.Run(fmt.Sprint("n=", n), func(t *testing.T) {
			var q sequence
			q.init(12345, n)
			for k := range 3 * n {
				if got := q.step(); got != 12345+k {
					t.Fatalf("serial pick %d: position %d, want %d", k, got, 12345+k)
				}
			}
			if q.striped.Load() {
				t.Fatal("striped without a collision")
			}
			// Collide: many goroutines at once, until the sequence turns.
			counts := make([]int64, n)
			var mu sync.Mutex
			var wg sync.WaitGroup
			const goroutines = 8
			per := int(max(n, 200)) * 4
			for range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					local := make([]int64, n)
					for k := range per {
						local[q.step()%n]++
						if k%64 == 0 {
							runtime.Gosched()
						}
					}
					mu.Lock()
					for i := range local {
						counts[i] += local[i]
					}
					mu.Unlock()
				}()
			}
			wg.Wait()
			// Every position was handed out once: per stripe, a run of
			// consecutive positions, so each endpoint's count strays from
			// the mean by at most one per stripe, plus the serial run's
			// positions the shared counter gave before turning.
			total := int64(goroutines * per)
			mean := float64(total) / float64(n)
			slack := float64(len(q.stripes) + 1)
			for i, c := range counts {
				if d := float64(c) - mean; d > slack || d < -slack {
					t.Fatalf("endpoint %d: %d picks, mean %.1f (stripes %d, striped %v)", i, c, mean, len(q.stripes), q.striped.Load())
				}
			}
		})
	}
}
