package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
)

// prompt is how long a probe cut off by its context may take at most.
const prompt = 2 * time.Second

// probeCtx returns a context for one probe.
func probeCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// listen returns a listener on 127.0.0.1 that accepts (and closes)
// connections until the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// deadAddr returns a 127.0.0.1 address on which nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	n, err := strconv.Atoi(p)
	require.NoError(t, err)
	return n
}

func TestTCPProbe(t *testing.T) {
	ln := listen(t)
	addr := ln.Addr().String()
	p := TCPProbe()
	require.NoError(t, p.Validate())
	require.NoError(t, p.Probe(probeCtx(t, prompt), addr))

	require.NoError(t, ln.Close())
	err := p.Probe(probeCtx(t, prompt), addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), addr)
	assert.Contains(t, err.Error(), "refused")
}

func TestTCPProbePort(t *testing.T) {
	live := listen(t).Addr().String()
	dead := deadAddr(t)
	p := &TCPCheck{Port: portOf(t, live)}
	require.NoError(t, p.Probe(probeCtx(t, prompt), dead), "probes the health port, not the backend's")

	p = &TCPCheck{Port: portOf(t, dead)}
	require.Error(t, p.Probe(probeCtx(t, prompt), live))

	require.Error(t, p.Probe(probeCtx(t, prompt), "no-port"), "an address without a port")
}

func TestTCPProbeCanceled(t *testing.T) {
	addr := listen(t).Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := TCPProbe().Probe(ctx, addr)
	require.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), prompt)
}

func TestPortValidation(t *testing.T) {
	for _, port := range []int{-1, 65536, 70000} {
		for _, p := range []interface{ Validate() error }{
			&TCPCheck{Port: port}, &HTTPCheck{Port: port}, &GRPCCheck{Port: port},
		} {
			err := p.Validate()
			requireConfigError(t, err, "Port")
			// Probe returns the same error rather than probing.
			assert.Equal(t, err, p.(Prober).Probe(context.Background(), "127.0.0.1:1"))
		}
	}
	for _, port := range []int{0, 1, 8080, 65535} {
		assert.NoError(t, (&TCPCheck{Port: port}).Validate())
		assert.NoError(t, (&HTTPCheck{Port: port}).Validate())
		assert.NoError(t, (&GRPCCheck{Port: port}).Validate())
	}
}

func requireConfigError(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, elb.ErrInvalidConfig)
	var ce *elb.ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, field, ce.Field)
}

func TestWithPort(t *testing.T) {
	for _, tc := range []struct {
		addr string
		port int
		want string
	}{
		{"127.0.0.1:80", 0, "127.0.0.1:80"},
		{"127.0.0.1:80", 8081, "127.0.0.1:8081"},
		{"[::1]:80", 8081, "[::1]:8081"},
		{"[fe80::1%eth0]:80", 9, "[fe80::1%eth0]:9"},
		{"backend.internal:443", 8443, "backend.internal:8443"},
	} {
		got, err := withPort(tc.addr, tc.port)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
	_, err := withPort("::1", 80)
	assert.Error(t, err)
}

// seen is what a test HTTP server saw of the requests it got.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *seen) add(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
}

func (s *seen) all() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

