package group_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/elbtest"
)

// registered returns every registered algorithm that works: the built-ins
// and the examples' own.
func registered() []string {
	var out []string
	for _, name := range balancer.Names() {
		// prequal probes the backends' made-up addresses: its own tests
		// use real servers.
		if name != "test_out_of_range" && name != balancer.NamePrequal {
			out = append(out, name)
		}
	}
	return out
}

func sized(n int) []group.Backend {
	bs := make([]group.Backend, n)
	for i := range bs {
		bs[i] = group.Backend{ID: fmt.Sprintf("b%d", i), Addr: fmt.Sprintf("10.%d.%d.%d:80", i>>16&255, i>>8&255, i&255), Weight: group.Weight(i%3 + 1)}
	}
	return bs
}

// Every retry of a request goes to a backend it has not tried while there
// is one, under every algorithm and sticky mode, at every size: n attempts
// reach n distinct backends, in one pick each.
func TestRepickNeverRepeatsABackendWhileOthersRemain(t *testing.T) {
	for name, cfg := range elbtest.Configs(registered()) {
		t.Run(name, func(t *testing.T) {
			for _, n := range []int{1, 2, 3, 10, 100, 164, 500, 1000} {
				g, err := group.New(cfg)
				require.NoError(t, err)
				require.NoError(t, g.Add(sized(n)...))
				req := group.Request{Key: "user-42", Source: "192.0.2.7:5555", Affinity: "session-1"}
				attempts := min(n, group.MaxTried)
				var tried group.Tried
				seen := map[string]bool{}
				for a := range attempts {
					p, err := g.Repick(ctx, req, &tried)
					require.NoError(t, err)
					require.False(t, seen[p.ID()], "n=%d: attempt %d went back to %s", n, a+1, p.ID())
					seen[p.ID()] = true
					p.Done(fmt.Errorf("attempt %d failed", a+1))
				}
				assert.Equal(t, attempts, tried.Len())
				if n <= group.MaxTried {
					// Every backend tried: a retry takes one again rather than fail.
					p, err := g.Repick(ctx, req, &tried)
					require.NoError(t, err)
					p.Done(nil)
				}
				assert.Zero(t, g.Stats().InFlight)
				require.NoError(t, g.Close(ctx))
			}
		})
	}
}

// A retry under hashing is a function of the key: the same key's second
// choice is the same every time, and the keys of one backend spread over
// the others when it fails.
func TestRepickUnderHashingIsStablePerKey(t *testing.T) {
	for _, alg := range []string{balancer.NameConsistentHash, balancer.NameSourceIPHash} {
		g, _ := newGroup(t, group.Config{Algorithm: alg}, sized(10)...)
		second := map[string]map[string]bool{} // first choice -> second choices seen
		for k := range 200 {
			req := group.Request{Key: fmt.Sprintf("user-%d", k), Source: fmt.Sprintf("192.0.2.%d:%d", k, 1000+k)}
			var want [2]string
			for round := range 3 {
				var tried group.Tried
				var got [2]string
				for a := range 2 {
					if round == 2 { // another port: the same client
						req.Source = fmt.Sprintf("192.0.2.%d:%d", k, 2000+k)
					}
					p, err := g.Repick(ctx, req, &tried)
					require.NoError(t, err)
					got[a] = p.ID()
					p.Done(nil)
				}
				if round == 0 {
					want = got
				}
				require.Equal(t, want, got, "%s: key %d", alg, k)
			}
			if second[want[0]] == nil {
				second[want[0]] = map[string]bool{}
			}
			second[want[0]][want[1]] = true
		}
		for first, seconds := range second {
			assert.Greater(t, len(seconds), 1, "%s: the keys of %s all fall back to one backend", alg, first)
		}
	}
}

