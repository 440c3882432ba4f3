package prometheus_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	elbprom "github.com/go-elb/elb/metrics/prometheus"
)

var ctx = context.Background()

// pedantic returns a registry holding a Collector of reg, which checks
// every scrape against the Collector's descriptors and for duplicates.
func pedantic(t testing.TB, reg *group.Registry) *prometheus.Registry {
	t.Helper()
	pr := prometheus.NewPedanticRegistry()
	require.NoError(t, pr.Register(elbprom.NewCollector(reg)))
	return pr
}

// scrape gathers pr and returns every sample by series: the metric's name
// and its non-empty labels, sorted, as name{k=v,...}; a summary gives
// name_count and name_sum.
func scrape(t testing.TB, pr prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := pr.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				if l.GetValue() != "" {
					ls = append(ls, l.GetName()+"="+l.GetValue())
				}
			}
			slices.Sort(ls)
			key := func(suffix string) string { return mf.GetName() + suffix + "{" + strings.Join(ls, ",") + "}" }
			switch {
			case m.Counter != nil:
				out[key("")] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key("")] = m.GetGauge().GetValue()
			case m.Summary != nil:
				out[key("_count")] = float64(m.GetSummary().GetSampleCount())
				out[key("_sum")] = m.GetSummary().GetSampleSum()
			}
		}
	}
	return out
}

// text returns what promhttp serves for pr: the text exposition format.
func text(t testing.TB, pr prometheus.Gatherer) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(pr, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return rec.Body.String()
}

// tool returns the path of a Prometheus binary (Debian package
// prometheus), skipping the test when it is missing, or failing it under
// CI=true.
func tool(t *testing.T, name string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/bin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("%s not found: install it with apt-get install -y --no-install-recommends prometheus", name)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: not skipped)")
	}
	t.Skip(msg + " (skipped; under CI=true this test fails)")
	return ""
}

// drive picks n times in g, ending each pick with err.
func drive(t testing.TB, g *group.Group, n int, err error) {
	t.Helper()
	for range n {
		p, e := g.Pick(ctx, group.Request{})
		require.NoError(t, e)
		p.Done(err)
	}
}

// hold picks in g until it has a pick of the backend id, and returns that
// pick, still in flight, and the number of picks made, that one included;
// the other picks are done.
func hold(t testing.TB, g *group.Group, id string) (group.Pick, int) {
	t.Helper()
	for n := 1; n <= 10000; n++ {
		p, err := g.Pick(ctx, group.Request{})
		require.NoError(t, err)
		if p.ID() == id {
			return p, n
		}
		p.Done(nil)
	}
	t.Fatalf("never picked %s", id)
	return group.Pick{}, 0
}

// newGroup is a group in reg with backends, closed at the end of the test.
func newGroup(t testing.TB, reg *group.Registry, cfg group.Config, bs ...group.Backend) *group.Group {
	t.Helper()
	cfg.Registry = reg
	cfg.FailFast = true
	g, err := group.New(cfg)
	require.NoError(t, err)
	require.NoError(t, g.Add(bs...))
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = g.Close(c)
	})
	return g
}
