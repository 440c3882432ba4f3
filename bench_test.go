package elb_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/fakeclock"
	"github.com/go-elb/elb/sticky"
)

// sizes are the group sizes every pick benchmark runs at.
var sizes = []int{3, 100, 1000, 10000}

// algorithms are the built-ins, in the README's order.
var algorithms = []string{
	balancer.NameRoundRobin,
	balancer.NameWeightedRoundRobin,
	balancer.NameRandom,
	balancer.NameWeightedRandom,
	balancer.NameLeastRequest,
	balancer.NamePeakEWMA,
	balancer.NameWeightedLeastConnections,
	balancer.NameConsistentHash,
	balancer.NameSourceIPHash,
	balancer.NameLoadReportWRR,
}

// backends returns n backends with weights 1-10.
func backends(n int) []group.Backend {
	bs := make([]group.Backend, n)
	for i := range bs {
		bs[i] = group.Backend{
			ID:     fmt.Sprintf("b%d", i),
			Addr:   fmt.Sprintf("10.%d.%d.%d:8080", i>>16&255, i>>8&255, i&255),
			Weight: group.Weight(i%10 + 1),
			Zone:   fmt.Sprintf("az%d", i%3),
		}
	}
	return bs
}

func newGroup(b *testing.B, alg string, n int) *group.Group {
	g, err := group.New(group.Config{Name: "bench", Algorithm: alg})
	if err != nil {
		b.Fatal(err)
	}
	if err := g.Add(backends(n)...); err != nil {
		b.Fatal(err)
	}
	return g
}

// floorCounters are the per-backend counters of the baseline, padded to a
// cache line as the group's are.
type floorCounters struct {
	inFlight atomic.Int64
	requests atomic.Uint64
	_        [48]byte
}

// BenchmarkBaseline is what every Pick+Done figure is measured against:
// "counter" is a bare atomic counter indexing a slice; "floor" adds the
// bookkeeping any Pick+Done must do (in flight +1 and -1, a request count,
// on per-backend counters that live on their own cache lines).
func BenchmarkBaseline(b *testing.B) {
	for _, n := range sizes {
		slots := make([]*floorCounters, n)
		for i := range slots {
			slots[i] = new(floorCounters)
		}
		var next atomic.Uint64
		counter := func(uint64) { _ = slots[next.Add(1)%uint64(n)] }
		floor := func(uint64) {
			c := slots[next.Add(1)%uint64(n)]
			c.inFlight.Add(1)
			c.requests.Add(1)
			c.inFlight.Add(-1)
		}
		for _, f := range []struct {
			name string
			op   func(uint64)
		}{{"counter", counter}, {"floor", floor}} {
			run(b, fmt.Sprintf("%s/n=%d", f.name, n), f.op)
		}
	}
}

// BenchmarkPickDone is one Pick and its Done through a Group, for every
// built-in algorithm and group size, serial and in parallel.
func BenchmarkPickDone(b *testing.B) {
	ctx := context.Background()
	for _, alg := range algorithms {
		for _, n := range sizes {
			g := newGroup(b, alg, n)
			keys := make([]string, 1024)
			for i := range keys {
				keys[i] = fmt.Sprintf("user-%d", i)
			}
			keyed := alg == balancer.NameConsistentHash || alg == balancer.NameSourceIPHash
			run(b, fmt.Sprintf("%s/n=%d", alg, n), func(k uint64) {
				var req group.Request // what a caller of a non-hashing algorithm passes
				if keyed {
					req = group.Request{Key: keys[k&1023], Source: "192.0.2.7:4242"}
				}
				p, err := g.Pick(ctx, req)
				if err != nil {
					panic(err)
				}
				p.Done(nil)
			})
			if alg == balancer.NameLeastRequest || alg == balancer.NamePeakEWMA {
				// With a latency, as the adapters end their picks: the
				// estimate's update (and its clock read) in Done.
				run(b, fmt.Sprintf("%s_latency/n=%d", alg, n), func(k uint64) {
					p, err := g.Pick(ctx, group.Request{})
					if err != nil {
						panic(err)
					}
					p.DoneWith(group.Result{Latency: time.Duration(1000 + k&1023)})
				})
			}
			_ = g.Close(ctx)
		}
	}
}

// BenchmarkPickDoneServerLoad is Pick and DoneWith carrying a server load
// report, as the adapters end a request whose response had one, for
// load_report_wrr in both modes, next to least_request's Pick+Done.
func BenchmarkPickDoneServerLoad(b *testing.B) {
	ctx := context.Background()
	for _, alg := range []string{balancer.NameLeastRequest, balancer.NameLoadReportWRR, `{"load_report_wrr": {"mode": "p2c"}}`} {
		name := alg
		if alg[0] == '{' {
			name = balancer.NameLoadReportWRR + "_p2c"
		}
		for _, n := range sizes {
			g := newGroup(b, alg, n)
			run(b, fmt.Sprintf("%s/n=%d", name, n), func(k uint64) {
				p, err := g.Pick(ctx, group.Request{})
				if err != nil {
					panic(err)
				}
				p.DoneWith(group.Result{ServerLoad: balancer.ServerLoad{
					ApplicationUtilization: 0.25 + float64(k&7)/16, QPS: 100 + float64(k&15), EPS: 1}})
			})
			_ = g.Close(ctx)
		}
	}
}

// run benchmarks op serially and with b.RunParallel. op gets a sequence
// number private to its goroutine.
func run(b *testing.B, name string, op func(seq uint64)) {
	b.Run(name+"/serial", func(b *testing.B) {
		b.ReportAllocs()
		var seq uint64
		for b.Loop() {
			seq++
			op(seq)
		}
	})
	b.Run(name+"/parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var seq uint64
			for pb.Next() {
				seq++
				op(seq)
			}
		})
	})
}