// least_request's retry takes the least loaded backend not yet tried, not
// the idle dead one (defect 2: a backend that fails fast always has the
// fewest requests in flight).
func TestRepickUnderLeastRequestTakesTheLeastLoadedUntried(t *testing.T) {
	for _, alg := range []string{balancer.NameLeastRequest, balancer.NameWeightedLeastConnections} {
		g, _ := newGroup(t, group.Config{Algorithm: alg},
			group.Backend{ID: "dead", Addr: "10.0.0.1:80"},
			group.Backend{ID: "busy", Addr: "10.0.0.2:80"},
			group.Backend{ID: "calm", Addr: "10.0.0.3:80"})
		// Hold 30 picks (about 10 each), then end them down to dead 0,
		// busy 5, calm 2.
		want := map[string]int{"dead": 0, "busy": 5, "calm": 2}
		var all []group.Pick
		for range 30 {
			p, err := g.Pick(ctx, group.Request{})
			require.NoError(t, err)
			all = append(all, p)
		}
		held := map[string]int{"dead": 0}
		for _, p := range all {
			if held[p.ID()] < want[p.ID()] {
				held[p.ID()]++
				defer p.Done(nil)
				continue
			}
			p.Done(nil)
		}
		require.Equal(t, want, held)
		for range 100 {
			var tried group.Tried
			var p group.Pick
			for p.ID() != "dead" { // the first attempt on the dead one
				p.Release()
				var err error
				tried = group.Tried{}
				p, err = g.Repick(ctx, group.Request{}, &tried)
				require.NoError(t, err)
			}
			p.Done(errDead)
			p, err := g.Repick(ctx, group.Request{}, &tried)
			require.NoError(t, err)
			assert.Equal(t, "calm", p.ID(), alg)
			p.Release()
		}
	}
}

var errDead = fmt.Errorf("connection refused")

// The first attempt of a Repick allocates nothing, and costs what a Pick
// costs; so does a retry.
func TestRepickAllocatesNothing(t *testing.T) {
	for _, alg := range registered() {
		g, _ := newGroup(t, group.Config{Algorithm: alg}, sized(50)...)
		req := group.Request{Key: "user-42", Source: "192.0.2.7:5555"}
		allocs := testing.AllocsPerRun(200, func() {
			var tried group.Tried
			for range 3 {
				p, err := g.Repick(ctx, req, &tried)
				if err != nil {
					panic(err)
				}
				p.Done(nil)
			}
		})
		assert.Zero(t, allocs, alg)
	}
}

// A second Done, DoneWith or Release of a Pick, or of a copy, is ignored
// and counted: in flight never goes below 0, and least_request does not
// come to prefer the backend (defect 5).
func TestRepeatedDoneIsIgnoredAndCounted(t *testing.T) {
	ends := map[string]func(group.Pick){
		"Done":    func(p group.Pick) { p.Done(nil) },
		"Failure": func(p group.Pick) { p.Done(errDead) },
		"Finish":  func(p group.Pick) { p.DoneWith(group.Result{Latency: time.Millisecond}) },
		"Release": func(p group.Pick) { p.Release() },
	}
	for first, end1 := range ends {
		for again, end2 := range ends {
			t.Run(first+" then "+again, func(t *testing.T) {
				g, _ := newGroup(t, group.Config{Algorithm: balancer.NameLeastRequest},
					group.Backend{ID: "a", Addr: "10.0.0.1:80"}, group.Backend{ID: "b", Addr: "10.0.0.2:80"})
				p, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				copied := p
				end1(p)
				st := g.Stats()
				end2(p)
				end2(copied)
				after := g.Stats()
				assert.EqualValues(t, 2, after.RepeatedDone)
				assert.Zero(t, after.InFlight)
				assert.Equal(t, st.Requests, after.Requests)
				assert.Equal(t, st.Failures, after.Failures)
				for _, b := range after.Backends {
					assert.Zero(t, b.InFlight, b.ID)
					assert.Zero(t, b.FailedInRow, "%s: a repeated failure is not another failure", b.ID)
				}
				// The pick that reuses the ended pick's state is not ended by
				// the stale copy.
				next, err := g.Pick(ctx, group.Request{})
				require.NoError(t, err)
				end2(p)
				assert.EqualValues(t, 1, g.Stats().InFlight, "a stale Pick ended another")
				next.Done(nil)
				// least_request still spreads: no backend looks less than idle.
				c := counts(t, g, 1000)
				assert.InDelta(t, 500, c["a"], 150, "%v", c)
			})
		}
	}
}

func TestRepeatedDoneIsSafeConcurrently(t *testing.T) {
	g, _ := newGroup(t, group.Config{Algorithm: balancer.NameLeastRequest}, sized(3)...)
	const picks, copies = 200, 4
	ps := make([]group.Pick, picks)
	for i := range ps {
		var err error
		ps[i], err = g.Pick(ctx, group.Request{})
		require.NoError(t, err)
	}
	done := make(chan struct{})
	for c := range copies {
		go func() {
			defer func() { done <- struct{}{} }()
			for i, p := range ps {
				switch (i + c) % 3 {
				case 0:
					p.Done(nil)
				case 1:
					p.DoneWith(group.Result{Err: errDead})
				default:
					p.Release()
				}
			}
		}()
	}
	for range copies {
		<-done
	}
	st := g.Stats()
	assert.Zero(t, st.InFlight)
	assert.EqualValues(t, picks*(copies-1), st.RepeatedDone)
}
