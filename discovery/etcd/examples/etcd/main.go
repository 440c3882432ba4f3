// Command etcd shows membership from etcd end to end: it starts a real
// etcd (embedded, on 127.0.0.1), starts three HTTP backends as processes
// of their own that register themselves with etcd.Register (a 2s lease),
// and balances requests across them with httpgroup while the group
// follows etcd through etcd.NewSource and group.Sync. Midway it kills
// one backend with SIGKILL: it never deregisters, its lease expires, and
// the group drops it. It prints what happened and exits 1 if a request
// failed or the killed backend did not leave in time. From the
// repository's root:
//
//	go -C discovery/etcd run ./examples/etcd
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	etcd "github.com/go-elb/elb/discovery/etcd"
	"github.com/go-elb/elb/discovery/etcd/internal/etcdserver"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

const (
	prefix = "services/web"
	ttl    = 2 * time.Second
)

func main() {
	backend := flag.String("backend", "", "run as the backend NAME (the example starts these itself)")
	endpoint := flag.String("etcd", "", "the etcd endpoint, for -backend")
	flag.Parse()
	var err error
	if *backend != "" {
		err = serve(*backend, *endpoint)
	} else {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcd example:", err)
		os.Exit(1)
	}
}

// serve is a backend process: an HTTP server on 127.0.0.1:0 that answers
// its name, registered in etcd until the process ends.
func serve(name, endpoint string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	es := &etcdserver.Server{ClientURL: endpoint}
	client, err := es.Client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	reg, err := etcd.Register(ctx, client, prefix, group.Backend{ID: name, Addr: ln.Addr().String()}, etcd.RegisterConfig{TTL: ttl})
	cancel()
	if err != nil {
		return err
	}
	fmt.Println(reg.Key(), ln.Addr()) // tells the parent it is registered
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) }))
}

func run() error {
	deadline := time.Now().Add(60 * time.Second) // the whole run is bounded
	dir, err := os.MkdirTemp("", "elb-etcd-example")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	es, err := etcdserver.New(dir)
	if err != nil {
		return err
	}
	if err := es.Start(); err != nil {
		return err
	}
	defer es.Stop()
	fmt.Println("etcd serving on", es.ClientURL)

	// Three backend processes: this program, run again with -backend.
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	for _, name := range []string{"web-1", "web-2", "web-3"} {
		cmd := exec.Command(exe, "-backend", name, "-etcd", es.ClientURL)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		fmt.Printf("%s (pid %d) registered: %s", name, cmd.Process.Pid, line)
	}

	// The client: a group that follows etcd, and an http.Client over it.
	client, err := es.Client()
	if err != nil {
		return err
	}
	defer client.Close()
	g, err := group.New(group.Config{Name: "web", DrainTimeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer g.Close(context.Background())
	unsubscribe := g.Subscribe(func(e group.Event) {
		if e.Type == group.EventAdded || e.Type == group.EventDraining {
			fmt.Printf("  group: %s %s\n", e.Type, e.Backend.ID)
		}
	})
	defer unsubscribe() // before Close: its drains are not news
	src, err := etcd.NewSource(etcd.Config{Client: client, Prefix: prefix})
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	if err := group.Sync(ctx, g, src, group.SyncConfig{OnError: func(err error) { fmt.Println("  sync:", err) }}); err != nil {
		return err
	}
	transport := httpgroup.NewTransport(g, nil)
	defer transport.CloseIdleConnections()
	web := &http.Client{Transport: transport, Timeout: 10 * time.Second}

	served := map[string]int{}
	failed := 0
	get := func() {
		resp, err := web.Get("http://web/")
		if err == nil {
			var body []byte
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			served[string(body)]++
		}
		if err != nil {
			if failed++; failed <= 3 {
				fmt.Println("  request failed:", err)
			}
		}
	}
	members := func() []string {
		var ids []string
		for _, b := range g.Backends() {
			ids = append(ids, b.ID)
		}
		slices.Sort(ids)
		return ids
	}

	// Requests until all three are members and each served some.
	for len(served) < 3 && time.Now().Before(deadline) {
		get()
	}
	fmt.Printf("members %v; served so far %v\n", members(), served)

	// Kill web-2: no Close, no deregistration. Requests go on; those that
	// pick it before its lease expires are retried on another backend.
	victim := procs[1]
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	victim.Wait()
	killed := time.Now()
	fmt.Printf("killed web-2 (pid %d) with SIGKILL\n", victim.Process.Pid)
	requests := 0
	var left time.Duration
	for time.Now().Before(deadline) {
		get()
		requests++
		if left == 0 && !slices.Contains(members(), "web-2") {
			left = time.Since(killed)
			fmt.Printf("web-2 left the group %v after the kill (lease TTL %v)\n", left.Round(10*time.Millisecond), ttl)
		}
		if left > 0 && requests >= 200 && time.Since(killed) > left+200*time.Millisecond {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	fmt.Printf("members %v; served %v; %d failed\n", members(), served, failed)
	var problems []string
	if left == 0 {
		problems = append(problems, "web-2 did not leave the group")
	} else if left > 3*ttl {
		problems = append(problems, fmt.Sprintf("web-2 left after %v, more than 3 TTLs", left))
	}
	if failed > 0 {
		problems = append(problems, fmt.Sprintf("%d requests failed", failed))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("ok")
	return nil
}
