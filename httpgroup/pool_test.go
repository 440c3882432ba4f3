package httpgroup_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

// connCounter is a loopback HTTP server that counts the connections
// clients open to it.
type connCounter struct {
	*httptest.Server
	conns atomic.Int64
}

func newConnCounter(t *testing.T) *connCounter {
	t.Helper()
	c := &connCounter{}
	c.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	c.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	c.Start()
	t.Cleanup(c.Close)
	return c
}

// loadConns sends clients x requests GETs through tr, clients at once,
// and returns how many connections the backends saw opened.
func loadConns(t *testing.T, tr http.RoundTripper, backends []*connCounter, clients, requests int) int64 {
	t.Helper()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range clients {
		wg.Go(func() {
			for range requests {
				resp, err := client.Get("http://orders/")
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	require.Zero(t, failed.Load(), "failed requests")
	var n int64
	for _, b := range backends {
		n += b.conns.Load()
	}
	return n
}

// With a nil Base, the Transport keeps enough idle connections for a
// balancer: N clients sending M requests each over one, three or ten
// backends open about N connections however large M is, not one every few
// requests as net/http's default pool of 2 idle connections per host does
// (logged for comparison: 1,970 connections for 4,000 requests from 100
// clients to one backend).
func TestDefaultPoolKeepsConnections(t *testing.T) {
	requests := 40
	if raceEnabled {
		requests = 10
	}
	for _, nb := range []int{1, 3, 10} {
		for _, clients := range []int{1, 2, 3, 10, 100} {
			t.Run(fmt.Sprintf("backends=%d/clients=%d", nb, clients), func(t *testing.T) {
				var backends []*connCounter
				var members []group.Backend
				for range nb {
					b := newConnCounter(t)
					backends = append(backends, b)
					members = append(members, group.Backend{Addr: b.Listener.Addr().String()})
				}
				g := newGroup(t, group.Config{}, members...)
				tr := httpgroup.NewTransport(g, nil)
				defer tr.CloseIdleConnections()
				conns := loadConns(t, tr, backends, clients, requests)
				// About one connection per request in flight: clients.
				// Twice that, and two per backend, for the dials that
				// race a connection on its way back to the pool (net/http
				// returns it once the body is read, asynchronously).
				bound := int64(2*clients + 2*nb)
				t.Logf("%d requests: %d connections (bound %d)", clients*requests, conns, bound)
				assert.LessOrEqual(t, conns, bound)

				if clients > 2 {
					for _, b := range backends {
						b.conns.Store(0)
					}
					netHTTP := http.DefaultTransport.(*http.Transport).Clone()
					netHTTP.Proxy = nil
					defer netHTTP.CloseIdleConnections()
					was := loadConns(t, httpgroup.NewTransport(g, netHTTP), backends, clients, requests)
					t.Logf("with net/http's default pool: %d connections", was)
				}
			})
		}
	}
}
