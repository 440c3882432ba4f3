package group_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// BenchmarkPickDone measures one Pick and its Done, through the group, at
// a few sizes and modes, and through a View with every member ready.
func BenchmarkPickDone(b *testing.B) {
	for _, n := range []int{3, 100} {
		for _, mode := range []struct {
			name string
			cfg  group.Config
			req  group.Request
		}{
			{"round_robin", group.Config{Algorithm: "round_robin"}, group.Request{}},
			{"least_request", group.Config{Algorithm: "least_request"}, group.Request{}},
			{"peak_ewma", group.Config{Algorithm: "peak_ewma"}, group.Request{}},
			{"sticky_header", group.Config{Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-S"}}, group.Request{Affinity: "s1"}},
		} {
			b.Run(fmt.Sprintf("view/%s/n=%d", mode.name, n), func(b *testing.B) {
				g, _ := newGroup(b, mode.cfg, sized(n)...)
				var ids []string
				for _, be := range g.Backends() {
					ids = append(ids, be.ID)
				}
				v := viewOf(b, g, ids...)
				b.ReportAllocs()
				for b.Loop() {
					p, _, err := v.Pick(ctx, mode.req)
					if err != nil {
						b.Fatal(err)
					}
					p.Done(nil)
				}
			})
			b.Run(fmt.Sprintf("%s/n=%d", mode.name, n), func(b *testing.B) {
				g, _ := newGroup(b, mode.cfg, sized(n)...)
				b.ReportAllocs()
				for b.Loop() {
					p, err := g.Pick(ctx, mode.req)
					if err != nil {
						b.Fatal(err)
					}
					p.Done(nil)
				}
			})
		}
	}
}

// BenchmarkStats is one Stats of a group of n backends, every one with
// metadata to clone, as a scrape or the dashboard reads it.
func BenchmarkStats(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			bs := sized(n)
			for i := range bs {
				bs[i].Metadata = map[string]string{"pool": "a"}
			}
			g, _ := newGroup(b, group.Config{}, bs...)
			b.ReportAllocs()
			for b.Loop() {
				if st := g.Stats(); len(st.Backends) != n {
					b.Fatal(len(st.Backends))
				}
			}
		})
	}
}

// BenchmarkLockDuringStats is what Stats costs the rest of the group: one
// op is a call that takes the group's lock (Len, as Add, Remove and
// health results do) while another goroutine calls Stats without pause.
// ns/op is the mean wait; p50-ns, p99-ns and p99.99-ns are its quantiles.
func BenchmarkLockDuringStats(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			bs := sized(n)
			for i := range bs {
				bs[i].Metadata = map[string]string{"pool": "a"}
			}
			g, _ := newGroup(b, group.Config{}, bs...)
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
						g.Stats()
					}
				}
			}()
			waits := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				g.Len()
				waits = append(waits, time.Since(start))
			}
			close(stop)
			<-done
			slices.Sort(waits)
			b.ReportMetric(float64(waits[len(waits)/2]), "p50-ns")
			b.ReportMetric(float64(waits[len(waits)*99/100]), "p99-ns")
			b.ReportMetric(float64(waits[len(waits)*9999/10000]), "p99.99-ns")
		})
	}
}

// BenchmarkDoneThatEjects times the Done that completes a run of failed
// requests (Outlier.ConsecutiveFailures 1) and so ejects its backend,
// which rebuilds the pick set: consistent_hash's Maglev table the slowest,
// round_robin the plainest. The Done hands the ejection over (handoffs);
// the benchmark waits for it, and lets the backend back, with the timer
// stopped.
func BenchmarkDoneThatEjects(b *testing.B) {
	for _, alg := range []string{"round_robin", "consistent_hash"} {
		for _, n := range []int{10, 1000, 10000} {
			b.Run(fmt.Sprintf("%s/n=%d", alg, n), func(b *testing.B) {
				g, clk := newGroup(b, group.Config{Algorithm: alg,
					Outlier: &health.OutlierConfig{ConsecutiveFailures: 1, MaxEjectionPercent: 100, BaseEjectionTime: time.Second}},
					sized(n)...)
				fail := errors.New("502")
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					p, err := g.Pick(ctx, group.Request{})
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					p.Done(fail)
					b.StopTimer()
					group.CaughtUp(g)
					clk.Advance(time.Hour) // the ejection ends
					b.StartTimer()
				}
			})
		}
	}
}
