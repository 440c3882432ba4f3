// Command demo shows a backend group at work, and what an operator sees of
// it. It starts four HTTP backends on 127.0.0.1 in two zones with weights
// 4, 2, 3 and 1, and eight clients that send GETs through an http.Client
// whose Transport is an httpgroup.Transport over the group. Health checks
// probe every backend's /healthz each second; outlier detection ejects a
// backend whose requests keep failing.
//
// While the traffic flows it kills one backend (its server closes) and
// restarts it on the same address: the group ejects it, marks it
// unhealthy, and takes it back once two probes in a row pass, while the
// Transport's retries keep every client request from failing. Then it sets
// another backend's weight to 0 (group.Weight(0)), and that backend
// receives no new request. The group's events are printed as its
// slog.Logger records them, its statistics as the tables that
// Registry.Handler serves, which the demo also serves on a loopback port
// and fetches once. The URL it prints opens the handler's dashboard in a
// browser, live while the demo runs.
//
// It needs no network beyond loopback and ends by itself in about 11
// seconds, with status 1 if any client request failed or the backend at
// weight 0 still received requests. With -serve d it then keeps the
// dashboard up, and the clients' traffic flowing, for d more (or until
// interrupted).
//
//	go run ./examples/demo
//	go run ./examples/demo -serve 5m
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/httpgroup"
)

// Timings. The health-check interval is the shortest health.Config allows.
const (
	probeInterval = time.Second
	ejectionTime  = 2 * time.Second // outlier detection's first ejection
	work          = 2 * time.Millisecond
	clients       = 8
)

var serve = flag.Duration("serve", 0, "after the run, keep serving the dashboard, with traffic, this long (0: exit at once)")

func main() {
	flag.Parse()
	ok, err := run()
	if err != nil {
		log.Fatal(err)
	}
	if !ok {
		os.Exit(1)
	}
}

// out is the demo's output: the main goroutine's lines and the logger's,
// which the group writes from its own goroutines, each written whole.
var out = &lockedWriter{w: os.Stdout}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// say prints a line of the demo's narration.
func say(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }

// backend is a local HTTP server that counts what it serves.
type backend struct {
	id, zone string
	weight   int
	addr     string
	served   atomic.Int64
	srv      *http.Server
}

// start listens on addr ("127.0.0.1:0" for a free port) and serves.
func (b *backend) start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	b.addr = ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(work)
		b.served.Add(1)
		fmt.Fprintf(w, "hello from %s\n", b.id)
	})
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go b.srv.Serve(ln)
	return nil
}

