package group_test

import (
	"context"
	"fmt"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/sticky"
)

// Session affinity by a header: requests that carry the same user ID go
// to the same backend while it can take them, and move (once) when it
// cannot.
func Example_stickySessions() {
	g, err := group.New(group.Config{
		Name:      "carts",
		Algorithm: "round_robin",
		Sticky:    &sticky.Config{Mode: sticky.Header, Header: "X-User-ID"}, // TTL 24h, 65,536 bindings
	})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	if err := g.Add(
		group.Backend{ID: "a", Addr: "10.0.0.1:8080"},
		group.Backend{ID: "b", Addr: "10.0.0.2:8080"},
		group.Backend{ID: "c", Addr: "10.0.0.3:8080"},
	); err != nil {
		panic(err)
	}
	send := func(user string) group.Backend { // the backend the request went to
		p, err := g.Pick(context.Background(), group.Request{Affinity: user})
		if err != nil {
			panic(err)
		}
		defer p.Done(nil)
		return p.Backend()
	}
	home := send("alice")
	again, third := send("alice"), send("alice")
	fmt.Println("alice stays:", again.ID == home.ID && third.ID == home.ID)
	fmt.Println("bob elsewhere:", send("bob").ID != home.ID)

	// alice's backend stops taking new requests: her binding moves, once.
	home.Weight = group.Weight(0)
	if err := g.Update(home); err != nil {
		panic(err)
	}
	moved := send("alice")
	fmt.Println("alice moved:", moved.ID != home.ID, "and stays:", send("alice").ID == moved.ID)
	st := g.Stats().Sticky
	fmt.Printf("hits %d, misses %d, rebinds %d\n", st.Hits, st.Misses, st.Rebinds)
	// Output:
	// alice stays: true
	// bob elsewhere: true
	// alice moved: true and stays: true
	// hits 3, misses 2, rebinds 1
}
