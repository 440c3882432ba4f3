package group_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
)

// A group with active health checks: a new backend takes requests only
// once its health check has passed, and Pick waits for that, bounded by
// its context, instead of failing.
func Example_healthChecks() {
	started := make(chan struct{}) // closed when the backend has warmed up
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-started
		fmt.Fprintln(w, "ok")
	}))
	defer backend.Close()

	g, err := group.New(group.Config{
		Name:   "orders",
		Health: &health.Config{Probe: health.HTTPProbe("/healthz")}, // every default
	})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())

	if err := g.Add(group.Backend{ID: "b1", Addr: backend.Listener.Addr().String()}); err != nil {
		panic(err)
	}
	// The first probe runs at once, but the backend does not answer yet:
	// Pick waits until its context ends, and says why it could not pick.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = g.Pick(ctx, group.Request{})
	cancel()
	var ge *group.GroupError
	errors.As(err, &ge)
	fmt.Println("no healthy backend:", errors.Is(err, group.ErrNoHealthyBackend))
	fmt.Println("deadline exceeded:", errors.Is(err, context.DeadlineExceeded))
	fmt.Println("why:", ge.Problem)

	close(started)
	// The group has never served (a cold start): the first passed probe
	// admits b1, and this Pick waits for it, with no polling.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := g.Pick(ctx, group.Request{})
	if err != nil {
		panic(err)
	}
	fmt.Println("picked", p.ID())
	p.Done(nil)
	// Output:
	// no healthy backend: true
	// deadline exceeded: true
	// why: 1 member: 1 initial (awaiting first health check)
	// picked b1
}
