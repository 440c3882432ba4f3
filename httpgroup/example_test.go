package httpgroup_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
	"github.com/go-elb/elb/sticky"
)

// startBackends starts n HTTP servers on 127.0.0.1 that answer with their
// name, and returns them as group members named web-1, web-2, ...
func startBackends(n int, weight func(i int) int) ([]group.Backend, func()) {
	var bs []group.Backend
	var servers []*httptest.Server
	for i := range n {
		name := fmt.Sprint("web-", i+1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s (Host: %s)", name, r.Host)
		}))
		servers = append(servers, srv)
		bs = append(bs, group.Backend{ID: name, Addr: srv.Listener.Addr().String(), Weight: group.Weight(weight(i))})
	}
	return bs, func() {
		for _, s := range servers {
			s.Close()
		}
	}
}

// An http.Client that calls a service by a logical name: every request to
// "http://orders/..." goes to a backend of the group, by weight.
func ExampleTransport() {
	backends, stop := startBackends(3, func(i int) int { return 3 - i }) // weights 3, 2, 1
	defer stop()
	g, err := group.New(group.Config{Name: "orders", Algorithm: "weighted_round_robin"})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	if err := g.Add(backends...); err != nil {
		panic(err)
	}

	tr := httpgroup.NewTransport(g, nil)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	served := map[string]int{}
	for range 60 {
		resp, err := client.Get("http://orders/api/orders/42")
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served[string(b)]++
	}
	fmt.Println(served)
	// Output:
	// map[web-1 (Host: orders):30 web-2 (Host: orders):20 web-3 (Host: orders):10]
}

// A load balancer: httputil.ReverseProxy with a Transport. The backends
// see the Host the client asked for.
func ExampleTransport_reverseProxy() {
	backends, stop := startBackends(2, func(int) int { return 1 })
	defer stop()
	g, err := group.New(group.Config{Name: "shop", Algorithm: "least_request"})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	if err := g.Add(backends...); err != nil {
		panic(err)
	}

	tr := httpgroup.NewTransport(g, nil)
	defer tr.CloseIdleConnections()
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetXForwarded() },
		Transport: tr,
	})
	defer proxy.Close()

	req, _ := http.NewRequest(http.MethodGet, proxy.URL+"/cart", nil)
	req.Host = "shop.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, bytes.Contains(b, []byte("(Host: shop.example)")))
	// Output:
	// 200 OK true
}

// Sticky sessions with a load-balancer cookie: the first response sets
// it, and a client that sends it back stays on its backend.
func ExampleTransport_stickyCookie() {
	backends, stop := startBackends(3, func(int) int { return 1 })
	defer stop()
	g, err := group.New(group.Config{
		Name:   "carts",
		Sticky: &sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{bytes.Repeat([]byte("k"), sticky.MinKeyLen)}},
	})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	if err := g.Add(backends...); err != nil {
		panic(err)
	}

	tr := httpgroup.NewTransport(g, nil)
	defer tr.CloseIdleConnections()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Transport: tr, Jar: jar}
	served := map[string]bool{}
	for range 10 {
		resp, err := client.Get("http://carts/")
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		served[string(b)] = true
	}
	st := g.Stats().Sticky
	fmt.Printf("backends used: %d; hits %d, misses %d\n", len(served), st.Hits, st.Misses)
	// Output:
	// backends used: 1; hits 9, misses 1
}

// A backend that is down costs no request: idempotent requests, and any
// request that could not connect, are retried on another backend.
func ExampleTransport_retries() {
	backends, stop := startBackends(2, func(int) int { return 1 })
	defer stop()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	down := ln.Addr().String()
	ln.Close() // nothing listens there any more
	g, err := group.New(group.Config{Name: "orders", Algorithm: "round_robin"})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	if err := g.Add(append(backends, group.Backend{ID: "down", Addr: down})...); err != nil {
		panic(err)
	}

	tr := httpgroup.NewTransport(g, nil) // MaxAttempts 3
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	ok := 0
	for range 30 {
		resp, err := client.Post("http://orders/", "text/plain", bytes.NewReader([]byte("order"))) // GetBody set
		if err != nil {
			fmt.Println(err)
			continue
		}
		resp.Body.Close()
		ok++
	}
	for _, b := range g.Stats().Backends {
		if b.ID == "down" {
			fmt.Printf("%d of 30 succeeded; the down backend failed: %v\n", ok, b.Failures > 0)
		}
	}
	// Output:
	// 30 of 30 succeeded; the down backend failed: true
}
