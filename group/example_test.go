package group_test

import (
	"context"
	"fmt"

	"github.com/go-elb/elb/group"
)

func Example() {
	g, err := group.New(group.Config{Name: "orders", Algorithm: "weighted_round_robin"})
	if err != nil {
		panic(err)
	}
	defer g.Close(context.Background())
	err = g.Add(
		group.Backend{ID: "big", Addr: "10.0.1.5:8080", Weight: group.Weight(3), Zone: "az1"},
		group.Backend{ID: "small", Addr: "10.0.2.7:8080", Zone: "az2"}, // Weight 0 = DefaultWeight (1)
		group.Backend{ID: "off", Addr: "10.0.2.8:8080", Weight: group.Weight(0)},
	)
	if err != nil {
		panic(err)
	}
	for range 400 {
		p, err := g.Pick(context.Background(), group.Request{})
		if err != nil {
			panic(err)
		}
		// ... send the request to p.Addr() ...
		p.Done(nil)
	}
	for _, b := range g.Stats().Backends {
		fmt.Printf("%s weight %g: %d requests\n", b.ID, b.EffectiveWeight, b.Requests)
	}
	// Output:
	// big weight 3: 300 requests
	// small weight 1: 100 requests
	// off weight 0: 0 requests
}

func ExampleRegistry_Find() {
	var reg group.Registry
	web, _ := group.New(group.Config{Name: "web", Registry: &reg})
	api, _ := group.New(group.Config{Name: "api", Registry: &reg})
	_ = web.Add(group.Backend{ID: "i-0abc", Addr: "10.0.0.5:80"})
	_ = api.Add(group.Backend{ID: "i-0abc-api", Addr: "10.0.0.5:9090"})

	for _, l := range reg.Find("10.0.0.5") {
		fmt.Printf("%s: %s (%s) %s\n", l.Group, l.Backend.ID, l.Backend.Addr, l.State)
	}
	// Output:
	// api: i-0abc-api (10.0.0.5:9090) healthy
	// web: i-0abc (10.0.0.5:80) healthy
}
