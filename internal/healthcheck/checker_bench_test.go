package healthcheck

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-elb/elb/health"
)

// BenchmarkChecker1000 probes 1,000 targets every second on the real clock,
// with the default jitter and concurrency (32), and reports the probes
// done per second of wall time, the most goroutines seen above the count
// before the Checker (sampled every 10ms), and heap allocations per probe.
// One op is one 10ms sample, so -benchtime=300x runs for 3s. ns/op is
// suppressed: it is the sampling period.
//
// The instant probe shows the Checker's own cost; the 50ms one keeps more
// probes due than Concurrency allows, so the goroutine bound is reached and
// throughput is capped at 32/50ms = 640 probes/s.
func BenchmarkChecker1000(b *testing.B) {
	for _, latency := range []time.Duration{0, 50 * time.Millisecond} {
		name := "instant"
		if latency > 0 {
			name = fmt.Sprint("probe=", latency)
		}
		b.Run(name, func(b *testing.B) { benchmarkChecker(b, 1000, latency) })
	}
}

func benchmarkChecker(b *testing.B, targets int, latency time.Duration) {
	probe := health.ProbeFunc(func(ctx context.Context, _ string) error {
		if latency > 0 {
			t := time.NewTimer(latency)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
		}
		return nil
	})
	var probes atomic.Int64
	base := runtime.NumGoroutine()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c, err := NewChecker(health.Config{Probe: probe, Interval: time.Second}, nil, func(Result) { probes.Add(1) })
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := range targets {
		c.Add(Target{ID: fmt.Sprint(i), Addr: fmt.Sprint("10.0.", i/250, ".", i%250, ":80")})
	}
	most := 0
	tick := time.NewTicker(10 * time.Millisecond)
	for range b.N {
		<-tick.C
		most = max(most, runtime.NumGoroutine())
	}
	tick.Stop()
	elapsed := time.Since(start)
	n := probes.Load()
	c.Close()
	runtime.ReadMemStats(&after)

	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "probes/s")
	b.ReportMetric(float64(most-base), "max-goroutines")
	if n > 0 {
		b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(n), "allocs/probe")
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "B/probe")
	}
}
