package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/fakeclock"
	elbprom "github.com/go-elb/elb/metrics/prometheus"
	"github.com/go-elb/elb/sticky"
)

// everything is a registry whose groups show every metric: zones, health
// checks, outlier detection, sticky sessions, an ejection, a drain in
// progress with a member that took the draining backend's ID, and a
// group without checks or sticky sessions whose picks stay in its local zone. It returns the pick it holds in flight.
func everything(t *testing.T) (*group.Registry, group.Pick) {
	t.Helper()
	reg := &group.Registry{}
	clk := fakeclock.New(time.Unix(1_700_000_000, 0)) // a scrape's values are those of the one before: latency decays with time
	g := newGroup(t, reg, group.Config{Name: "web", Algorithm: "round_robin", PanicThreshold: 30, Clock: clk,
		Health:  &health.Config{Probe: health.ProbeFunc(func(context.Context, string) error { return nil })},
		Outlier: &health.OutlierConfig{MaxEjectionPercent: 50},
		Sticky:  &sticky.Config{Mode: sticky.Header, Header: "X-User"}},
		group.Backend{ID: "web-1", Addr: "10.0.0.1:80", Zone: "az1", Weight: group.Weight(3)},
		group.Backend{ID: "web-2", Addr: "10.0.0.2:80", Zone: "az1"},
		group.Backend{ID: "web-3", Addr: "10.0.0.3:80", Zone: "az2"})
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, g.WaitReady(wctx))
	require.Eventually(t, func() bool { return g.Stats().Available == 3 }, 10*time.Second, time.Millisecond)
	for i := range 30 {
		p, err := g.Pick(ctx, group.Request{Affinity: fmt.Sprint("user-", i%4)})
		require.NoError(t, err)
		p.Done(nil)
	}
	// Eject web-2: five failures in a row.
	for failed := 0; failed < 5; {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == "web-2" {
			failed++
			p.Done(errors.New("502"))
			continue
		}
		p.Done(nil)
	}
	// web-3 moves to a new address while a request is in flight on the old one.
	held, _ := hold(t, g, "web-3")
	require.NoError(t, g.Set([]group.Backend{
		{ID: "web-1", Addr: "10.0.0.1:80", Zone: "az1", Weight: group.Weight(3)},
		{ID: "web-2", Addr: "10.0.0.2:80", Zone: "az1"},
		{ID: "web-3", Addr: "10.0.0.33:80", Zone: "az2"},
	}))

	plain := newGroup(t, reg, group.Config{Name: "api", LocalZone: "az1"},
		group.Backend{Addr: "10.0.1.1:80", Zone: "az1"}, group.Backend{Addr: "10.0.1.2:80", Zone: "az1"})
	drive(t, plain, 10, nil)
	return reg, held
}

