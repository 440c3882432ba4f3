// Command httpproxy is a small HTTP load balancer: an
// httputil.ReverseProxy whose Transport sends each request to a backend of
// a group (httpgroup.Transport). It starts its own backends on 127.0.0.1,
// with weights N, N-1, ... 1, balances over them with weighted round robin
// or least request, ejects a backend whose requests keep failing (outlier
// detection), and retries a request that got no response on another
// backend when that is safe.
//
// It prints the backends' addresses, serves until SIGINT or SIGTERM (or for
// -duration), then prints how many requests each backend took:
//
//	go run ./examples/httpproxy -backends 3 -algorithm least_request
//	curl -H 'Host: shop.example' http://127.0.0.1:8080/hello
//
// With -selftest it sends 1,000 requests through itself (on a free
// loopback port unless -listen is given), prints the distribution and
// exits: 0 if every request succeeded.
//
//	go run ./examples/httpproxy -selftest
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/httpgroup"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address the proxy listens on")
	n := flag.Int("backends", 3, "number of backends to start on 127.0.0.1, 1-20")
	algorithm := flag.String("algorithm", balancer.NameWeightedRoundRobin, "weighted_round_robin or least_request")
	duration := flag.Duration("duration", 0, "stop after this long (0: run until SIGINT or SIGTERM)")
	selftest := flag.Bool("selftest", false, "send 1,000 requests through the proxy, print the distribution and exit")
	flag.Parse()
	listenSet := false
	flag.Visit(func(f *flag.Flag) { listenSet = listenSet || f.Name == "listen" })
	if *selftest && !listenSet {
		*listen = "127.0.0.1:0" // a free port: CI may have 8080 taken
	}
	if err := run(*listen, *n, *algorithm, *duration, *selftest); err != nil {
		log.Fatal(err)
	}
}

func run(listen string, n int, algorithm string, duration time.Duration, selftest bool) error {
	if n < 1 || n > 20 {
		return fmt.Errorf("-backends %d: want 1-20", n)
	}
	if algorithm != balancer.NameWeightedRoundRobin && algorithm != balancer.NameLeastRequest {
		return fmt.Errorf("-algorithm %q: want %s or %s", algorithm, balancer.NameWeightedRoundRobin, balancer.NameLeastRequest)
	}
	g, err := group.New(group.Config{
		Name:      "web",
		Algorithm: algorithm,
		Outlier:   &health.OutlierConfig{}, // 5 failures in a row eject a backend for 30s
	})
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Close(ctx)
	}()

	fmt.Printf("backends (%s):\n", algorithm)
	for i := range n {
		b, err := startBackend(fmt.Sprint("web-", i+1))
		if err != nil {
			return err
		}
		defer b.Close()
		addr := b.Addr().String()
		if err := g.Add(group.Backend{ID: b.id, Addr: addr, Weight: group.Weight(n - i)}); err != nil {
			return err
		}
		fmt.Printf("  %s  %s  weight %d\n", b.id, addr, n-i)
	}

	tr := httpgroup.NewTransport(g, nil) // retries idempotent requests and failed connections, 3 attempts
	defer tr.CloseIdleConnections()
	proxy := &http.Server{
		Handler: &httputil.ReverseProxy{
			// The Transport picks the backend: the outgoing URL's host is
			// replaced by the backend's address, the Host header kept.
			Rewrite:   func(r *httputil.ProxyRequest) { r.SetXForwarded() },
			Transport: tr,
		},
		ReadHeaderTimeout: 10 * time.Second,
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	go proxy.Serve(ln)
	defer proxy.Close()
	url := "http://" + ln.Addr().String()
	fmt.Printf("proxy listening on %s\n", url)

	if selftest {
		failed := load(url, 1000, 8)
		report(g)
		if failed > 0 {
			return fmt.Errorf("selftest: %d of 1000 requests failed", failed)
		}
		fmt.Println("selftest: 1000 of 1000 requests succeeded")
		return nil
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, duration)
		defer cancel()
	}
	<-ctx.Done()
	fmt.Println()
	report(g)
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return proxy.Shutdown(shut)
}

// backend is a local HTTP server that names itself.
type backend struct {
	net.Listener
	id  string
	srv *http.Server
}

func startBackend(id string) (*backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &backend{Listener: ln, id: id}
	b.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s: %s %s (Host: %s, X-Forwarded-For: %s)\n",
				id, r.Method, r.URL.Path, r.Host, r.Header.Get("X-Forwarded-For"))
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go b.srv.Serve(ln)
	return b, nil
}

func (b *backend) Close() error { return b.srv.Close() }

// load sends n GET requests to url from workers goroutines and returns how
// many failed.
func load(url string, n, workers int) int64 {
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for sent.Add(1) <= int64(n) {
				if err := get(client, url); err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "request failed:", err)
				}
			}
		})
	}
	wg.Wait()
	return failed.Load()
}

func get(client *http.Client, url string) error {
	resp, err := client.Get(url + "/selftest")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// report prints each backend's requests next to its weight.
func report(g *group.Group) {
	st := g.Stats()
	var weights float64
	for _, b := range st.Backends {
		weights += float64(*b.Weight)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tweight\tweight share\trequests\tshare\tfailures\tstate\t")
	for _, b := range st.Backends {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%d\t%.1f%%\t%d\t%s\t\n", b.ID, *b.Weight, 100*float64(*b.Weight)/weights,
			b.Requests, 100*float64(b.Requests)/float64(max(st.Requests, 1)), b.Failures, b.State)
	}
	tw.Flush()
	fmt.Printf("total: %d requests, %d failures, %d in flight\n", st.Requests, st.Failures, st.InFlight)
}
