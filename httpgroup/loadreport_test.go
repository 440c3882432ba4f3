package httpgroup_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
	"github.com/go-elb/elb/loadreport"
)

// A backend that reports high utilization in the endpoint-load-metrics
// header gets a smaller share under load_report_wrr: two real servers on
// loopback, each behind loadreport's middleware.
func TestLoadReportShares(t *testing.T) {
	start := func(util float64) (*httptest.Server, *int) {
		rep, err := loadreport.New(loadreport.Config{Utilization: func() float64 { return util }, RateWindow: 100 * time.Millisecond})
		require.NoError(t, err)
		n := new(int)
		srv := httptest.NewServer(rep.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*n++ // requests are sent one at a time
			io.WriteString(w, "ok")
		})))
		t.Cleanup(srv.Close)
		return srv, n
	}
	busy, busyHits := start(0.9)
	idle, idleHits := start(0.1)
	g := newGroup(t, group.Config{Name: "orca", Algorithm: `{"load_report_wrr": {"blackoutPeriod": "0s", "weightUpdatePeriod": "100ms"}}`},
		group.Backend{Addr: busy.Listener.Addr().String()}, group.Backend{Addr: idle.Listener.Addr().String()})
	client := &http.Client{Transport: httpgroup.NewTransport(g, testBase(t))}
	send := func(n int) {
		for range n {
			resp, err := client.Get("http://orca/")
			require.NoError(t, err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	// Reports with a qps need one full rate window; weights are due
	// every 100ms and recomputed by one pick in 32 after that.
	send(64)
	time.Sleep(150 * time.Millisecond)
	send(64)
	time.Sleep(150 * time.Millisecond)
	send(64)
	time.Sleep(50 * time.Millisecond)
	*busyHits, *idleHits = 0, 0
	send(400)
	t.Logf("busy %d, idle %d of 400", *busyHits, *idleHits)
	// Weights qps/utilization: 9x for the idle backend at equal qps, and
	// more as its qps grows.
	require.Less(t, *busyHits, 400/4, "the backend reporting 90%% utilization got %d of 400 requests", *busyHits)
}

// A malformed header is ignored: the request succeeds and no report is
// recorded.
func TestLoadReportMalformedIgnored(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(loadreport.Header, "TEXT cpu_utilization=NaN")
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	g := newGroup(t, group.Config{Name: "bad", Algorithm: "load_report_wrr"}, group.Backend{Addr: srv.Listener.Addr().String()})
	client := &http.Client{Transport: httpgroup.NewTransport(g, testBase(t))}
	resp, err := client.Get("http://bad/")
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
