package group_test

import (
	"context"
	"fmt"

	"github.com/go-elb/elb/group"
)

// A client that knows its ordinal among the clients (here client 2 of 50)
// uses a balanced subset of 3 of the group's 12 members: it balances over
// them alone, and would connect to and health-check them alone. The
// others stay members, marked outside the subset.
func ExampleSubsetConfig() {
	g, err := group.New(group.Config{
		Name:   "orders",
		Subset: &group.SubsetConfig{Size: 3, ClientIndex: 2, ClientCount: 50},
	})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	var bs []group.Backend
	for i := range 12 {
		bs = append(bs, group.Backend{Addr: fmt.Sprintf("10.0.0.%d:8080", i+1)})
	}
	// One Add for all: each membership change recomputes the subset.
	if err := g.Add(bs...); err != nil {
		panic(err)
	}
	in, out := 0, 0
	for _, b := range g.Stats().Backends {
		if b.OutsideSubset {
			out++
		} else {
			in++
		}
	}
	fmt.Println("members:", g.Len(), "in the subset:", in, "outside:", out)
	picked := map[string]bool{}
	for range 30 {
		p, err := g.Pick(context.Background(), group.Request{})
		if err != nil {
			panic(err)
		}
		picked[p.ID()] = true
		p.Done(nil)
	}
	fmt.Println("picked:", len(picked), "backends")
	// Output:
	// members: 12 in the subset: 3 outside: 9
	// picked: 3 backends
}