func TestMetricsOfEveryKind(t *testing.T) {
	reg, held := everything(t)
	defer held.Done(nil)
	got := scrape(t, pedantic(t, reg)) // pedantic: unique series, matching Describe

	web1 := "{backend=web-1,group=web,zone=az1}"
	assert.Equal(t, 3.0, got["elb_weight"+web1])
	assert.Equal(t, 3.0, got["elb_effective_weight"+web1])
	assert.Equal(t, 1.0, got["elb_backend_state{backend=web-2,group=web,state=ejected,zone=az1}"])
	assert.Equal(t, 0.0, got["elb_backend_state{backend=web-2,group=web,state=healthy,zone=az1}"])
	assert.Equal(t, 1.0, got["elb_ejections_total{backend=web-2,group=web,zone=az1}"])
	assert.Equal(t, 5.0, got["elb_request_failures_total{backend=web-2,group=web,zone=az1}"])
	assert.Equal(t, 1.0, got["elb_group_ejections_total{group=web}"])
	assert.Equal(t, 5.0, got["elb_group_request_failures_total{group=web}"])
	assert.Positive(t, got["elb_health_checks_passed_total"+web1])
	assert.Equal(t, got["elb_health_checks_passed_total"+web1]+got["elb_health_checks_failed_total"+web1],
		got["elb_health_check_duration_seconds_count"+web1])
	assert.Positive(t, got["elb_sticky_misses_total{group=web}"])
	assert.Positive(t, got["elb_group_sticky_hits_total{group=web}"])
	assert.Equal(t, 1.0, got["elb_route_zone{group=web}"], `zone="": picks spread over every zone`)
	assert.Equal(t, 1.0, got["elb_route_zone{group=api,zone=az1}"])
	assert.Equal(t, 2.0, got["elb_zone_backends{group=web,zone=az1}"])
	assert.Equal(t, 1.0, got["elb_zone_healthy_backends{group=web,zone=az1}"], "web-2 is ejected")
	assert.Equal(t, 1.0, got["elb_available_backends{group=web}"], "web-2 ejected, web-3 new (initial)")
	assert.Equal(t, 3.0, got["elb_group_backends{group=web}"])
	assert.Equal(t, 0.0, got["elb_panic_mode{group=web}"])

	// web-3 is listed twice (draining, and the member at its new address):
	// one series, in-flight request included, both states counted.
	web3 := "{backend=web-3,group=web,zone=az2}"
	assert.Equal(t, 1.0, got["elb_in_flight_requests"+web3])
	assert.Equal(t, 1.0, got["elb_backend_state{backend=web-3,group=web,state=draining,zone=az2}"])
	assert.Equal(t, 1.0, got["elb_backend_state{backend=web-3,group=web,state=initial,zone=az2}"])
	assert.Equal(t, 0.0, got["elb_backend_state{backend=web-3,group=web,state=healthy,zone=az2}"])
	st, _ := reg.Group("web")
	var web3Requests uint64
	for _, b := range st.Stats().Backends {
		if b.ID == "web-3" {
			web3Requests += b.Requests
		}
	}
	assert.Equal(t, float64(web3Requests), got["elb_requests_total"+web3])

	// The group without checks or sticky sessions shows none of their
	// series.
	api := "{backend=10.0.1.1:80,group=api,zone=az1}"
	assert.Equal(t, 5.0, got["elb_requests_total"+api])
	assert.NotContains(t, got, "elb_health_checks_passed_total"+api)
	assert.NotContains(t, got, "elb_sticky_hits_total"+api)
	assert.NotContains(t, got, "elb_sticky_misses_total{group=api}")
	assert.Equal(t, 0.0, got["elb_ejections_total"+api])
}

