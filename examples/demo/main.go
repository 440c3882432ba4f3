// Command demo shows a backend group at work. It starts four HTTP backends
// on 127.0.0.1 in two zones with different weights, sends traffic through a
// group, and prints how many requests each backend served next to its
// weight. Then it removes a backend while requests are in flight and shows
// that none of them is lost. It needs no network beyond loopback and ends
// by itself in a few seconds.
//
//	go run ./examples/demo
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/go-elb/elb/group"
)

// backend is a local HTTP server that counts what it serves.
type backend struct {
	id     string
	zone   string
	weight int
	addr   string
	served atomic.Int64
	srv    *http.Server
}

func (b *backend) start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	b.addr = ln.Addr().String()
	b.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Microsecond) // a little work, so requests overlap
		b.served.Add(1)
		fmt.Fprintf(w, "hello from %s\n", b.id)
	})}
	go b.srv.Serve(ln)
	return nil
}

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	ctx := context.Background()
	backends := []*backend{
		{id: "web-1", zone: "az1", weight: 5},
		{id: "web-2", zone: "az1", weight: 3},
		{id: "web-3", zone: "az2", weight: 2},
		{id: "web-4", zone: "az2", weight: group.ZeroWeight}, // a member that takes no new requests
	}
	g, err := group.New(group.Config{Name: "web", Algorithm: "weighted_round_robin"})
	if err != nil {
		return err
	}
	for _, b := range backends {
		if err := b.start(); err != nil {
			return err
		}
		defer b.srv.Close()
		if err := g.Add(group.Backend{ID: b.id, Addr: b.addr, Weight: b.weight, Zone: b.zone}); err != nil {
			return err
		}
	}
	unsubscribe := g.Subscribe(func(e group.Event) {
		switch {
		case e.Type == group.EventDraining:
			fmt.Printf("  event: %s leaves the pick set with %d requests in flight\n", e.Backend.ID, e.InFlight)
		case e.Type == group.EventRemoved && e.InFlight == 0:
			fmt.Printf("  event: %s drained: every request it had finished\n", e.Backend.ID)
		case e.Type == group.EventRemoved:
			fmt.Printf("  event: %s removed by the drain timeout with %d requests open\n", e.Backend.ID, e.InFlight)
		}
	})
	client := &http.Client{Timeout: 5 * time.Second}

	fmt.Println("1. 5,000 requests, 16 at a time, weighted round robin:")
	failed := load(ctx, g, client, 5000, 16, nil)
	report(g, backends, failed)

	fmt.Println("\n2. 5,000 more; web-1 is removed after the first 1,000 while requests are in flight:")
	for _, b := range backends {
		b.served.Store(0)
	}
	var once sync.Once
	failed = load(ctx, g, client, 5000, 16, func(sent int64) {
		if sent >= 1000 {
			once.Do(func() {
				if err := g.Remove("web-1"); err != nil {
					log.Fatal(err)
				}
			})
		}
	})
	report(g, backends, failed)
	unsubscribe()

	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return g.Close(c)
}

// load sends n GET requests through g from workers goroutines and returns
// how many failed. after, if set, is called after each request is sent with
// the number sent so far.
func load(ctx context.Context, g *group.Group, client *http.Client, n, workers int, after func(sent int64)) int64 {
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for sent.Add(1) <= int64(n) {
				if err := get(ctx, g, client); err != nil {
					failed.Add(1)
					fmt.Fprintln(os.Stderr, "request failed:", err)
				}
				if after != nil {
					after(sent.Load())
				}
			}
		})
	}
	wg.Wait()
	return failed.Load()
}

// get sends one request to the backend the group picks.
func get(ctx context.Context, g *group.Group, client *http.Client) (err error) {
	p, err := g.Pick(ctx, group.Request{})
	if err != nil {
		return err
	}
	start := time.Now()
	defer func() { p.Finish(group.Result{Err: err, Latency: time.Since(start)}) }()
	resp, err := client.Get("http://" + p.Addr() + "/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 500 {
		return errors.New(resp.Status)
	}
	return nil
}

// report prints what each backend served next to its weight and the
// group's own counts.
func report(g *group.Group, backends []*backend, failed int64) {
	st := g.Stats()
	inGroup := map[string]group.BackendStats{}
	for _, b := range st.Backends {
		inGroup[b.ID] = b
	}
	var total, weights int64
	for _, b := range backends {
		total += b.served.Load()
		if s, ok := inGroup[b.id]; ok {
			weights += int64(s.EffectiveWeight)
		}
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tzone\tweight\tweight share\tserved\tserved share\tstate\t")
	for _, b := range backends {
		s, member := inGroup[b.id]
		state, weight, wshare := "removed", "-", "-"
		if member {
			state = s.State.String()
			weight = fmt.Sprint(s.EffectiveWeight)
			wshare = fmt.Sprintf("%.1f%%", 100*float64(s.EffectiveWeight)/float64(weights))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%.1f%%\t%s\t\n", b.id, b.zone, weight, wshare,
			b.served.Load(), 100*float64(b.served.Load())/float64(max(total, 1)), state)
	}
	tw.Flush()
	fmt.Printf("  failed requests: %d; group totals: %d requests, %d failures, %d in flight\n",
		failed, st.Requests, st.Failures, st.InFlight)
}
