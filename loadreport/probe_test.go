package loadreport_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
	"github.com/go-elb/elb/internal/fakeclock"
	"github.com/go-elb/elb/loadreport"
)

// Servers wrap their handler in a ProbeHandler, which answers probes at
// /elb/load; clients select the prequal algorithm, which probes there.
func ExampleProbeHandler() {
	var probes loadreport.ProbeHandler // one per server process
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	srv := httptest.NewServer(probes.Wrap(app))
	defer srv.Close()

	g, err := group.New(group.Config{Name: "app", Algorithm: `{"prequal": {"maxAge": "500ms"}}`})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	if err := g.Add(group.Backend{Addr: strings.TrimPrefix(srv.URL, "http://")}); err != nil {
		panic(err)
	}
	tr := httpgroup.NewTransport(g, nil)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://app/")
	if err != nil {
		panic(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	inFlight, latency := probes.Load()
	fmt.Println(string(b), inFlight, latency > 0)

	probe, _ := http.Get(srv.URL + loadreport.ProbePath) // what a probe reads
	b, _ = io.ReadAll(probe.Body)
	probe.Body.Close()
	fmt.Println(strings.HasPrefix(string(b), `{"inFlight":0,"latencyMs":`))
	// Output:
	// hello 0 true
	// true
}

// The handler counts requests in flight and answers with the median
// latency of those that finished within Window; the prequal algorithm's
// HTTP prober reads the answer.
func TestProbeHandlerAnswers(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := &loadreport.ProbeHandler{Now: clock.Now}
	release := make(chan struct{})
	entered := make(chan struct{})
	srv := httptest.NewServer(h.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hold":
			entered <- struct{}{}
			<-release
		case "/work":
			d, _ := time.ParseDuration(r.URL.Query().Get("d"))
			clock.Advance(d)
		}
	})))
	defer srv.Close()
	probe := balancer.HTTPProbe("", nil)
	ep := balancer.Endpoint{Addr: strings.TrimPrefix(srv.URL, "http://")}
	ask := func() balancer.ProbeResult {
		t.Helper()
		r, err := probe(context.Background(), ep)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := ask(); r != (balancer.ProbeResult{}) {
		t.Fatalf("idle server: %+v", r)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { http.Get(srv.URL + "/hold") })
		<-entered
	}
	if r := ask(); r.InFlight != 3 || r.Latency != 0 {
		t.Fatalf("3 held: %+v", r)
	}
	close(release)
	wg.Wait()
	for _, d := range []string{"10ms", "30ms", "20ms", "1ms"} { // with the 3 held (0s): 0 0 0 1 10 20 30
		if _, err := http.Get(srv.URL + "/work?d=" + d); err != nil {
			t.Fatal(err)
		}
	}
	if r := ask(); r.InFlight != 0 || r.Latency != time.Millisecond {
		t.Fatalf("after 7 requests: %+v, want the median 1ms", r)
	}
	clock.Advance(loadreport.DefaultProbeWindow - 50*time.Millisecond)
	if r := ask(); r.Latency != 20*time.Millisecond {
		t.Fatalf("the first finished have left the window: %+v, want the median of 20ms and 30ms's ends", r)
	}
	clock.Advance(time.Second)
	if r := ask(); r.Latency != 0 {
		t.Fatalf("nothing within the window: %+v", r)
	}
	// Methods, HEAD, the body's form.
	for method, want := range map[string]int{"GET": 200, "HEAD": 200, "POST": 405, "DELETE": 405} {
		req, _ := http.NewRequest(method, srv.URL+loadreport.ProbePath, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want || (method == "HEAD" && len(body) != 0) {
			t.Errorf("%s: %d %q", method, resp.StatusCode, body)
		}
		if method == "GET" && (string(body) != `{"inFlight":0}`+"\n" || resp.Header.Get("Content-Type") != "application/json") {
			t.Errorf("GET: %q %v", body, resp.Header)
		}
	}
	// Another path; the default prober then fails (404 from the app).
	h2 := &loadreport.ProbeHandler{Path: "/load"}
	srv2 := httptest.NewServer(h2.Wrap(http.NotFoundHandler()))
	defer srv2.Close()
	ep2 := balancer.Endpoint{Addr: strings.TrimPrefix(srv2.URL, "http://")}
	if _, err := balancer.HTTPProbe("/load", nil)(context.Background(), ep2); err != nil {
		t.Fatal(err)
	}
	if _, err := probe(context.Background(), ep2); err == nil || !strings.Contains(err.Error(), "status 404") {
		t.Fatalf("default path on a server answering /load: %v", err)
	}
}

