package group_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
)

// DoneWith's RetryAfter benches the backend on the group's clock: the
// load-aware algorithms send it nothing until the clock passes the bench,
// the others ignore it, and a pick never fails because of one.
func TestRetryAfterBenchesOnTheGroupsClock(t *testing.T) {
	for _, alg := range []string{"peak_ewma", "least_request", "weighted_least_connections"} {
		t.Run(alg, func(t *testing.T) {
			g, clk := newGroup(t, group.Config{Algorithm: alg},
				group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"}, group.Backend{ID: "c", Addr: "10.0.0.3:80"})
			for {
				p, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				if p.ID() == "a" {
					// A 429: not a failure (which peak_ewma would count as
					// slow), only a hint.
					p.DoneWith(group.Result{Latency: time.Millisecond, RetryAfter: 10 * time.Second})
					break
				}
				p.DoneWith(group.Result{Latency: time.Millisecond})
			}
			picks := func(n int) map[string]int {
				got := map[string]int{}
				for range n {
					p, err := g.Pick(ctx, group.Request{})
					require.NoError(t, err)
					got[p.ID()]++
					p.DoneWith(group.Result{Latency: time.Millisecond})
				}
				return got
			}
			assert.Zero(t, picks(300)["a"], "picks of the benched backend")
			clk.Advance(10 * time.Second)
			got := picks(3000)
			assert.NotZero(t, got["a"], "the bench is over: %v", got)
		})
	}
}

// With every backend benched, picks go on.
func TestEveryBackendBenchedStillPicks(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: "peak_ewma"}, group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
	for range 20 {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		p.DoneWith(group.Result{RetryAfter: time.Minute})
	}
	for range 100 {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		p.Done(nil)
	}
}

// Pick and DoneWith with a latency, an error and a hint allocate nothing,
// under peak_ewma as under every load-aware algorithm.
func TestPickDoneWithDoesNotAllocate(t *testing.T) {
	for _, alg := range []string{"peak_ewma", `{"peak_ewma": {"choiceCount": 3}}`, "least_request", "weighted_least_connections"} {
		for _, n := range []int{1, 3, 100} {
			var bs []group.Backend
			for i := range n {
				bs = append(bs, group.Backend{ID: fmt.Sprint("b", i), Addr: fmt.Sprintf("10.0.%d.%d:80", i/250, i%250+1), Weight: group.Weight(1 + i%10)})
			}
			g, _ := newGroup(t, group.Config{Algorithm: alg}, bs...)
			fail := errors.New("boom")
			i := 0
			allocs := testing.AllocsPerRun(1000, func() {
				p, _ := g.Pick(ctx, group.Request{})
				r := group.Result{Latency: time.Duration(1000 + i%7*1000)}
				if i%50 == 0 {
					r.Err, r.RetryAfter = fail, time.Millisecond
				}
				i++
				p.DoneWith(r)
			})
			assert.Zero(t, allocs, "%s n=%d", alg, n)
		}
	}
}
