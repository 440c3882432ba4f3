package httpgroup_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
)

// backend is a test HTTP server on 127.0.0.1 that names itself in the
// X-Backend header and the body, and counts what it serves.
type backend struct {
	*httptest.Server
	id    string
	hits  atomic.Int64
	mu    sync.Mutex
	hosts []string // Host headers received
}

// newBackend starts a backend; then, if set, serves each request after it
// is counted (and may write the response itself).
func newBackend(t testing.TB, id string, then func(w http.ResponseWriter, r *http.Request)) *backend {
	t.Helper()
	b := &backend{id: id}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		b.hosts = append(b.hosts, r.Host)
		b.mu.Unlock()
		w.Header().Set("X-Backend", b.id)
		if then != nil {
			then(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, b.id)
	}))
	t.Cleanup(b.Close)
	return b
}

// addr is the backend's "127.0.0.1:port".
func (b *backend) addr() string { return b.Listener.Addr().String() }

func (b *backend) seenHosts() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.hosts)
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// newGroup makes a group of the given backends, closed at the end of the test.
func newGroup(t testing.TB, cfg group.Config, backends ...group.Backend) *group.Group {
	t.Helper()
	g, err := group.New(cfg)
	require.NoError(t, err)
	if len(backends) > 0 {
		require.NoError(t, g.Add(backends...))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
	})
	return g
}

// testBase is the base transport of the tests: net/http's defaults, no
// proxy, and enough idle connections per backend for concurrent tests.
func testBase(t testing.TB) *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.MaxIdleConnsPerHost = 64
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// recorder is a base RoundTripper that records the host of every URL it
// is asked to send to.
type recorder struct {
	base  http.RoundTripper
	mu    sync.Mutex
	hosts []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.hosts = append(r.hosts, req.URL.Host)
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) dialled() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.hosts)
}

// get sends a GET for url through rt and returns the status, the backend
// that answered (X-Backend) and the response.
func get(t testing.TB, rt http.RoundTripper, url string, mod func(*http.Request)) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	if mod != nil {
		mod(req)
	}
	resp, err := rt.RoundTrip(req)
	require.NoError(t, err)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp, resp.Header.Get("X-Backend")
}

// inFlight returns the group's requests in flight.
func inFlight(g *group.Group) int64 { return g.Stats().InFlight }

// waitGoroutines waits for the goroutine count to fall to at most n.
func waitGoroutines(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines, want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counts returns each backend's hits, by ID.
func counts(bs ...*backend) map[string]int64 {
	m := make(map[string]int64, len(bs))
	for _, b := range bs {
		m[b.id] = b.hits.Load()
	}
	return m
}

func countGoroutines() int { return runtime.NumGoroutine() }

// inOrder is the algorithm of the tests that need to know which backend
// a pick gets: a rotation that starts at the first endpoint, in the order
// they were added.
const inOrder = "httpgroup_test_in_order"

func init() {
	if err := balancer.Register(inOrder, inOrderAlgorithm{}); err != nil {
		panic(err)
	}
}

type inOrderAlgorithm struct{}

func (inOrderAlgorithm) Build(eps []balancer.Endpoint) balancer.Picker {
	return &inOrderPicker{n: uint64(len(eps))}
}

type inOrderPicker struct {
	n    uint64
	next atomic.Uint64
}

func (p *inOrderPicker) Pick(balancer.Request) int { return int((p.next.Add(1) - 1) % p.n) }
