package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/fakeclock"
	elbprom "github.com/go-elb/elb/metrics/prometheus"
	"github.com/go-elb/elb/sticky"
)

// fleet is a registry of groups x backends, every metric shown: three
// zones, health checks (every backend probed once, on a fake clock),
// outlier detection, sticky sessions, and traffic on every backend. The
// backends are added in a shuffled order, as a discovery source lists
// them, not sorted by ID.
func fleet(b *testing.B, groups, backends int) *group.Registry {
	b.Helper()
	reg := &group.Registry{}
	clk := fakeclock.New(time.Unix(1_700_000_000, 0))
	rng := rand.New(rand.NewPCG(1, 2))
	for gi := range groups {
		bs := make([]group.Backend, backends)
		for i := range bs {
			bs[i] = group.Backend{ID: fmt.Sprintf("backend-%05d", i), Addr: fmt.Sprintf("10.%d.%d.%d:8080", gi, i/250, i%250+1),
				Weight: group.Weight(i%10 + 1), Zone: fmt.Sprint("az", i%3+1)}
		}
		rng.Shuffle(len(bs), func(i, j int) { bs[i], bs[j] = bs[j], bs[i] })
		g := newGroup(b, reg, group.Config{Name: fmt.Sprint("group-", gi), Clock: clk,
			Health:  &health.Config{Probe: health.ProbeFunc(func(context.Context, string) error { return nil })},
			Outlier: &health.OutlierConfig{},
			Sticky:  &sticky.Config{Mode: sticky.Header, Header: "X-User"}}, bs...)
		require.Eventually(b, func() bool { return g.Stats().Available == backends }, 60*time.Second, time.Millisecond)
		drive(b, g, 3*backends, nil)
	}
	return reg
}

// BenchmarkScrape measures a full scrape of one group of n backends, n =
// 1 to 10,000 (16 n + 26 series), and of 10 groups of 100: Stats alone
// (the baseline: what reading the groups costs), Collect (Stats turned
// into metrics, sent to a channel), Gather (a prometheus.Registry
// holding the Collector: checks, sorting), GatherBaseline (the same
// number of prometheus.MustNewConstMetric gauges from a collector that
// reads nothing: what the client library costs per series, whoever
// collects them), Promhttp (promhttp's whole answer for that registry,
// text format, to io.Discard) and Handler (the Collector's Handler: the
// same bytes, written directly), and both again gzipped, as Prometheus
// asks for. Beside the wall time per scrape,
// cpu-ns/op is the CPU time the process spent per scrape (all its
// goroutines, the collector's and the registry's, GC included), which a
// loaded machine does not inflate.
func BenchmarkScrape(b *testing.B) {
	shapes := []struct{ groups, backends int }{{1, 1}, {1, 10}, {1, 100}, {1, 1000}, {1, 10000}, {10, 100}}
	for _, shape := range shapes {
		reg := fleet(b, shape.groups, shape.backends)
		c := elbprom.NewCollector(reg)
		pr := prometheus.NewRegistry()
		require.NoError(b, pr.Register(c))
		name := fmt.Sprintf("n=%d", shape.backends)
		if shape.groups > 1 {
			name = fmt.Sprintf("n=%dx%d", shape.groups, shape.backends)
		}
		run := func(part string, f func(b *testing.B)) {
			b.Run(name+"/"+part, func(b *testing.B) {
				start := cpuTime()
				f(b)
				if d := cpuTime() - start; d > 0 {
					b.ReportMetric(float64(d)/float64(b.N), "cpu-ns/op")
				}
			})
		}
		run("Stats", func(b *testing.B) {
			for b.Loop() {
				for _, g := range reg.Groups() {
					_ = g.Stats()
				}
			}
		})
		run("Collect", func(b *testing.B) {
			ch := make(chan prometheus.Metric, 1024)
			done := make(chan int)
			go func() {
				n := 0
				for range ch {
					n++
				}
				done <- n
			}()
			for b.Loop() {
				c.Collect(ch)
			}
			close(ch)
			b.ReportMetric(float64(<-done)/float64(b.N), "series/op")
		})
		run("Gather", func(b *testing.B) {
			for b.Loop() {
				if _, err := pr.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
		n := len(collect(c))
		base := prometheus.NewRegistry()
		require.NoError(b, base.Register(constMetrics(n)))
		run("GatherBaseline", func(b *testing.B) {
			for b.Loop() {
				if _, err := base.Gather(); err != nil {
					b.Fatal(err)
				}
			}
		})
		run("Promhttp", func(b *testing.B) {
			serve(b, promhttp.HandlerFor(pr, promhttp.HandlerOpts{}), "")
		})
		run("Handler", func(b *testing.B) {
			serve(b, c.Handler(nil), "")
		})
		run("PromhttpGzip", func(b *testing.B) {
			serve(b, promhttp.HandlerFor(pr, promhttp.HandlerOpts{}), "gzip")
		})
		run("HandlerGzip", func(b *testing.B) {
			serve(b, c.Handler(nil), "gzip")
		})
	}
}

// serve has h answer GET /metrics in a loop, the body thrown away, with
// the Accept-Encoding given ("" for none), and reports the body's size.
func serve(b *testing.B, h http.Handler, encoding string) {
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	var w discard
	for b.Loop() {
		w = discard{header: http.Header{}}
		h.ServeHTTP(&w, req)
	}
	b.ReportMetric(float64(w.n), "bytes/scrape")
}

// collect returns what c collects.
func collect(c prometheus.Collector) []prometheus.Metric {
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	var ms []prometheus.Metric
	for m := range ch {
		ms = append(ms, m)
	}
	return ms
}

// constMetrics is a collector of n gauges made with
// prometheus.MustNewConstMetric, labelled group, backend and zone.
type constMetrics int

var descConst = prometheus.NewDesc("baseline", "A baseline gauge.", []string{"group", "backend", "zone"}, nil)

func (n constMetrics) Describe(ch chan<- *prometheus.Desc) { ch <- descConst }

func (n constMetrics) Collect(ch chan<- prometheus.Metric) {
	for i := range int(n) {
		ch <- prometheus.MustNewConstMetric(descConst, prometheus.GaugeValue, float64(i), "group-0", fmt.Sprintf("backend-%05d", i), "az1")
	}
}

// discard is an http.ResponseWriter that throws the body away.
type discard struct {
	header http.Header
	n      int // bytes written
}

func (d *discard) Header() http.Header { return d.header }
func (d *discard) Write(p []byte) (int, error) {
	d.n += len(p)
	return io.Discard.Write(p)
}
func (d *discard) WriteHeader(int) {}