// The client library's own linter and promtool, the Prometheus project's
// checker, find nothing wrong in what is served.
func TestLintAndPromtool(t *testing.T) {
	reg, held := everything(t)
	defer held.Done(nil)
	problems, err := testutil.CollectAndLint(elbprom.NewCollector(reg))
	require.NoError(t, err)
	assert.Empty(t, problems)

	out := text(t, pedantic(t, reg))
	if p := os.Getenv("ELB_METRICS_OUT"); p != "" { // to run promtool by hand: see the README
		require.NoError(t, os.WriteFile(p, []byte(out), 0o644))
	}
	for _, want := range []string{
		"# HELP elb_requests_total ", "# TYPE elb_requests_total counter",
		"# TYPE elb_health_check_duration_seconds summary", "# TYPE elb_backend_state gauge",
	} {
		assert.Contains(t, out, want)
	}
	cmd := exec.Command(tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	verdict, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics: %s", verdict)
	assert.Empty(t, strings.TrimSpace(string(verdict)), "promtool has nothing to say about a clean exposition")
}

// Counters never fall across membership changes: a removed backend's
// series stop once it is forgotten, and the group's total, which includes
// it, keeps growing, while requests flow.
func TestCountersAcrossRemoval(t *testing.T) {
	// n = 1 is left out: removing the only backend leaves no traffic to count.
	for _, n := range []int{2, 3, 10, 100, 164, 500, 1000, 10000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			reg := &group.Registry{}
			bs := make([]group.Backend, n)
			for i := range bs {
				bs[i] = group.Backend{ID: fmt.Sprint("b", i), Addr: fmt.Sprintf("10.%d.%d.%d:80", i/40000, i/200%200, i%200+1), Weight: group.Weight(i%5 + 1)}
			}
			bs[0].Weight = group.Weight(group.MaxWeight) // b0, the one removed, is soon picked
			g := newGroup(t, reg, group.Config{Name: "g"}, bs...)
			var pr prometheus.Gatherer = pedantic(t, reg)
			if n > 1000 { // the pedantic checks cost seconds at 160k series under -race: the plain ones
				plain := prometheus.NewRegistry()
				require.NoError(t, plain.Register(elbprom.NewCollector(reg)))
				pr = plain
			}

			// Traffic, bounded in count, on other goroutines all along.
			const perWorker = 5000
			var wg sync.WaitGroup
			var done atomic.Int64
			for range 2 {
				wg.Go(func() {
					for range perWorker {
						p, err := g.Pick(ctx, group.Request{})
						if err != nil {
							t.Error(err)
							return
						}
						p.Done(nil)
						done.Add(1)
					}
				})
			}
			held, picks := hold(t, g, "b0")
			for done.Load() < perWorker/4 {
				time.Sleep(time.Millisecond)
			}
			before := scrape(t, pr)
			require.NoError(t, g.Remove("b0"))
			during := scrape(t, pr) // b0 drains: the held request keeps it listed
			assert.Equal(t, 1.0, during["elb_backend_state{backend=b0,group=g,state=draining}"])
			held.Done(nil)
			wg.Wait()
			after := scrape(t, pr)

			assert.NotContains(t, after, "elb_requests_total{backend=b0,group=g}", "b0's series stopped")
			for _, s := range []map[string]float64{before, during, after} {
				assert.Contains(t, s, "elb_group_requests_total{group=g}")
			}
			total := "elb_group_requests_total{group=g}"
			assert.LessOrEqual(t, before[total], during[total])
			assert.LessOrEqual(t, during[total], after[total])
			for k, v := range before { // plain comparisons: 16 n series
				if strings.HasSuffix(k, "_total") && !strings.Contains(k, "backend=b0,") && (v > during[k] || v > after[k]) {
					t.Errorf("%s fell: %v, %v while b0 drained, %v after", k, v, during[k], after[k])
				}
			}
			// Every request counted once, b0's included, after it left.
			assert.Equal(t, float64(done.Load()+int64(picks)), after[total])
			var sum float64
			for k, v := range after {
				if strings.HasPrefix(k, "elb_requests_total{") {
					sum += v
				}
			}
			assert.Less(t, sum, after[total], "the per-backend sum lost b0's requests; the group's total did not")
		})
	}
}

// The documented bound holds at every size: at most 16 n + 2 z + 20
// series for a group of n backends in z zones, every feature on, n of
// them draining beside the members that took their IDs included.
func TestSeriesBound(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			reg := &group.Registry{}
			bs := make([]group.Backend, n)
			for i := range bs {
				bs[i] = group.Backend{ID: fmt.Sprint("b", i), Addr: fmt.Sprintf("10.%d.%d.%d:80", i/62500, i/250%250, i%250+1),
					Zone: fmt.Sprint("az", i%3), Weight: group.Weight(i%7 + 1)}
			}
			bs[0].Weight = group.Weight(group.MaxWeight) // b0, the one replaced, is soon picked
			g := newGroup(t, reg, group.Config{Name: "g", Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-User"}}, bs...)
			drive(t, g, min(n, 1000), nil)
			zones := min(n, 3)
			bound := 16*n + 2*zones + 20
			got := len(collectAll(elbprom.NewCollector(reg)))
			assert.LessOrEqual(t, got, bound)
			assert.Equal(t, 8*n+5*n+2*zones+20, got, "no checks: 8 series and 5 states per backend")

			// A backend drains (a request in flight) beside the member that
			// took its ID: still one set of series for the ID.
			held, _ := hold(t, g, "b0")
			bs[0].Addr = "10.255.0.1:80"
			require.NoError(t, g.Set(bs))
			assert.Equal(t, got, len(collectAll(elbprom.NewCollector(reg))))
			held.Done(nil)
		})
	}
}

