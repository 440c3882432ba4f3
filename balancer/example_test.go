package balancer_test

import (
	"fmt"
	"time"

	"github.com/go-elb/elb/balancer"
)

// Build a picker directly from endpoints and pick: a smooth weighted
// round robin gives each endpoint exactly its share of every 7 picks, and
// a consistent hash sends a key to the same endpoint on every pick.
func Example() {
	endpoints := []balancer.Endpoint{
		{ID: "a", Addr: "10.0.0.1:8080", Weight: 5},
		{ID: "b", Addr: "10.0.0.2:8080", Weight: 1},
		{ID: "c", Addr: "10.0.0.3:8080", Weight: 1},
	}
	wrr := balancer.WeightedRoundRobin{}.Build(endpoints)
	counts := map[string]int{}
	for range 7 {
		counts[endpoints[wrr.Pick(balancer.Request{})].ID]++
	}
	fmt.Println("weighted_round_robin:", counts)

	ch := balancer.ConsistentHash{}.Build(endpoints)
	first := ch.Pick(balancer.Request{Key: "user-42"})
	same := true
	for range 100 {
		same = same && ch.Pick(balancer.Request{Key: "user-42"}) == first
	}
	fmt.Println("consistent_hash: user-42 always on", endpoints[first].ID, same)
	// Output:
	// weighted_round_robin: map[a:5 b:1 c:1]
	// consistent_hash: user-42 always on a true
}

// Select an algorithm and set its options by name, as group.Config's
// Algorithm and the gRPC policy's "algorithm" do: defaults are filled in,
// then the options are validated, and a mistake names its path.
func ExampleParseConfig() {
	name, a, err := balancer.ParseConfig(`{"least_request": {"choiceCount": 3}}`)
	fmt.Println(name, a.(balancer.LeastRequest).ChoiceCount, err)

	name, a, _ = balancer.ParseConfig("least_request") // the name alone: as registered
	fmt.Println(name, a.(balancer.LeastRequest).ChoiceCount)

	_, _, err = balancer.ParseConfig(`{"least_request": {"choiceCount": 1}}`)
	fmt.Println(err)
	_, _, err = balancer.ParseConfig(`{"least_request": {"choices": 3}}`)
	fmt.Println(err)
	// Output:
	// least_request 3 <nil>
	// least_request 0
	// elb: least_request.choiceCount: 1 must be 2-10
	// elb: least_request.choices: unknown field
}

// peak_ewma learns from what requests report: a backend that answers
// slowly, or fails, loses its traffic; one that asks for a pause
// (Retry-After, gRPC pushback) is benched. The group does this from its
// Done; here the Loads are fed by hand.
func ExamplePeakEWMA() {
	endpoints := []balancer.Endpoint{
		{ID: "fast", Weight: 1, Load: new(balancer.Load)},
		{ID: "slow", Weight: 1, Load: new(balancer.Load)},
		{ID: "failing", Weight: 1, Load: new(balancer.Load)},
		{ID: "paused", Weight: 1, Load: new(balancer.Load)},
	}
	endpoints[0].Load.ObserveLatency(5 * time.Millisecond)
	endpoints[1].Load.ObserveLatency(80 * time.Millisecond)
	endpoints[2].Load.ObserveFailure(time.Millisecond) // counts as at least FailurePenalty (1s)
	endpoints[3].Load.ObserveLatency(time.Millisecond)
	endpoints[3].Load.Bench(30 * time.Second)

	p := balancer.PeakEWMA{}.Build(endpoints)
	counts := map[string]int{}
	for range 1000 {
		counts[endpoints[p.Pick(balancer.Request{})].ID]++
	}
	// Of two candidates, the cheaper: fast beats all, slow beats failing,
	// and paused is never taken while another can be.
	fmt.Println(counts["fast"] > counts["slow"], counts["slow"] > counts["failing"], counts["paused"])
	// Output: true true 0
}
