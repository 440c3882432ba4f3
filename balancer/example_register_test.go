package balancer_test

import (
	"errors"
	"fmt"

	"github.com/go-elb/elb/balancer"
)

// PreferZone is a user-defined algorithm: weighted round robin over the
// endpoints in Zone, or over all endpoints when none is in Zone.
type PreferZone struct{ Zone string }

// Build keeps the indices of the endpoints in the zone and builds a
// built-in picker over them.
func (a PreferZone) Build(endpoints []balancer.Endpoint) balancer.Picker {
	var local []balancer.Endpoint
	var index []int
	for i, e := range endpoints {
		if e.Zone == a.Zone {
			local = append(local, e)
			index = append(index, i)
		}
	}
	if len(local) == 0 {
		return balancer.WeightedRoundRobin{}.Build(endpoints)
	}
	return zonePicker{index: index, local: balancer.WeightedRoundRobin{}.Build(local)}
}

type zonePicker struct {
	index []int // local index -> index in the endpoints Build was given
	local balancer.Picker
}

// Pick maps the local picker's choice back: Pick must return an index into
// the slice Build was given.
func (p zonePicker) Pick(req balancer.Request) int { return p.index[p.local.Pick(req)] }

func init() {
	// Register once, from an init function, so that every group and
	// service config can select the algorithm by name.
	if err := balancer.Register("prefer_zone_az1", PreferZone{Zone: "az1"}); err != nil {
		panic(err)
	}
}

func ExampleRegister() {
	alg, err := balancer.Get("prefer_zone_az1")
	if err != nil {
		fmt.Println(err)
		return
	}
	endpoints := []balancer.Endpoint{
		{ID: "a", Zone: "az2", Weight: 1},
		{ID: "b", Zone: "az1", Weight: 3},
		{ID: "c", Zone: "az1", Weight: 1},
	}
	p := alg.Build(endpoints)
	counts := map[string]int{}
	for range 8 {
		counts[endpoints[p.Pick(balancer.Request{})].ID]++
	}
	fmt.Println(counts)

	// A name is taken for good: a second registration fails.
	err = balancer.Register("prefer_zone_az1", PreferZone{Zone: "az2"})
	fmt.Println(errors.Is(err, balancer.ErrInvalidRegistration))

	_, err = balancer.Get("prefer_zone_az3")
	var unknown *balancer.UnknownAlgorithmError
	fmt.Println(errors.As(err, &unknown), unknown.Name)
	// Output:
	// map[b:6 c:2]
	// true
	// true prefer_zone_az3
}