// BenchmarkRebuild is one change to a group of 1,000 or 10,000 backends:
// an Update that moves one backend's weight, which rebuilds the pick set
// and the algorithm's picker.
func BenchmarkRebuild(b *testing.B) {
	for _, alg := range algorithms {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s/n=%d", alg, n), func(b *testing.B) {
				g := newGroup(b, alg, n)
				defer g.Close(context.Background())
				bk := g.Backends()[0]
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					bk.Weight = group.Weight(i%100 + 1)
					if err := g.Update(bk); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMemoryPerBackend reports the heap a group holds per backend at
// 10,000 backends (members, descriptors, pick set and picker), as the
// metric B/backend.
func BenchmarkMemoryPerBackend(b *testing.B) {
	for _, alg := range algorithms {
		b.Run(alg+"/n=10000", func(b *testing.B) {
			bs := backends(10000)
			var perBackend float64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				g, err := group.New(group.Config{Name: "mem", Algorithm: alg})
				if err != nil {
					b.Fatal(err)
				}
				if err := g.Set(bs); err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				perBackend = float64(after.HeapAlloc-before.HeapAlloc) / float64(len(bs))
				runtime.KeepAlive(g)
			}
			b.ReportMetric(perBackend, "B/backend")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkPickDoneHealth is BenchmarkPickDone on a group with every
// health feature on (active checks, outlier detection, slow start) while
// health states keep changing: a background goroutine moves a fake clock
// one probe interval every 100ms, which probes every backend (10 times the
// probing of a real group at the default 5s interval, compressed) and
// flips one backend between Healthy and Unhealthy, rebuilding the pick
// set. Compare its figures with BenchmarkPickDone's for the same algorithm
// and size.
func BenchmarkPickDoneHealth(b *testing.B) {
	ctx := context.Background()
	for _, alg := range []string{balancer.NameRoundRobin, balancer.NameWeightedRoundRobin, balancer.NameLeastRequest} {
		for _, n := range []int{100, 1000} {
			clk := fakeclock.New(time.Unix(0, 0))
			flip := backends(n)[0].Addr
			var probes atomic.Uint64
			probe := health.ProbeFunc(func(_ context.Context, addr string) error {
				if addr == flip && probes.Add(1)%2 == 0 {
					return errors.New("down")
				}
				return nil
			})
			g, err := group.New(group.Config{Name: "bench", Algorithm: alg, Clock: clk,
				Health:    &health.Config{Probe: probe, Interval: time.Second, HealthyThreshold: 1, UnhealthyThreshold: 1, Jitter: health.NoJitter},
				Outlier:   &health.OutlierConfig{},
				SlowStart: &health.SlowStart{Window: 30 * time.Second},
			})
			if err != nil {
				b.Fatal(err)
			}
			if err := g.Add(backends(n)...); err != nil {
				b.Fatal(err)
			}
			for g.Stats().Available < n-1 { // the first probes are under way
				clk.Advance(0)
				time.Sleep(time.Millisecond)
			}
			clk.Advance(time.Minute) // past the slow-start ramp
			stop := make(chan struct{})
			var churn sync.WaitGroup
			churn.Go(func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(100 * time.Millisecond):
						clk.Advance(time.Second)
					}
				}
			})
			run(b, fmt.Sprintf("%s/n=%d", alg, n), func(k uint64) {
				p, err := g.Pick(ctx, group.Request{})
				if err != nil {
					panic(err)
				}
				p.Done(nil)
			})
			close(stop)
			churn.Wait()
			_ = g.Close(ctx)
		}
	}
}

// BenchmarkSticky is a sticky hit, Pick+Done of a request that follows its
// binding, in each mode, next to a plain Pick+Done (weighted_round_robin)
// on the same 100 backends: the cost of affinity. header and app_cookie
// look a key up in the binding table; source_ip hashes the client's IP into
// a Maglev table; cookie verifies an HMAC-SHA256 signed cookie.
func BenchmarkSticky(b *testing.B) {
	ctx := context.Background()
	const n = 100
	keys := make([]string, 1024)
	ips := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("session-%08d", i)
		ips[i] = fmt.Sprintf("198.51.%d.%d:%d", i>>8, i&255, 40000+i)
	}
	for _, mode := range []string{"plain", "header", "source_ip", "cookie"} {
		cfg := group.Config{Name: "bench"}
		switch mode {
		case "header":
			cfg.Sticky = &sticky.Config{Mode: sticky.Header, Header: "X-Session"}
		case "source_ip":
			cfg.Sticky = &sticky.Config{Mode: sticky.SourceIP}
		case "cookie":
			cfg.Sticky = &sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{[]byte("bench-key-bench-key-bench-key-bench-key")}}
		}
		g, err := group.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := g.Add(backends(n)...); err != nil {
			b.Fatal(err)
		}
		reqs := make([]group.Request, len(keys))
		for i := range reqs {
			reqs[i] = group.Request{Affinity: keys[i], Source: ips[i]}
			p, err := g.Pick(ctx, reqs[i]) // bind
			if err != nil {
				b.Fatal(err)
			}
			if mode == "cookie" {
				reqs[i].Affinity = p.Cookie()
			}
			p.Done(nil)
		}
		run(b, fmt.Sprintf("%s/n=%d", mode, n), func(k uint64) {
			p, err := g.Pick(ctx, reqs[k&1023])
			if err != nil {
				panic(err)
			}
			p.Done(nil)
		})
		_ = g.Close(ctx)
	}
}
