package httpgroup_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
	"github.com/go-elb/elb/sticky"
)

// newProxy starts an httputil.ReverseProxy on 127.0.0.1 in front of g.
func newProxy(t *testing.T, tr *httpgroup.Transport) *httptest.Server {
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetXForwarded() },
		Transport: tr,
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	return srv
}

// Through a reverse proxy: the logical host arrives, and source-IP
// affinity takes the client's address from the request the proxy
// received (RemoteAddr).
func TestReverseProxy(t *testing.T) {
	g, bs := threeBackends(t, &sticky.Config{Mode: sticky.SourceIP}, nil)
	tr := httpgroup.NewTransport(g, testBase(t))
	proxy := newProxy(t, tr)
	client := &http.Client{Transport: testBase(t)}
	var first string
	for i := range 10 {
		req, _ := http.NewRequest(http.MethodGet, proxy.URL+"/x", nil)
		req.Host = "shop.example"
		resp, err := client.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
		if i == 0 {
			first = string(b)
		}
		assert.Equal(t, first, string(b), "the client (127.0.0.1) sticks")
	}
	for _, b := range bs {
		for _, h := range b.seenHosts() {
			assert.Equal(t, "shop.example", h)
		}
	}
	assert.Zero(t, inFlight(g))
}

// A 101 Switching Protocols response goes through httputil.ReverseProxy,
// which writes to the upgraded connection; the request stays in flight
// until the connection closes.
func TestUpgrade(t *testing.T) {
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "echo" {
			http.Error(w, "want Upgrade: echo", http.StatusBadRequest)
			return
		}
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
		brw.Flush()
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(line)
			brw.Flush()
		}
	})
	g := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: be.addr()})
	conn := askUpgrade(t, g, "echo")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	io.WriteString(conn, "hello\n")
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "hello\n", line)
	assert.EqualValues(t, 1, inFlight(g), "in flight while upgraded")
	conn.Close()
	require.Eventually(t, func() bool { return inFlight(g) == 0 }, 5*time.Second, 5*time.Millisecond)
	assert.Zero(t, g.Stats().Failures)
}

// TestUpgradeToAnotherProtocolIsRefused: a backend that answers an upgrade
// to websocket with a switch to h2c gets a 502 at the proxy, and its pick
// ends (httputil.ReverseProxy would drop such a response without closing
// its body).
func TestUpgradeToAnotherProtocolIsRefused(t *testing.T) {
	be := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
		brw.Flush()
		brw.ReadString('\n') // hold the connection until the client goes
	})
	g := newGroup(t, group.Config{}, group.Backend{ID: "a", Addr: be.addr()})
	conn := askUpgrade(t, g, "websocket")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
	require.Eventually(t, func() bool { return g.Stats().InFlight == 0 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, uint64(1), g.Stats().Failures)
}

// askUpgrade sends a request to upgrade to proto through a proxy over g,
// on a raw connection that the test then reads, closed at its end.
func askUpgrade(t *testing.T, g *group.Group, proto string) net.Conn {
	t.Helper()
	proxy := newProxy(t, httpgroup.NewTransport(g, testBase(t)))
	conn, err := net.Dial("tcp", proxy.Listener.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: orders\r\nConnection: Upgrade\r\nUpgrade: "+proto+"\r\n\r\n")
	return conn
}
