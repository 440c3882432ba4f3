package pin_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-elb/elb/internal/pin"
)

// Pin returns a P's index, and a counter per P written with a load and a
// store while pinned loses no increment, however many goroutines count.
func TestPinnedCountersLoseNothing(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	counts := make([]struct {
		n atomic.Int64
		_ [56]byte
	}, procs)
	const goroutines, each = 8, 20000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				p := pin.Pin()
				if p < 0 || p >= procs {
					pin.Unpin()
					t.Errorf("Pin returned %d with GOMAXPROCS %d", p, procs)
					return
				}
				c := &counts[p].n
				c.Store(c.Load() + 1)
				pin.Unpin()
			}
		}()
	}
	wg.Wait()
	var sum int64
	for i := range counts {
		sum += counts[i].n.Load()
	}
	if sum != goroutines*each {
		t.Fatalf("counted %d, want %d", sum, goroutines*each)
	}
}
