package httpgroup_test

import (
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

// A 503 with Retry-After benches its backend: the load-aware algorithms
// send it nothing for that long while the others can take the requests.
func TestRetryAfterBenchesTheBackend(t *testing.T) {
	for _, alg := range []string{balancer.NamePeakEWMA, balancer.NameLeastRequest, balancer.NameWeightedLeastConnections} {
		t.Run(alg, func(t *testing.T) {
			var told atomic.Bool
			busy := newBackend(t, "busy", func(w http.ResponseWriter, r *http.Request) {
				if told.CompareAndSwap(false, true) {
					w.Header().Set("Retry-After", "30")
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				io.WriteString(w, "busy")
			})
			b, c := newBackend(t, "b", nil), newBackend(t, "c", nil)
			g := newGroup(t, group.Config{Name: "orders", Algorithm: alg},
				group.Backend{ID: "busy", Addr: busy.addr()}, group.Backend{ID: "b", Addr: b.addr()}, group.Backend{ID: "c", Addr: c.addr()})
			client := &http.Client{Transport: &httpgroup.Transport{Group: g, Base: testBase(t), MaxAttempts: 1}}
			get := func() int {
				resp, err := client.Get("http://orders/")
				require.NoError(t, err)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return resp.StatusCode
			}
			for i := 0; !told.Load(); i++ {
				require.Less(t, i, 200, "the busy backend got no request")
				get()
			}
			before := busy.hits.Load()
			for range 100 {
				assert.Equal(t, http.StatusOK, get())
			}
			assert.Equal(t, before, busy.hits.Load(), "requests to the benched backend")
		})
	}
}

// S4 in small: a backend that answers 503 at once half the time. Under
// peak_ewma its failures count as slow answers, so it gets few requests;
// with RetryStatus the client sees next to none of its 503s.
func TestFastFailingBackendGetsFewRequests(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * time.Millisecond)
		io.WriteString(w, "ok")
	}
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	flaky := newBackend(t, "flaky", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		fail := rng.IntN(2) == 0
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		slow(w, r)
	})
	bs := []group.Backend{{ID: "flaky", Addr: flaky.addr()}}
	for _, id := range []string{"b", "c", "d"} {
		bs = append(bs, group.Backend{ID: id, Addr: newBackend(t, id, slow).addr()})
	}
	for _, retry := range []bool{false, true} {
		g := newGroup(t, group.Config{Name: "orders", Algorithm: balancer.NamePeakEWMA}, bs...)
		tr := &httpgroup.Transport{Group: g, Base: testBase(t), MaxAttempts: 1}
		if retry {
			tr.MaxAttempts, tr.RetryStatus = 3, true
		}
		client := &http.Client{Transport: tr}
		const workers, each = 4, 100
		var failed atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range each {
					resp, err := client.Get("http://orders/")
					if !assert.NoError(t, err) {
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		var flakyReqs uint64
		for _, b := range g.Stats().Backends {
			if b.ID == "flaky" {
				flakyReqs = b.Requests
			}
		}
		t.Logf("retries %v: %d of %d requests failed; the flaky backend took %d", retry, failed.Load(), workers*each, flakyReqs)
		limit := int64(workers * each / 50) // 2%: the first failures teach the estimate
		if retry {
			limit = 0
		}
		assert.LessOrEqual(t, failed.Load(), limit, "retries %v", retry)
	}
}