func run() (ok bool, err error) {
	start := time.Now()
	// The group's events, logged as text with the time since the start.
	var level slog.LevelVar
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{
		Level: &level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.String("t", fmt.Sprintf("%.1fs", a.Value.Time().Sub(start).Seconds()))
			}
			return a
		},
	}))

	reg := &group.Registry{}
	g, err := group.New(group.Config{
		Name:     "web",
		Registry: reg,
		Logger:   logger,
		Health: &health.Config{
			Probe:              health.HTTPProbe("/healthz"),
			Interval:           probeInterval,
			HealthyThreshold:   2,
			UnhealthyThreshold: 2,
		},
		Outlier: &health.OutlierConfig{BaseEjectionTime: ejectionTime},
	})
	if err != nil {
		return false, err
	}
	defer func() {
		level.Set(slog.LevelWarn) // the shutdown's drains are no news
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, g.Close(ctx))
	}()

	backends := []*backend{
		{id: "web-1", zone: "az1", weight: 4},
		{id: "web-2", zone: "az1", weight: 2},
		{id: "web-3", zone: "az2", weight: 3},
		{id: "web-4", zone: "az2", weight: 1},
	}
	byID := map[string]*backend{}
	for _, b := range backends {
		byID[b.id] = b
		if err := b.start("127.0.0.1:0"); err != nil {
			return false, err
		}
		defer func() { b.srv.Close() }()
	}

	// The operations endpoint: the registry's handler under /debug/elb/.
	mux := http.NewServeMux()
	mux.Handle("/debug/elb/", http.StripPrefix("/debug/elb", reg.Handler()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return false, err
	}
	ops := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go ops.Serve(ln)
	defer ops.Close()
	opsURL := "http://" + ln.Addr().String() + "/debug/elb/"

	say("elb demo: group %q, 4 backends on 127.0.0.1, zones az1 and az2, weights 4/2/3/1,", g.Name())
	say("%d clients sending GETs through httpgroup.Transport; stats served at %s", clients, opsURL)
	say("dashboard: open %s in a browser (live while the demo runs; -serve 5m keeps it up after)", opsURL)
	for _, b := range backends {
		if err := g.Add(group.Backend{ID: b.id, Addr: b.addr, Weight: group.Weight(b.weight), Zone: b.zone}); err != nil {
			return false, err
		}
	}
	if err := waitFor(10*time.Second, func() bool { return g.Stats().Available == len(backends) }); err != nil {
		return false, fmt.Errorf("backends never became healthy: %w", err)
	}

	// The clients: an http.Client whose Transport picks a backend of the
	// group for each request ("web" is never resolved) and retries a
	// request that got no answer on another backend.
	tr := httpgroup.NewTransport(g, &http.Transport{
		MaxIdleConnsPerHost: clients,
		DialContext:         (&net.Dialer{Timeout: time.Second}).DialContext,
	})
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	var stop atomic.Bool
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	startClients := func() {
		stop.Store(false)
		for range clients {
			wg.Go(func() {
				for !stop.Load() {
					sent.Add(1)
					if err := get(client); err != nil {
						if failed.Add(1) <= 5 {
							say("client request failed: %v", err)
						}
					}
				}
			})
		}
	}
	stopClients := func() {
		stop.Store(true)
		wg.Wait()
	}
	startClients()
	defer stopClients() // on an early return

	table := func(title string) {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "\n[%.1fs] %s\n", time.Since(start).Seconds(), title)
		if err := g.Stats().WriteText(&buf); err != nil {
			panic(err) // a bytes.Buffer does not fail
		}
		buf.WriteString("\n")
		out.Write(buf.Bytes())
	}

	time.Sleep(2 * time.Second)
	table("traffic follows the weights (the handler's text table):")

	web3 := byID["web-3"]
	say("[%.1fs] killing web-3: its server closes, requests to it fail and are retried elsewhere", time.Since(start).Seconds())
	web3.srv.Close()
	if err := waitFor(10*time.Second, func() bool { return state(g, "web-3") == health.Unhealthy }); err != nil {
		return false, fmt.Errorf("web-3 never became unhealthy: %w", err)
	}
	time.Sleep(500 * time.Millisecond)
	table("web-3 is out; the others take its share:")

	say("[%.1fs] restarting web-3 on %s", time.Since(start).Seconds(), web3.addr)
	if err := web3.start(web3.addr); err != nil {
		return false, fmt.Errorf("restart web-3: %w", err)
	}
	if err := waitFor(10*time.Second, func() bool { return state(g, "web-3") == health.Healthy }); err != nil {
		return false, fmt.Errorf("web-3 never came back: %w", err)
	}
	time.Sleep(time.Second)

	say("[%.1fs] setting web-4's weight to 0 (group.Weight(0)): it takes no new requests", time.Since(start).Seconds())
	if err := g.Update(group.Backend{ID: "web-4", Addr: byID["web-4"].addr, Weight: group.Weight(0), Zone: "az2"}); err != nil {
		return false, err
	}
	// A Pick that read the pick set just before the change may still count
	// its request on web-4. That takes nanoseconds, but its goroutine may
	// be descheduled on a loaded machine: give it 500ms, then count.
	time.Sleep(500 * time.Millisecond)
	before := requests(g, "web-4")
	time.Sleep(2 * time.Second)
	stopClients()
	afterZero := requests(g, "web-4") - before
	table("final stats: web-3 came back, web-4 drained:")

	// The summary: what each backend served against its weight.
	st := g.Stats()
	var served int64
	for _, b := range backends {
		served += b.served.Load()
	}
	say("summary after %.1fs, counted by the backends themselves:", time.Since(start).Seconds())
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "backend\tstarting weight\tweight share\tserved\tserved share\t")
	for _, b := range backends {
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%d\t%.1f%%\t\n", b.id, b.weight, 10.0*float64(b.weight), b.served.Load(),
			100*float64(b.served.Load())/float64(max(served, 1)))
	}
	tw.Flush()
	say("(web-3 was out for a few seconds and web-4 at weight 0 for the last 2.5: their shares fell short)")
	say("client requests: %d sent, %d failed", sent.Load(), failed.Load())
	say("attempts that failed and were retried on another backend: %d", st.Failures)
	say("picks of web-4 after its weight became 0: %d", afterZero)

	if err := fetch(opsURL + "web?format=json"); err != nil {
		return false, err
	}
	ok = failed.Load() == 0 && afterZero == 0
	if ok {
		say("OK: no client request failed")
	} else {
		say("FAILED: %d client requests failed, web-4 took %d picks at weight 0", failed.Load(), afterZero)
	}
	if *serve > 0 {
		say("serving the dashboard at %s for %v more, with traffic (interrupt to stop)", opsURL, *serve)
		ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt)
		defer cancel()
		startClients()
		select {
		case <-ctx.Done():
		case <-time.After(*serve):
		}
		stopClients()
	}
	return ok, nil
}

// get sends one request through the group and reads the answer.
func get(client *http.Client) error {
	resp, err := client.Get("http://web/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "hello from ") {
		return fmt.Errorf("%s: %q", resp.Status, body)
	}
	return nil
}

// fetch gets the handler's JSON and prints what it holds.
func fetch(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var page struct {
		Groups []struct {
			Name     string `json:"name"`
			Requests uint64 `json:"requests"`
			Backends []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"backends"`
		} `json:"groups"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return fmt.Errorf("GET %s: %s: %w", url, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK || len(page.Groups) != 1 {
		return fmt.Errorf("GET %s: %s, %d groups", url, resp.Status, len(page.Groups))
	}
	gs := page.Groups[0]
	var states []string
	for _, b := range gs.Backends {
		states = append(states, b.ID+" "+b.State)
	}
	say("GET %s: %s, group %q, %d requests, %s", url, resp.Status, gs.Name, gs.Requests, strings.Join(states, ", "))
	return nil
}

// state returns the health state of the backend id of g.
func state(g *group.Group, id string) health.State {
	for _, b := range g.Stats().Backends {
		if b.ID == id {
			return b.State
		}
	}
	return health.Unknown
}

// requests returns the picks of the backend id of g.
func requests(g *group.Group, id string) uint64 {
	for _, b := range g.Stats().Backends {
		if b.ID == id {
			return b.Requests
		}
	}
	return 0
}

// waitFor polls cond every 50ms until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not after %v", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}
