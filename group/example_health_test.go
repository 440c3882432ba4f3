package group_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// A group with active health checks: a new backend takes requests only
// once its health checks have passed.
func Example_healthChecks() {
	started := make(chan struct{}) // closed when the backend has warmed up
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-started
		fmt.Fprintln(w, "ok")
	}))
	defer backend.Close()

	g, err := group.New(group.Config{
		Name: "orders",
		Health: &health.Config{
			Probe:            health.HTTPProbe("/healthz"),
			Interval:         time.Second,
			HealthyThreshold: 1, // one passed probe proves it (default 3)
			Jitter:           health.NoJitter,
		},
	})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	healthy := make(chan group.Event, 1)
	g.Subscribe(func(e group.Event) {
		if e.Type == group.EventStateChanged && e.State == health.Healthy {
			healthy <- e
		}
	})

	if err := g.Add(group.Backend{ID: "b1", Addr: backend.Listener.Addr().String()}); err != nil {
		panic(err)
	}
	_, err = g.Pick(context.Background(), group.Request{})
	fmt.Println("before its first check:", err)

	close(started)
	e := <-healthy
	fmt.Printf("%s: %s -> %s (%s)\n", e.Backend.ID, e.From, e.State, e.Reason)
	p, err := g.Pick(context.Background(), group.Request{})
	if err != nil {
		panic(err)
	}
	fmt.Println("picked", p.ID())
	p.Done(nil)
	// Output:
	// before its first check: elb: group "orders": no healthy backend
	// b1: initial -> healthy (health check passed)
	// picked b1
}
