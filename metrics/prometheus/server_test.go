package prometheus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	elbprom "github.com/go-elb/elb/metrics/prometheus"
)

// A real Prometheus server scrapes a running group's metrics, from a
// registry through promhttp (job elb, /metrics) and from the Collector's
// Handler (job handler, /handler, with Prometheus's own Accept and
// Accept-Encoding), and answers a query with the requests each backend
// was sent, the same through both, before and after a backend leaves.
func TestRealPrometheus(t *testing.T) {
	bin := tool(t, "prometheus")
	reg := &group.Registry{}
	g := newGroup(t, reg, group.Config{Name: "web"}, // weighted round robin: exact shares
		group.Backend{ID: "web-1", Addr: "10.0.0.1:80", Weight: group.Weight(1)},
		group.Backend{ID: "web-2", Addr: "10.0.0.2:80", Weight: group.Weight(2)},
		group.Backend{ID: "web-3", Addr: "10.0.0.3:80", Weight: group.Weight(3)})
	drive(t, g, 600, nil)
	want := map[string]float64{"web-1": 100, "web-2": 200, "web-3": 300}

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(pedantic(t, reg), promhttp.HandlerOpts{}))
	mux.Handle("/handler", elbprom.NewCollector(reg).Handler(nil))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	target := srv.Listener.Addr().String() // 127.0.0.1:port

	api := startPrometheus(t, bin, target)
	ready := time.Now()
	jobs := []string{"elb", "handler"}
	for _, job := range jobs {
		poll(t, api, `elb_requests_total{job="`+job+`"}`, want)
	}
	t.Logf("Prometheus answered elb_requests_total %v, %v after it was ready", want, time.Since(ready).Round(100*time.Millisecond))
	for _, job := range jobs {
		poll(t, api, `elb_group_requests_total{job="`+job+`"}`, map[string]float64{"": 600})
	}

	// web-1 leaves (nothing in flight: at once) and traffic goes on: its
	// series goes stale, and the group's total goes on growing, with no
	// counter reset in Prometheus's eyes.
	require.NoError(t, g.Remove("web-1"))
	drive(t, g, 500, nil)
	for _, job := range jobs {
		poll(t, api, `elb_requests_total{job="`+job+`"}`, map[string]float64{"web-2": 400, "web-3": 600})
		poll(t, api, `elb_group_requests_total{job="`+job+`"}`, map[string]float64{"": 1100})
		poll(t, api, `resets(elb_group_requests_total{job="`+job+`"}[5m])`, map[string]float64{"": 0})
	}
}

// poll queries Prometheus until it answers want, for at most 30 s (a
// scrape every second; new targets are handed to the scrapers every 5 s).
func poll(t *testing.T, api, q string, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := query(t, api, q)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			require.Equal(t, want, got, "Prometheus's answer to %s, by backend, after 30 s", q)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startPrometheus runs bin scraping target's /metrics (job elb) and
// /handler (job handler) every second, with a config
// and storage of its own, on a free 127.0.0.1 port, and returns its base
// URL once it is ready. It tries three ports, in case another process
// takes the free one first.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: elb
    static_configs:
      - targets: [%[1]q]
  - job_name: handler
    metrics_path: /handler
    static_configs:
      - targets: [%[1]q]
`, target), 0o600))
	var lastErr error
	for attempt := range 3 {
		addr := freePort(t)
		base := "http://" + addr
		ctx, cancel := context.WithCancel(context.Background())
		log, err := os.Create(filepath.Join(dir, fmt.Sprint("prometheus", attempt, ".log"))) // a file: the process writes it directly
		require.NoError(t, err)
		t.Cleanup(func() { log.Close() })
		logged := func() string { b, _ := os.ReadFile(log.Name()); return string(b) }
		cmd := exec.CommandContext(ctx, bin,
			"--config.file="+cfg,
			"--storage.tsdb.path="+filepath.Join(dir, fmt.Sprint("data", attempt)),
			"--web.listen-address="+addr,
		)
		cmd.Stdout, cmd.Stderr = log, log
		require.NoError(t, cmd.Start())
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		stop := func() {
			cancel()
			<-exited
		}
		if err := awaitReady(base, exited, 30*time.Second); err != nil {
			stop()
			lastErr = fmt.Errorf("%w; its log:\n%s", err, logged())
			continue
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				t.Logf("prometheus log:\n%s", logged())
			}
		})
		return base
	}
	t.Fatalf("prometheus did not start: %v", lastErr)
	return ""
}

// awaitReady polls base's /-/ready until it answers 200, the process
// exits, or timeout passes.
func awaitReady(base string, exited <-chan error, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("prometheus exited before it was ready: %v", err)
		default:
		}
		if resp, err := client.Get(base + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("prometheus not ready after %v", timeout)
}

// query asks Prometheus's HTTP API for an instant vector and returns its
// values by the backend label.
func query(t *testing.T, base, q string) map[string]float64 {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status)
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		s, ok := r.Value[1].(string)
		require.True(t, ok, "value %v", r.Value)
		v, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err)
		out[r.Metric["backend"]] = v
	}
	return out
}

// freePort returns a 127.0.0.1 address with a port free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}