// collectAll returns what c collects.
func collectAll(c prometheus.Collector) []prometheus.Metric {
	ch := make(chan prometheus.Metric, 1024)
	go func() { c.Collect(ch); close(ch) }()
	var ms []prometheus.Metric
	for m := range ch {
		ms = append(ms, m)
	}
	return ms
}

// A backend ID that is not valid UTF-8 is served with its invalid bytes
// replaced, rather than failing the scrape.
func TestInvalidUTF8Label(t *testing.T) {
	reg := &group.Registry{}
	g := newGroup(t, reg, group.Config{Name: "g\xff"}, group.Backend{ID: "b\xfe", Addr: "10.0.0.1:80", Zone: "z\xfd"})
	drive(t, g, 3, nil)
	got := scrape(t, pedantic(t, reg))
	assert.Equal(t, 3.0, got["elb_requests_total{backend=b\uFFFD,group=g\uFFFD,zone=z\uFFFD}"])
}

// Scrapes run concurrently with each other, with requests and with
// membership changes (backends replaced, removed while in flight, added
// back), and every one is consistent: unique series (a pedantic
// registry) and a group total that never falls.
func TestScrapesDuringChanges(t *testing.T) {
	reg := &group.Registry{}
	bs := make([]group.Backend, 10)
	for i := range bs {
		bs[i] = group.Backend{ID: fmt.Sprint("b", i), Addr: fmt.Sprintf("10.0.0.%d:80", i+1), Zone: fmt.Sprint("az", i%2)}
	}
	g := newGroup(t, reg, group.Config{Name: "g", Algorithm: "least_request"}, bs...)
	c := elbprom.NewCollector(reg) // a registry and Handler share its order cache
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(c))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var scrapes atomic.Int64
	wg.Go(func() { // requests, some held across the changes
		var held []group.Pick
		for i := 0; ; i++ {
			select {
			case <-stop:
				for _, p := range held {
					p.Done(nil)
				}
				return
			default:
			}
			p, err := g.Pick(ctx, group.Request{})
			if err != nil {
				continue // a moment with every backend draining
			}
			if i%50 == 0 {
				held = append(held, p)
				continue
			}
			p.Done(nil)
		}
	})
	wg.Go(func() { // and through Handler, from the same Collector
		for {
			select {
			case <-stop:
				return
			default:
			}
			res, body := get(t, c.Handler(nil), "")
			assert.Equal(t, http.StatusOK, res.StatusCode)
			assert.Contains(t, body, "elb_group_requests_total{group=\"g\"} ")
			scrapes.Add(1)
		}
	})
	for range 2 {
		wg.Go(func() {
			last := 0.0
			for {
				select {
				case <-stop:
					return
				default:
				}
				got := scrape(t, pr)
				scrapes.Add(1)
				total := got["elb_group_requests_total{group=g}"]
				if total < last {
					t.Errorf("the group total fell: %v after %v", total, last)
				}
				last = total
			}
		})
	}
	for round := range 200 { // bounded: 200 changes
		moved := slices.Clone(bs)
		for i := range moved {
			if (i+round)%3 == 0 {
				moved[i].Addr = fmt.Sprintf("10.0.%d.%d:80", round%200+1, i+1) // replaced: the old one drains
			}
		}
		require.NoError(t, g.Set(moved[round%4:]))
		if round%20 == 0 {
			for n := scrapes.Load(); scrapes.Load() < n+2; { // let the scrapers see this one
				time.Sleep(time.Millisecond)
			}
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d scrapes during 200 changes", scrapes.Load())
}

// A Collector of no registry, or of an empty one, collects nothing and
// passes the registry's checks.
func TestNoGroups(t *testing.T) {
	for _, reg := range []*group.Registry{nil, {}} {
		pr := prometheus.NewPedanticRegistry()
		require.NoError(t, pr.Register(elbprom.NewCollector(reg)))
		assert.Empty(t, scrape(t, pr))
	}
}
