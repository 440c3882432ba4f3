// Command quickstart-http is the day-one HTTP program: an http.Client that
// balances over three local backends with health checks and sticky sessions,
// written from the README alone.
//
//	go run ./examples/quickstart-http
//
// It starts three backends on 127.0.0.1, puts them in a group with HTTP
// health checks (health.HTTPProbe("/healthz"), every other setting at its
// default) and load-balancer cookies (sticky.Cookie), and sends requests at
// once: the first ones wait in Pick until the first health checks admit the
// backends, with no sleep and no polling here. Three users with a cookie jar
// each stay on one backend; requests without cookies spread over all three.
// It prints a summary and exits 1 if any request failed or a user moved.
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/httpgroup"
	"github.com/go-elb/elb/sticky"
)

const (
	users           = 3  // clients with a cookie jar: each must stay on one backend
	requestsPerUser = 10 // requests each user sends
	anonymous       = 30 // requests without a cookie: spread by weighted round robin
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart-http:", err)
		os.Exit(1)
	}
}

func run() error {
	start := time.Now()

	// Three backends, each answering with its name, and 200 on /healthz.
	var addrs []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("web-%d", i)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {})
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
		srv := &http.Server{Handler: mux}
		go srv.Serve(ln)
		defer srv.Close()
		addrs = append(addrs, ln.Addr().String())
	}

	key := make([]byte, sticky.MinKeyLen) // cookie signing key: random, at least 32 bytes
	rand.Read(key)

	g, err := group.New(group.Config{
		Name:   "web",
		Health: &health.Config{Probe: health.HTTPProbe("/healthz")},
		Sticky: &sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{key}},
	})
	if err != nil {
		return err
	}
	defer g.Close(context.Background())
	for i, addr := range addrs {
		if err := g.Add(group.Backend{ID: fmt.Sprintf("web-%d", i+1), Addr: addr}); err != nil {
			return err
		}
	}

	// One Transport for every client: it holds the connection pool.
	transport := httpgroup.NewTransport(g, nil)
	defer transport.CloseIdleConnections()

	served := map[string]int{} // requests per backend, as the backends answered
	failed := 0
	var firstOK time.Duration
	report := func(err error) {
		if failed++; failed <= 3 { // the first few are enough to see why
			fmt.Println("  request failed:", err)
		}
	}
	get := func(client *http.Client) string {
		resp, err := client.Get("http://web/hello") // "web" is never dialled: a backend of g is
		if err != nil {
			report(err)
			return ""
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s", resp.Status)
		}
		if err != nil {
			report(err)
			return ""
		}
		if firstOK == 0 {
			firstOK = time.Since(start)
		}
		served[string(body)]++
		return string(body)
	}

	// Users: the Transport sets the load-balancer cookie on the first
	// response, the jar sends it back, and the group keeps the user on its
	// backend.
	moved := 0
	for u := 1; u <= users; u++ {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return err
		}
		client := &http.Client{Transport: transport, Jar: jar, Timeout: 30 * time.Second}
		seen := map[string]int{}
		for range requestsPerUser {
			if b := get(client); b != "" {
				seen[b]++
			}
		}
		var on []string
		for b := range seen {
			on = append(on, b)
		}
		if len(on) > 1 {
			moved++
		}
		fmt.Printf("user %d: %d requests, served by %s\n", u, requestsPerUser, strings.Join(on, ", "))
	}

	// Requests without a cookie: balanced over every healthy backend.
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	anon := map[string]int{}
	for range anonymous {
		if b := get(client); b != "" {
			anon[b]++
		}
	}
	fmt.Printf("%d requests without a cookie: web-1 %d, web-2 %d, web-3 %d\n", anonymous, anon["web-1"], anon["web-2"], anon["web-3"])

	total := users*requestsPerUser + anonymous
	fmt.Printf("%d requests, %d failed; first response after %v\n", total, failed, firstOK.Round(time.Millisecond))
	for i := range addrs {
		name := fmt.Sprintf("web-%d", i+1)
		fmt.Printf("  %s served %d\n", name, served[name])
	}
	st := g.Stats().Sticky
	// A miss is a request with no binding yet: each user's first, and every
	// request without a cookie.
	fmt.Printf("sticky: %d hits, %d misses (each user's first request and the %d without a cookie), %d rebinds\n", st.Hits, st.Misses, anonymous, st.Rebinds)
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d requests failed", failed, total)
	case moved > 0:
		return fmt.Errorf("%d of %d users moved between backends", moved, users)
	}
	fmt.Println("OK")
	return nil
}
