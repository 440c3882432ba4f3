// Command quickstart-direct is the day-one program for a protocol of your
// own: group.Pick and Done around each request, with the group's membership
// read from a JSON file by discovery.NewFile and kept in step by group.Sync,
// written from the README alone.
//
//	go run ./examples/quickstart-direct
//
// It starts three servers of a tiny line protocol on 127.0.0.1 (a request is
// a line, the answer is the server's name and that line), writes their
// addresses with weights 3, 2 and 1 to a JSON file, starts group.Sync on it
// and sends requests at once: the first Pick waits for Sync's first update,
// with no sleep and no polling here. It prints where the requests went and
// exits 1 if any failed or the shares did not follow the weights.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-elb/elb/discovery"
	"github.com/go-elb/elb/group"
)

const requests = 60 // ten rounds of weights 3+2+1

var weights = []int{3, 2, 1}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart-direct:", err)
		os.Exit(1)
	}
}

func run() error {
	// Three line servers, and the file that lists them.
	var lines []string
	for i, w := range weights {
		name := fmt.Sprintf("line-%d", i+1)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		go serve(ln, name)
		lines = append(lines, fmt.Sprintf(`  {"id": %q, "addr": %q, "weight": %d}`, name, ln.Addr(), w))
	}
	dir, err := os.MkdirTemp("", "quickstart-direct")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "backends.json")
	file := "{\"backends\": [\n" + strings.Join(lines, ",\n") + "\n]}\n"
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		return err
	}
	fmt.Printf("%s:\n%s", path, file)

	// An empty group, filled by Sync from the file (polled every 5 s).
	g, err := group.New(group.Config{Name: "lines"})
	if err != nil {
		return err
	}
	defer g.Close(context.Background())
	src, err := discovery.NewFile(discovery.File{Path: path})
	if err != nil {
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	err = group.Sync(ctx, g, src, group.SyncConfig{ // returns at once: Sync follows the file on its own goroutine
		OnError: func(err error) { fmt.Println("sync:", err) },
	})
	if err != nil {
		return err
	}

	served := map[string]int{}
	failed := 0
	for i := range requests {
		reply, err := call(g, fmt.Sprintf("hello %d", i))
		if err != nil {
			if failed++; failed <= 3 {
				fmt.Println("  request failed:", err)
			}
			continue
		}
		name, _, _ := strings.Cut(reply, ":")
		served[name]++
	}

	fmt.Printf("%d requests, %d failed\n", requests, failed)
	wrong := 0
	for i, w := range weights {
		name := fmt.Sprintf("line-%d", i+1)
		want := requests * w / 6
		fmt.Printf("  %s (weight %d) served %d (its weight's share of %d: %d)\n", name, w, served[name], requests, want)
		if served[name] != want {
			wrong++
		}
	}
	switch {
	case failed > 0:
		return fmt.Errorf("%d of %d requests failed", failed, requests)
	case wrong > 0:
		return errors.New("the shares did not follow the weights")
	}
	fmt.Println("OK")
	return nil
}

// call sends one request to a backend of g: Pick, the protocol's exchange,
// Done with its error.
func call(g *group.Group, line string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := g.Pick(ctx, group.Request{})
	if err != nil {
		return "", err // no backend can take the request
	}
	reply, err := exchange(ctx, p.Addr(), line)
	p.Done(err) // once per Pick: ends the request, counts a failure if err != nil
	return reply, err
}

// exchange sends line to addr and reads the answer line.
func exchange(ctx context.Context, addr, line string) (string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	if _, err := fmt.Fprintln(conn, line); err != nil {
		return "", err
	}
	reply, err := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSuffix(reply, "\n"), err
}

// serve answers each line of each connection with "name: line".
func serve(ln net.Listener, name string) {
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer conn.Close()
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				fmt.Fprintf(conn, "%s: %s\n", name, sc.Text())
			}
		}()
	}
}