// Latency in JSON keeps sub-millisecond precision.
func TestProbeHandlerLatencyPrecision(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := &loadreport.ProbeHandler{Now: clock.Now}
	srv := httptest.NewServer(h.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { clock.Advance(1500 * time.Microsecond) })))
	defer srv.Close()
	http.Get(srv.URL + "/x")
	r, err := balancer.HTTPProbe("", nil)(context.Background(), balancer.Endpoint{Addr: strings.TrimPrefix(srv.URL, "http://")})
	if err != nil || r.Latency != 1500*time.Microsecond {
		t.Fatalf("%+v, %v", r, err)
	}
}

// On loopback, with real servers answering probes: one backend of four is
// 20 times slower, and prequal sends it a small share, at most half a fair
// one (12.5%). least_request's share, measured in the same run, is logged
// (one closed-loop client is least_request's best case: its own in-flight
// counts are the servers'). Measured: prequal 6-9%, least_request 6%.
func TestPrequalLoopbackSlowBackendGetsSmallShare(t *testing.T) {
	const backends, slow, workers, perWorker = 4, 2, 8, 40
	var eps []balancer.Endpoint
	probes := new(atomic.Int64)
	for i := range backends {
		d := time.Millisecond
		if i == slow {
			d = 20 * time.Millisecond
		}
		h := &loadreport.ProbeHandler{}
		app := h.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(d) }))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == loadreport.ProbePath {
				probes.Add(1)
			}
			app.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		eps = append(eps, balancer.Endpoint{ID: fmt.Sprint(i), Addr: strings.TrimPrefix(srv.URL, "http://"), Weight: 1, Load: new(balancer.Load)})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	t.Cleanup(client.CloseIdleConnections)
	run := func(alg balancer.Algorithm) []int {
		p := alg.Build(eps)
		counts := make([]int, backends)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for range perWorker {
					i := p.Pick(balancer.Request{})
					eps[i].Load.AddInFlight(1)
					resp, err := client.Get("http://" + eps[i].Addr + "/work")
					eps[i].Load.AddInFlight(-1)
					if err != nil {
						t.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					mu.Lock()
					counts[i]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return counts
	}
	lr := run(balancer.LeastRequest{})
	pq := run(balancer.Prequal{})
	total := workers * perWorker
	t.Logf("slow backend's share: prequal %d/%d %v, least_request %d/%d %v; %d probes", pq[slow], total, pq, lr[slow], total, lr, probes.Load())
	if probes.Load() == 0 {
		t.Fatal("no probe reached the servers")
	}
	if pq[slow]*8 > total {
		t.Fatalf("prequal sent the slow backend %d of %d requests (%v), over 12.5%%", pq[slow], total, pq)
	}
}

// The estimate scales each sample by the in-flight count now against the
// one it arrived at: 10ms requests that arrived alone predict 40ms with 3
// in flight.
func TestProbeHandlerEstimateFollowsInFlight(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	h := &loadreport.ProbeHandler{Now: clock.Now}
	release, entered := make(chan struct{}), make(chan struct{})
	app := h.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-release
			return
		}
		clock.Advance(10 * time.Millisecond)
	}))
	for range 2 {
		app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/work", nil))
	}
	if n, lat := h.Load(); n != 0 || lat != 10*time.Millisecond {
		t.Fatalf("idle: %d, %v", n, lat)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() { app.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/hold", nil)) })
		<-entered
	}
	if n, lat := h.Load(); n != 3 || lat != 40*time.Millisecond {
		t.Fatalf("3 in flight: %d, %v; want 3, 40ms", n, lat)
	}
	close(release)
	wg.Wait()
}

// A group under prequal leaves no goroutine behind once it is closed and
// its servers are gone: the probe goroutines end by themselves, and the
// default prober's connections close with the servers.
func TestPrequalGroupCloseLeavesNoGoroutine(t *testing.T) {
	base := runtime.NumGoroutine()
	var srvs []*httptest.Server
	g, err := group.New(group.Config{Name: "app", Algorithm: balancer.NamePrequal})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		var h loadreport.ProbeHandler
		srv := httptest.NewServer(h.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
		srvs = append(srvs, srv)
		if err := g.Add(group.Backend{Addr: strings.TrimPrefix(srv.URL, "http://")}); err != nil {
			t.Fatal(err)
		}
	}
	tr := httpgroup.NewTransport(g, nil)
	client := &http.Client{Transport: tr}
	for i := range 200 {
		resp, err := client.Get("http://app/")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i == 100 { // a rebuild: a new picker, the old one dropped
			g.Remove(g.Backends()[0].ID)
		}
	}
	if err := g.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	tr.CloseIdleConnections()
	for _, s := range srvs {
		s.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		t.Fatalf("%d goroutines after Close, %d before", n, base)
	}
}
