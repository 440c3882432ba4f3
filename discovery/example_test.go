package discovery_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/go-elb/elb/discovery"
	"github.com/go-elb/elb/group"
)

func ExampleNewDNS() {
	g, err := group.New(group.Config{Name: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close(context.Background())

	// Backends from SRV records: _grpc._tcp.orders.svc.cluster.local.
	src, err := discovery.NewDNS(discovery.DNS{
		Name:    "orders.svc.cluster.local.",
		Service: "grpc",
		Proto:   "tcp",
		SRV:     true,
		Zone:    "az1",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = group.Sync(ctx, g, src, group.SyncConfig{ // returns at once: Sync runs on its own goroutine
		OnError: func(err error) { log.Printf("orders: %v (keeping %d backends)", err, g.Len()) },
	})
	if err != nil {
		log.Fatal(err)
	}

	// Or from A and AAAA records, on a fixed port:
	//
	//	discovery.NewDNS(discovery.DNS{Name: "orders.internal.", Port: 8080})
}

func ExampleNewFile() {
	dir, err := os.MkdirTemp("", "elb")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "orders.json")
	err = os.WriteFile(path, []byte(`{"backends": [
		{"id": "a", "addr": "10.0.1.5:8080", "weight": 3, "zone": "az1"},
		{"id": "b", "addr": "10.0.2.7:8080", "zone": "az2"},
		{"id": "c", "addr": "10.0.2.8:8080", "weight": 0, "zone": "az2"}
	]}`), 0o600)
	if err != nil {
		log.Fatal(err)
	}

	g, err := group.New(group.Config{Name: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close(context.Background())
	src, err := discovery.NewFile(discovery.File{Path: path}) // re-read every 5s
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel() // stops Sync
	if err := group.Sync(ctx, g, src, group.SyncConfig{OnError: func(err error) { log.Print(err) }}); err != nil {
		log.Fatal(err)
	}
	if err := g.WaitReady(ctx); err != nil { // the first read is applied and a member takes requests
		log.Fatal(err)
	}
	for _, b := range g.Backends() {
		fmt.Println(b.ID, b.Addr, *b.Weight, b.Zone)
	}
	// Output:
	// a 10.0.1.5:8080 3 az1
	// b 10.0.2.7:8080 1 az2
	// c 10.0.2.8:8080 0 az2
}
