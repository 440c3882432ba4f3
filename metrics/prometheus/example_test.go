package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/go-elb/elb/group"
	elbprom "github.com/go-elb/elb/metrics/prometheus"
)

// A program registers one Collector for its groups' registry and serves
// it beside its other metrics.
func ExampleNewCollector() {
	reg := &group.Registry{}
	g, err := group.New(group.Config{Name: "web", Registry: reg})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	_ = g.Add(group.Backend{ID: "web-1", Addr: "10.0.0.1:8080", Zone: "az1"},
		group.Backend{ID: "web-2", Addr: "10.0.0.2:8080", Zone: "az2", Weight: group.Weight(3)})

	metrics := prometheus.NewRegistry() // or prometheus.DefaultRegisterer
	metrics.MustRegister(elbprom.NewCollector(reg))
	mux := http.NewServeMux() // served on an operations port: go http.ListenAndServe("127.0.0.1:9090", mux)
	mux.Handle("/metrics", promhttp.HandlerFor(metrics, promhttp.HandlerOpts{}))

	for range 8 {
		p, err := g.Pick(context.Background(), group.Request{})
		if err != nil {
			panic(err)
		}
		p.Done(nil)
	}

	// What a scrape of /metrics would show, in part.
	families, err := metrics.Gather()
	if err != nil {
		panic(err)
	}
	for _, f := range families {
		if f.GetName() != "elb_requests_total" && f.GetName() != "elb_group_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			fmt.Print(f.GetName(), "{")
			for i, l := range m.GetLabel() {
				if i > 0 {
					fmt.Print(",")
				}
				fmt.Printf("%s=%q", l.GetName(), l.GetValue())
			}
			fmt.Println("}", m.GetCounter().GetValue())
		}
	}
	// Output:
	// elb_group_requests_total{group="web"} 8
	// elb_requests_total{backend="web-1",group="web",zone="az1"} 2
	// elb_requests_total{backend="web-2",group="web",zone="az2"} 6
}

// A program whose groups are large serves them through Handler, beside
// its other metrics (here the default registry's), on one path: the same
// series as a registered Collector, a fraction of the cost.
func ExampleCollector_Handler() {
	reg := &group.Registry{}
	g, err := group.New(group.Config{Name: "web", Registry: reg})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	_ = g.Add(group.Backend{ID: "web-1", Addr: "10.0.0.1:8080", Zone: "az1"},
		group.Backend{ID: "web-2", Addr: "10.0.0.2:8080", Zone: "az2", Weight: group.Weight(3)})

	c := elbprom.NewCollector(reg) // not registered: Handler serves it
	mux := http.NewServeMux()
	mux.Handle("/metrics", c.Handler(prometheus.DefaultGatherer))

	for range 8 {
		p, err := g.Pick(context.Background(), group.Request{})
		if err != nil {
			panic(err)
		}
		p.Done(nil)
	}

	// What a scrape of /metrics shows, in part.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "elb_requests_total{") || strings.HasPrefix(line, "# TYPE go_goroutines ") {
			fmt.Print(line)
		}
	}
	// Output:
	// elb_requests_total{backend="web-1",group="web",zone="az1"} 2
	// elb_requests_total{backend="web-2",group="web",zone="az2"} 6
	// # TYPE go_goroutines gauge
}
