package group_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// returnsWhileLocked calls f on another goroutine while g's lock is held,
// and fails t if f does not return before the lock is released: f waits
// for nothing the group's changes hold. (The 10 s bound only catches a
// deadlock; f returns in microseconds.)
func returnsWhileLocked(t *testing.T, g *group.Group, f func()) {
	t.Helper()
	release := group.HoldLock(g)
	defer release()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		release()
		<-done
		t.Fatal("the request call waited for the group's lock")
	}
}

// A request never waits for the group's lock: the Done that completes a run
// of failures and the one that ends a removed backend's last request hand
// their work (an ejection, which rebuilds the pick set; the end of the
// drain) to the group, which applies it once the lock is free. Stats then
// shows it. At every size and under every algorithm.
func TestRequestsNeverWaitForTheGroupsLock(t *testing.T) {
	sizes := []int{1, 2, 3, 10, 100, 164, 500, 1000}
	if !raceEnabled && !testing.Short() {
		sizes = append(sizes, 10000)
	}
	for _, alg := range []string{"round_robin", "weighted_round_robin", "random", "weighted_random", "least_request", "peak_ewma", "consistent_hash"} {
		for _, n := range sizes {
			if n == 10000 && alg != "consistent_hash" && alg != "round_robin" {
				continue // the largest size for the slowest rebuild and the plainest
			}
			t.Run(fmt.Sprintf("%s/%d", alg, n), func(t *testing.T) {
				bs := make([]group.Backend, n)
				for i := range bs {
					bs[i] = group.Backend{ID: fmt.Sprintf("b%d", i), Addr: fmt.Sprintf("10.%d.%d.%d:80", i>>16, i>>8&255, i&255), Weight: group.Weight(1 + i%100)}
				}
				g, _ := newGroup(t, group.Config{Algorithm: alg,
					Outlier: &health.OutlierConfig{ConsecutiveFailures: 1, MaxEjectionPercent: 100}}, bs...)

				// The Done that ejects.
				p, err := g.Pick(ctx, group.Request{Key: "k"})
				require.NoError(t, err)
				victim := p.ID()
				returnsWhileLocked(t, g, func() { p.Done(errors.New("502")) })
				st := g.Stats()
				assert.Equal(t, health.Ejected, stateOf(st, victim), "ejected once the lock was free")
				assert.Equal(t, n-1, st.Available)
				assert.Equal(t, int64(0), st.InFlight)

				// The Done that ends a drain.
				if n == 1 {
					return // nothing left to pick
				}
				q, err := g.Pick(ctx, group.Request{Key: "k"})
				require.NoError(t, err)
				leaving := q.ID()
				require.NotEqual(t, victim, leaving)
				require.NoError(t, g.Remove(leaving))
				require.Equal(t, health.Draining, stateOf(g.Stats(), leaving))
				returnsWhileLocked(t, g, func() { q.Done(nil) })
				st = g.Stats()
				for _, b := range st.Backends {
					assert.NotEqual(t, leaving, b.ID, "gone once the lock was free")
				}
				assert.Len(t, st.Backends, n-1)
				assert.Equal(t, uint64(2), st.Requests)
			})
		}
	}
}

// stateOf returns the state of backend id in st (the zero State if st does
// not list it).
func stateOf(st group.Stats, id string) health.State {
	for _, b := range st.Backends {
		if b.ID == id {
			return b.State
		}
	}
	return 0
}