// httpServer serves code for every path but /redirected (always 200),
// recording the requests.
func httpServer(t *testing.T, code int) (*httptest.Server, *seen) {
	t.Helper()
	s := new(seen)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.add(r)
		if r.URL.Path == "/redirected" {
			return
		}
		if code/100 == 3 {
			http.Redirect(w, r, "/redirected", code)
			return
		}
		w.WriteHeader(code)
		w.Write([]byte("body"))
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

func TestHTTPProbe(t *testing.T) {
	srv, s := httpServer(t, http.StatusOK)
	p := HTTPProbe("/healthz")
	require.NoError(t, p.Validate())
	require.NoError(t, p.Probe(probeCtx(t, prompt), srv.Listener.Addr().String()))
	reqs := s.all()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Equal(t, "/healthz", r.RequestURI)
	assert.Equal(t, srv.Listener.Addr().String(), r.Host)
	assert.True(t, r.Close, "keep-alives are off: the request asks to close the connection")
	assert.Equal(t, userAgent, r.UserAgent())

	// The zero value probes "/".
	require.NoError(t, new(HTTPCheck).Probe(probeCtx(t, prompt), srv.Listener.Addr().String()))
	assert.Equal(t, "/", s.all()[1].RequestURI)
}

func TestHTTPProbeUnexpectedStatus(t *testing.T) {
	srv, _ := httpServer(t, http.StatusServiceUnavailable)
	addr := srv.Listener.Addr().String()
	err := HTTPProbe("/").Probe(probeCtx(t, prompt), addr)
	require.ErrorIs(t, err, ErrUnexpectedStatus)
	assert.EqualError(t, err, "unexpected status 503 (want 200)")

	err = (&HTTPCheck{ExpectedCodes: "200-399"}).Probe(probeCtx(t, prompt), addr)
	require.ErrorIs(t, err, ErrUnexpectedStatus)
	assert.EqualError(t, err, "unexpected status 503 (want 200-399)")

	require.NoError(t, (&HTTPCheck{ExpectedCodes: "200, 500-503"}).Probe(probeCtx(t, prompt), addr))
}

func TestHTTPProbeNoRedirect(t *testing.T) {
	srv, s := httpServer(t, http.StatusFound)
	addr := srv.Listener.Addr().String()
	require.NoError(t, (&HTTPCheck{ExpectedCodes: "200-399"}).Probe(probeCtx(t, prompt), addr))
	err := HTTPProbe("/").Probe(probeCtx(t, prompt), addr)
	require.ErrorIs(t, err, ErrUnexpectedStatus)
	assert.Contains(t, err.Error(), "302")
	for _, r := range s.all() {
		assert.NotEqual(t, "/redirected", r.URL.Path, "the redirect is not followed")
	}
	assert.Len(t, s.all(), 2)
}

func TestHTTPProbeRequest(t *testing.T) {
	srv, s := httpServer(t, http.StatusOK)
	addr := srv.Listener.Addr().String()
	for _, c := range []*HTTPCheck{
		{Method: "POST", Path: "/health/check?deep=1&x=%20y", Host: "api.example.com"},
		{Method: "HEAD", Path: "/h", Host: "api.example.com:8080"},
		{Method: "GET", Path: "/a%2Fb"},
	} {
		require.NoError(t, c.Probe(probeCtx(t, prompt), addr))
		reqs := s.all()
		r := reqs[len(reqs)-1]
		assert.Equal(t, c.Method, r.Method)
		assert.Equal(t, c.Path, r.RequestURI)
		if c.Host != "" {
			assert.Equal(t, c.Host, r.Host)
		} else {
			assert.Equal(t, addr, r.Host)
		}
		if c.Method == "POST" {
			assert.Equal(t, int64(0), r.ContentLength)
		}
	}
}

func TestHTTPProbePort(t *testing.T) {
	srv, _ := httpServer(t, http.StatusOK)
	live := srv.Listener.Addr().String()
	dead := deadAddr(t)
	require.NoError(t, (&HTTPCheck{Port: portOf(t, live)}).Probe(probeCtx(t, prompt), dead))
	err := (&HTTPCheck{Port: portOf(t, dead)}).Probe(probeCtx(t, prompt), live)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused")
}

func TestHTTPProbeTLS(t *testing.T) {
	var host string
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		host = r.Host
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	roots := &tls.Config{RootCAs: pool}

	require.NoError(t, (&HTTPCheck{Scheme: "https", TLSConfig: roots}).Probe(probeCtx(t, prompt), addr))
	// The TLS server name is Host's host; httptest's certificate is for
	// example.com (and 127.0.0.1).
	require.NoError(t, (&HTTPCheck{Scheme: "https", Host: "example.com:443", TLSConfig: roots}).Probe(probeCtx(t, prompt), addr))
	mu.Lock()
	assert.Equal(t, "example.com:443", host)
	mu.Unlock()
	assert.Empty(t, roots.ServerName, "the caller's config is not modified")

	err := (&HTTPCheck{Scheme: "https", Host: "other.test", TLSConfig: roots}).Probe(probeCtx(t, prompt), addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	// nil TLSConfig: the system roots, which do not know httptest's CA.
	err = (&HTTPCheck{Scheme: "https"}).Probe(probeCtx(t, prompt), addr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	// The server's own client transport.
	require.NoError(t, (&HTTPCheck{Scheme: "https", Transport: srv.Client().Transport}).Probe(probeCtx(t, prompt), addr))

	// Plain HTTP to a TLS server.
	err = HTTPProbe("/").Probe(probeCtx(t, prompt), addr)
	require.ErrorIs(t, err, ErrUnexpectedStatus)
	assert.Contains(t, err.Error(), "400")
}

func TestHTTPProbeHangs(t *testing.T) {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-done:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	addr := srv.Listener.Addr().String()

	for _, path := range []string{"/header", "/body"} {
		start := time.Now()
		err := HTTPProbe(path).Probe(probeCtx(t, 100*time.Millisecond), addr)
		require.Error(t, err, path)
		assert.ErrorIs(t, err, context.DeadlineExceeded, path)
		assert.Less(t, time.Since(start), prompt, path)
	}
}

func TestHTTPProbeLargeBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("x", 1<<10))
		for range 1 << 10 { // 1 MiB, of which the probe reads 4 KiB
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	require.NoError(t, HTTPProbe("/").Probe(probeCtx(t, prompt), srv.Listener.Addr().String()))
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestHTTPProbeTransport(t *testing.T) {
	srv, _ := httpServer(t, http.StatusOK)
	var calls int
	p := &HTTPCheck{Transport: roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return http.DefaultTransport.RoundTrip(r)
	})}
	require.NoError(t, p.Probe(probeCtx(t, prompt), srv.Listener.Addr().String()))
	assert.Equal(t, 1, calls)

	// The check's own transport: no proxy, no keep-alives, shared.
	p = HTTPProbe("/")
	require.NoError(t, p.Probe(probeCtx(t, prompt), srv.Listener.Addr().String()))
	tr := p.compiled.rt.(*http.Transport)
	assert.Nil(t, tr.Proxy)
	assert.True(t, tr.DisableKeepAlives)
	require.NoError(t, p.Probe(probeCtx(t, prompt), srv.Listener.Addr().String()))
	assert.Same(t, tr, p.compiled.rt)
}

func TestHTTPCheckValidate(t *testing.T) {
	for _, tc := range []struct {
		check *HTTPCheck
		field string // "" if valid
	}{
		{&HTTPCheck{}, ""},
		{&HTTPCheck{Scheme: "http", Method: "GET", Path: "/", ExpectedCodes: "200"}, ""},
		{&HTTPCheck{Scheme: "https", Method: "HEAD", Path: "/a/b?c=d", Host: "example.com:8443", Port: 8443}, ""},
		{&HTTPCheck{Method: "POST", ExpectedCodes: " 200 , 204 "}, ""},
		{&HTTPCheck{Scheme: "ftp"}, "Scheme"},
		{&HTTPCheck{Scheme: "HTTP"}, "Scheme"},
		{&HTTPCheck{Method: "DELETE"}, "Method"},
		{&HTTPCheck{Method: "get"}, "Method"},
		{&HTTPCheck{Path: "healthz"}, "Path"},
		{&HTTPCheck{Path: "http://x/"}, "Path"},
		{&HTTPCheck{Path: "/a\nb"}, "Path"},
		{&HTTPCheck{Host: "a b"}, "Host"},
		{&HTTPCheck{Host: "a\r\nX: y"}, "Host"},
		{&HTTPCheck{Port: 70000}, "Port"},
		{&HTTPCheck{ExpectedCodes: "abc"}, "ExpectedCodes"},
		{&HTTPCheck{ExpectedCodes: "600"}, "ExpectedCodes"},
		{&HTTPCheck{ExpectedCodes: " "}, "ExpectedCodes"},
		{&HTTPCheck{TLSConfig: &tls.Config{}, Transport: http.DefaultTransport}, "TLSConfig"},
	} {
		err := tc.check.Validate()
		if tc.field == "" {
			assert.NoError(t, err, "%+v", tc.check)
			continue
		}
		requireConfigError(t, err, tc.field)
		assert.Contains(t, err.Error(), "elb: "+tc.field)
	}
}

func TestParseCodes(t *testing.T) {
	// Codes and ranges separated by commas; spaces around codes are
	// ignored.
	for _, tc := range []struct {
		list       string
		yes, no    []int
		checkCodes bool
	}{
		{"200", []int{200}, []int{199, 201, 204, 302}, true},
		{"200,204", []int{200, 204}, []int{201, 203, 205}, true},
		{"200-399", []int{200, 204, 302, 399}, []int{199, 400, 503}, true},
		{"200,300-399", []int{200, 300, 302, 399}, []int{201, 299, 400}, true},
		{" 200 , 204 ", []int{200, 204}, []int{201}, true},
		{"200 - 204", []int{200, 202, 204}, []int{205}, true},
		{"100-599", []int{100, 599}, []int{99, 600, 0, -1, 1000}, true},
		{"204,200,200-200", []int{200, 204}, []int{201}, true},
	} {
		s, err := parseCodes(tc.list)
		require.NoError(t, err, tc.list)
		for _, c := range tc.yes {
			assert.True(t, s.has(c), "%q has %d", tc.list, c)
		}
		for _, c := range tc.no {
			assert.False(t, s.has(c), "%q has not %d", tc.list, c)
		}
	}
	for _, list := range []string{
		"", " ", "abc", "99", "600", "1000", "0200", "+20", "2e2", "300-200", "200-", "-200",
		",", "200,", ",200", "200,,204", "200-300-400", "200;204", "2 00",
	} {
		_, err := parseCodes(list)
		assert.Error(t, err, "%q", list)
		if list == "" {
			continue // ExpectedCodes "" means "200"
		}
		err = (&HTTPCheck{ExpectedCodes: list}).Validate()
		requireConfigError(t, err, "ExpectedCodes")
		// Probe returns the ConfigError too.
		assert.Equal(t, err, (&HTTPCheck{ExpectedCodes: list}).Probe(context.Background(), "127.0.0.1:1"))
	}
}

func TestProbeConfigErrorNoPanic(t *testing.T) {
	var ce *elb.ConfigError
	err := (&HTTPCheck{Method: "DELETE"}).Probe(context.Background(), "127.0.0.1:1")
	require.True(t, errors.As(err, &ce))
	assert.Equal(t, "Method", ce.Field)
	err = (&GRPCCheck{Service: "\xff"}).Probe(context.Background(), "127.0.0.1:1")
	requireConfigError(t, err, "Service")
}
