package httpgroup_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/httpgroup"
)

// TestFirstRequestWaitsForHealthChecks is the first hour of an HTTP client
// with health checks: group.New with the default health config, three
// healthy loopback backends, and a plain GET right after Add. The first
// request succeeds, with no polling by the user: its Pick waits for the
// first probes (run at once; a cold start admits on one pass). It logs the
// time from group.New to the first response (go test -run
// TestFirstRequestWaitsForHealthChecks -v ./httpgroup/), the figure
// in README's Health section.
func TestFirstRequestWaitsForHealthChecks(t *testing.T) {
	var bs []group.Backend
	for i := range 3 {
		b := newBackend(t, fmt.Sprint("web-", i+1), nil)
		bs = append(bs, group.Backend{ID: b.id, Addr: b.addr()})
	}
	start := time.Now()
	g, err := group.New(group.Config{Name: "web", Health: &health.Config{Probe: health.HTTPProbe("/healthz")}})
	require.NoError(t, err)
	tr := httpgroup.NewTransport(g, nil)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, g.Close(ctx))
		tr.CloseIdleConnections()
	})
	require.NoError(t, g.Add(bs...))

	client := &http.Client{Transport: tr, Timeout: 10 * time.Second} // the bound of the wait
	resp, err := client.Get("http://web/")
	require.NoError(t, err, "the first request")
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, []string{"web-1", "web-2", "web-3"}, string(body))
	t.Logf("time to first success: %v (group.New, Add of 3 backends, first GET through the Transport)", elapsed.Round(100*time.Microsecond))
	assert.Zero(t, g.Stats().NoBackend, "no pick failed")
}
