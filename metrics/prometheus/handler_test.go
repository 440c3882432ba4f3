package prometheus_test

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	elbprom "github.com/go-elb/elb/metrics/prometheus"
	"github.com/go-elb/elb/sticky"
)

// get answers GET /metrics with h, the Accept-Encoding given ("" for
// none), and returns the response and its body, decompressed.
func get(t *testing.T, h http.Handler, encoding string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	var body io.Reader = res.Body
	if res.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(res.Body)
		require.NoError(t, err)
		body = gz
	}
	b, err := io.ReadAll(body)
	require.NoError(t, err)
	return res, string(b)
}

// Handler serves, byte for byte, what promhttp serves for a registry
// holding the Collector: every kind of metric, a draining backend beside
// the member that took its ID, groups with and without health checks and
// sticky sessions.
func TestHandlerServesWhatTheRegistryDoes(t *testing.T) {
	reg, held := everything(t)
	defer held.Done(nil)
	c := elbprom.NewCollector(reg)
	want := text(t, pedantic(t, reg))
	res, got := get(t, c.Handler(nil), "")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, want, got)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(pedantic(t, reg), promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, rec.Header().Get("Content-Type"), res.Header.Get("Content-Type"))

	res, gz := get(t, c.Handler(nil), "deflate, gzip;q=1.0, *;q=0.5")
	assert.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	assert.Equal(t, want, gz)
	res, plain := get(t, c.Handler(nil), "gzip;q=0, identity")
	assert.Empty(t, res.Header.Get("Content-Encoding"), "gzip refused")
	assert.Equal(t, want, plain)

	cmd := exec.Command(tool(t, "promtool"), "check", "metrics")
	cmd.Stdin = strings.NewReader(got)
	verdict, err := cmd.CombinedOutput()
	require.NoError(t, err, "promtool check metrics: %s", verdict)
	assert.Empty(t, strings.TrimSpace(string(verdict)))
}

// Handler's exposition is the registry's at every size, the backends added
// in an order other than their IDs', in several groups whose IDs
// interleave, some backends draining beside the members that took their
// IDs, labels that need escaping or replacing.
func TestHandlerAtSizes(t *testing.T) {
	for _, n := range []int{1, 2, 3, 10, 100, 164, 500, 1000, 10000} {
		if n == 10000 && (testing.Short() || raceEnabled) {
			continue // 10000 runs in .ci/run's tests without -race
		}
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			reg := &group.Registry{}
			var held []group.Pick
			for gi, name := range []string{"b", "a\"\\\n", "c\xff"} {
				bs := make([]group.Backend, n)
				for i := range bs {
					j := (i*7919 + gi) % n // shuffled, and the groups' orders differ
					bs[i] = group.Backend{ID: fmt.Sprint("b", j), Addr: fmt.Sprintf("10.%d.%d.%d:80", gi, j/250, j%250+1),
						Zone: fmt.Sprint("az", j%3), Weight: group.Weight(j%7 + 1)}
				}
				if n >= 2 {
					bs[1].Weight = group.Weight(group.MaxWeight) // soon picked, then held while it drains
				}
				if gi == 1 {
					bs[0].ID, bs[0].Zone = "quote\"back\\slash\nnew", "z\"" // escaped
				}
				cfg := group.Config{Name: name}
				if gi == 0 {
					cfg.Sticky = &sticky.Config{Mode: sticky.Header, Header: "X-User"}
				}
				g := newGroup(t, reg, cfg, bs...)
				drive(t, g, min(3*n, 3000), nil)
				if n >= 2 { // a backend drains beside the member that took its ID
					p, _ := hold(t, g, bs[1].ID)
					held = append(held, p)
					bs[1].Addr = "10.255.0.1:80"
					require.NoError(t, g.Set(bs))
				}
			}
			defer func() {
				for _, p := range held {
					p.Done(nil)
				}
			}()
			pr := prometheus.NewRegistry()
			c := elbprom.NewCollector(reg)
			require.NoError(t, pr.Register(c))
			want := text(t, pr)
			_, got := get(t, c.Handler(nil), "")
			require.Equal(t, len(want), len(got))
			require.True(t, want == got, "the expositions differ") // not require.Equal: megabytes of diff
		})
	}
}

// Handler serves other metrics beside the groups', sorted by name among
// them, as promhttp serves a registry holding both; a registry that also
// holds the Collector is refused, loudly.
func TestHandlerWithOtherMetrics(t *testing.T) {
	reg, held := everything(t)
	defer held.Done(nil)
	c := elbprom.NewCollector(reg)
	others := prometheus.NewRegistry()
	for _, name := range []string{"aaa_total", "elb_aaa_total", "elb_requests_totally", "zzz_total"} {
		ctr := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: "Other " + name + "."}, []string{"l"})
		ctr.WithLabelValues("x").Add(3)
		others.MustRegister(ctr)
	}
	both := prometheus.NewRegistry()
	require.NoError(t, both.Register(c))
	res, got := get(t, c.Handler(others), "")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Equal(t, text(t, prometheus.Gatherers{others, both}), got)

	require.NoError(t, others.Register(c))
	res, body := get(t, c.Handler(others), "")
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Contains(t, body, "elb_")
	assert.Contains(t, body, "must not hold the Collector")
}

// A Collector of no registry, or of an empty one, serves an empty body.
func TestHandlerNoGroups(t *testing.T) {
	for _, reg := range []*group.Registry{nil, {}} {
		res, body := get(t, elbprom.NewCollector(reg).Handler(nil), "")
		assert.Equal(t, http.StatusOK, res.StatusCode)
		assert.Empty(t, body)
	}
}
