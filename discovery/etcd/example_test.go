package etcd_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	etcd "github.com/go-elb/elb/discovery/etcd"
	"github.com/go-elb/elb/discovery/etcd/internal/etcdserver"
	"github.com/go-elb/elb/group"
)

// exampleClient starts a real etcd, embedded, and returns a client of it
// and a function that stops both.
func exampleClient() (*clientv3.Client, func()) {
	dir, err := os.MkdirTemp("", "elb-etcd-example")
	if err != nil {
		log.Fatal(err)
	}
	s, err := etcdserver.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Start(); err != nil {
		log.Fatal(err)
	}
	c, err := s.Client()
	if err != nil {
		log.Fatal(err)
	}
	return c, func() { c.Close(); s.Stop(); os.RemoveAll(dir) }
}

// A backend registers itself; a client's group follows the prefix.
func Example() {
	client, stop := exampleClient()
	defer stop()
	ctx := context.Background()

	// Two backend processes.
	reg, err := etcd.Register(ctx, client, "services/orders",
		group.Backend{ID: "a", Addr: "127.0.0.1:8080", Weight: group.Weight(5), Zone: "az1"}, etcd.RegisterConfig{})
	if err != nil {
		log.Fatal(err)
	}
	other, err := etcd.Register(ctx, client, "services/orders",
		group.Backend{ID: "b", Addr: "127.0.0.1:8081", Zone: "az2"}, etcd.RegisterConfig{TTL: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	defer other.Close(ctx)

	// A client.
	g, err := group.New(group.Config{Name: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	defer g.Close(ctx)
	src, err := etcd.NewSource(etcd.Config{Client: client, Prefix: "services/orders"})
	if err != nil {
		log.Fatal(err)
	}
	applied := make(chan struct{}, 10)
	err = group.Sync(ctx, g, src, group.SyncConfig{
		OnError:   func(err error) { log.Print(err) },
		OnApplied: func() { applied <- struct{}{} },
	})
	if err != nil {
		log.Fatal(err)
	}
	<-applied
	for _, b := range g.Backends() {
		fmt.Printf("%s at %s, weight %d, zone %s\n", b.ID, b.Addr, *b.Weight, b.Zone)
	}

	// Drain first: Close deletes the key at once and the group drains the
	// backend, which keeps serving for the group's DrainTimeout.
	if err := reg.Close(ctx); err != nil {
		log.Fatal(err)
	}
	select {
	case <-applied:
	case <-time.After(5 * time.Second):
	}
	for _, b := range g.Backends() {
		fmt.Printf("after Close: %s\n", b.ID)
	}
	// Output:
	// a at 127.0.0.1:8080, weight 5, zone az1
	// b at 127.0.0.1:8081, weight 1, zone az2
	// after Close: b
}
