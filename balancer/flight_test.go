package balancer

import (
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/go-elb/elb/internal/flight"
)

// begin and end are beginFlight and endFlight on l.
func (l *Load) begin() flight.Part { return beginFlight(unsafe.Pointer(l)) }
func (l *Load) end(p flight.Part)  { endFlight(unsafe.Pointer(l), p) }

// A Load's stripes each start a cache line, whatever GOMAXPROCS is, so
// that two Ps never write one line.
func TestLoadStripesStartCacheLines(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 5, 8, 16} {
		runtime.GOMAXPROCS(procs)
		for range 100 {
			s := new(Load).makeStripes().counts
			if want := min(procs, MaxLoadStripes); len(s) != want {
				t.Fatalf("GOMAXPROCS %d: %d stripes, want %d", procs, len(s), want)
			}
			for i := range s {
				if a := uintptr(unsafe.Pointer(&s[i])); a%64 != 0 {
					t.Fatalf("GOMAXPROCS %d: stripe %d at %#x", procs, i, a)
				}
			}
		}
	}
}

// The in-flight count and Started are exact once the goroutines that
// count have finished, and never below a request a goroutine holds, for a
// Load that turns striped under the load and one striped from the start,
// however the goroutines move between Ps.
func TestLoadCountsAreExact(t *testing.T) {
	striped := new(Load)
	striped.makeStripes()
	for name, l := range map[string]*Load{"fresh": new(Load), "striped": striped} {
		const goroutines, each = 8, 5000
		var wg sync.WaitGroup
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := range each {
					l.AddInFlight(1)
					if k%100 == 0 {
						runtime.Gosched() // move, maybe to another P
					}
					if l.InFlight() < 1 {
						t.Errorf("%s: in flight %d with a request of mine in flight", name, l.InFlight())
					}
					l.AddInFlight(-1)
				}
			}()
		}
		wg.Wait()
		if got := l.InFlight(); got != 0 {
			t.Errorf("%s: in flight %d after every request ended", name, got)
		}
		if got := l.Started(); got != goroutines*each {
			t.Errorf("%s: started %d, want %d", name, got, goroutines*each)
		}
	}
}

// One goroutine at a time never collides: the Load makes no stripes, so
// Pick+Done allocates nothing and reads one pair.
func TestLoadWithoutCollisionsStaysUnstriped(t *testing.T) {
	var l Load
	allocs := testing.AllocsPerRun(1000, func() {
		l.AddInFlight(1)
		l.AddInFlight(-1)
	})
	if allocs != 0 || l.stripes.Load() != nil {
		t.Fatalf("%v allocs, stripes %v", allocs, l.stripes.Load() != nil)
	}
}

// ObserveLatencyAt takes the caller's reading of the real clock as the
// sample's time, and a Load on a clock of its own ignores it.
func TestObserveLatencyAtUsesTheCallersTime(t *testing.T) {
	l := new(Load)
	l.ObserveLatencyAt(10*time.Millisecond, time.Now())
	if got := l.Latency(); got < 9*time.Millisecond || got > 10*time.Millisecond {
		t.Fatalf("real clock: estimate %v after one 10ms sample", got)
	}
	old := new(Load)
	old.ObserveLatencyAt(10*time.Millisecond, time.Now().Add(-time.Minute)) // a minute ago: faded
	if got := old.Latency(); got > time.Millisecond {
		t.Fatalf("a sample a minute old reads %v", got)
	}
	fake := time.Unix(1_700_000_000, 0)
	own := new(Load)
	own.SetClock(func() time.Time { return fake })
	own.ObserveLatencyAt(10*time.Millisecond, time.Now().Add(-time.Minute)) // ignored: the Load's clock says now
	if got := own.Latency(); got < 9990*time.Microsecond || got > 10*time.Millisecond {
		t.Fatalf("own clock: estimate %v, want 10ms (to float32's precision)", got)
	}
}

// Counted with beginFlight and endFlight, as the group counts, each part
// holds exactly the requests begun on it and not ended, wherever they
// end: no part is ever below zero, every part is zero once all ended,
// and the sums stay exact, for a Load that turns striped under the load
// and one striped from the start.
func TestLoadPartsAreExact(t *testing.T) {
	striped := new(Load)
	striped.makeStripes()
	for name, l := range map[string]*Load{"fresh": new(Load), "striped": striped} {
		const goroutines = 8
		each := 5000
		if raceEnabled {
			each = 1000
		}
		var wg sync.WaitGroup
		for range goroutines {
			wg.Go(func() {
				var p int
				for k := range each {
					part := beginFlight(unsafe.Pointer(l))
					if k%10 == 0 {
						runtime.Gosched() // move, maybe to another P, before the end
					}
					if n, _ := l.partInFlight(&p); n < 0 {
						t.Errorf("%s: part in flight %d", name, n)
					}
					if l.InFlight() < 1 {
						t.Errorf("%s: in flight %d with a request of mine in flight", name, l.InFlight())
					}
					endFlight(unsafe.Pointer(l), part)
					if k%7 == 0 {
						p = 0 // read the P again
					}
				}
			})
		}
		wg.Wait()
		if got := l.InFlight(); got != 0 {
			t.Errorf("%s: in flight %d after every request ended", name, got)
		}
		if got := l.Started(); got != int64(goroutines*each) {
			t.Errorf("%s: started %d, want %d", name, got, goroutines*each)
		}
		s := l.stripes.Load()
		if s == nil {
			continue // never collided: the pair alone, checked above
		}
		if s.loose.Load() {
			t.Errorf("%s: parts loose without AddInFlight", name)
		}
		for i := range s.counts {
			if a, r := s.counts[i].added.Load(), s.counts[i].removed.Load(); a != r {
				t.Errorf("%s: part %d: %d added, %d removed", name, i, a, r)
			}
		}
	}
}

// AddInFlight on the parts makes them loose, so that least_request
// compares sums; on the pair alone it does not, and neither do
// beginFlight and endFlight.
func TestAddInFlightMakesPartsLoose(t *testing.T) {
	var l Load
	l.AddInFlight(1)
	l.AddInFlight(-1)
	var p int
	if _, ok := l.partInFlight(&p); !ok || l.stripes.Load() != nil {
		t.Fatalf("unstriped Load: partInFlight ok %v, striped %v", ok, l.stripes.Load() != nil)
	}
	l.makeStripes()
	l.end(l.begin())
	if _, ok := l.partInFlight(&p); !ok {
		t.Fatal("striped Load counted with begin and end: parts loose")
	}
	l.AddInFlight(1)
	if _, ok := l.partInFlight(&p); ok {
		t.Fatal("striped Load after AddInFlight: parts not loose")
	}
	if got := l.InFlight(); got != 1 {
		t.Fatalf("in flight %d, want 1", got)
	}
}

// beginFlight and endFlight allocate nothing on a striped Load, nor on
// one no two cores ever collided on (which they leave unstriped).
func TestBeginEndAllocateNothing(t *testing.T) {
	fresh, striped := new(Load), new(Load)
	striped.makeStripes()
	for name, l := range map[string]*Load{"fresh": fresh, "striped": striped} {
		if allocs := testing.AllocsPerRun(1000, func() { l.end(l.begin()) }); allocs != 0 {
			t.Errorf("%s: %v allocs", name, allocs)
		}
	}
	if fresh.stripes.Load() != nil {
		t.Error("one goroutine made stripes")
	}
}
