package group_test

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// TestEventStormDoesNotStallRequests is issue 14's storm: for 1 s, 4
// goroutines call Update while requests end drains, with a subscriber that
// blocks on its first event until the storm is over. No Done or Update may
// deliver events: one that did would wait for the subscriber, that is for
// ever, and the storm would stall (no time bound decides it, so a busy
// machine cannot fail it). What waits for the subscriber stays bounded.
func TestEventStormDoesNotStallRequests(t *testing.T) {
	const storm = time.Second
	// The real clock: the fake one keeps its stopped timers (one per drain).
	g, _ := newGroup(t, group.Config{Algorithm: "round_robin", Clock: health.RealClock{}},
		group.Backend{ID: "u0", Addr: "10.0.0.1:80"}, group.Backend{ID: "u1", Addr: "10.0.0.2:80"},
		group.Backend{ID: "u2", Addr: "10.0.0.3:80"}, group.Backend{ID: "u3", Addr: "10.0.0.4:80"})
	release := make(chan struct{}) // the subscriber blocks until it is closed
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	var delivered atomic.Int64
	cancel := g.Subscribe(func(group.Event) {
		delivered.Add(1)
		<-release
	})
	defer cancel()
	defer unblock()

	liveHeap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	heapBefore := liveHeap()

	var maxDone, maxUpdate maxDuration
	var dones, slowDones atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 1_000_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				if err := g.Update(group.Backend{ID: fmt.Sprintf("u%d", w), Addr: fmt.Sprintf("10.0.0.%d:80", w+1), Weight: group.Weight(1 + i%50)}); err != nil {
					t.Error(err)
					return
				}
				maxUpdate.observe(time.Since(start))
			}
		})
	}
	wg.Go(func() {
		r := group.Backend{ID: "r", Addr: "10.0.0.9:80"}
		for i := 0; i < 100_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := g.Add(r); err != nil {
				t.Error(err)
				return
			}
			var p group.Pick
			for range 100 {
				q, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				if q.ID() == "r" {
					p = q
					break
				}
				q.Done(nil)
			}
			if err := g.Remove("r"); err != nil {
				t.Error(err)
				return
			}
			start := time.Now()
			p.Done(nil) // ends r's drain
			d := time.Since(start)
			maxDone.observe(d)
			if d >= time.Millisecond {
				slowDones.Add(1)
			}
			dones.Add(1)
		}
	})
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	var peakPending, peakBackends int
	var peakHeap uint64
	samples := 0
	sample := func() {
		peakBackends = max(peakBackends, group.Backends(g))
		peakPending = max(peakPending, group.PendingEvents(g))
		if samples++; samples%5 == 0 { // every 100ms: a GC, to see what is live
			peakHeap = max(peakHeap, liveHeap())
		}
	}
	end := time.After(storm)
	const limit = 10 * time.Second // on code that stalls, stop waiting
	giveUp := time.After(storm + limit)
	stalled := false
wait:
	for {
		select {
		case <-end:
			close(stop)
		case <-finished:
			break wait
		case <-giveUp:
			stalled = true
			break wait
		case <-time.After(20 * time.Millisecond):
		}
		sample()
	}
	unblock() // let a stalled delivery finish
	<-finished
	heapGrowth := int64(peakHeap) - int64(heapBefore)
	st := g.Stats()
	t.Logf("storm %v: %d Dones ending drains (%d took 1ms or more), max Done %v, max Update %v; %d events delivered, %d dropped; peak pending %d (peak backends %d, draining included); peak live heap growth %.1f MB; stalled %v",
		storm, dones.Load(), slowDones.Load(), maxDone.get(), maxUpdate.get(), delivered.Load(), st.EventsDropped, peakPending, peakBackends, float64(heapGrowth)/1e6, stalled)
	// Waiting for the subscriber is waiting until the storm is over and
	// the goroutines stopped, stalled: the durations are only logged.
	assert.False(t, stalled, "a Done or an Update waited for the subscriber")
	assert.Positive(t, dones.Load(), "drains ended during the storm")
	// Removed backends whose last Done handed over the end of their drain
	// (peak backends) do not count in the bound.
	assert.LessOrEqual(t, peakPending, group.MaxPendingEvents, "undelivered events are bounded per subscriber")
	assert.Less(t, heapGrowth, int64(16<<20), "heap bounded (a busy machine collects late)")
}

// maxDuration keeps the largest duration observed, from any goroutine.
type maxDuration struct{ ns atomic.Int64 }

func (m *maxDuration) observe(d time.Duration) {
	for {
		old := m.ns.Load()
		if int64(d) <= old || m.ns.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func (m *maxDuration) get() time.Duration { return time.Duration(m.ns.Load()) }
