// Command subsetsim prints the figures of group.SubsetConfig's two
// schemes, and of two it does not use for comparison, the README's
// subsetting table: go run ./internal/cmd/subsetsim.
// It simulates, without a network: each client's subset, each client
// sending requests with weighted_round_robin over its subset, and backends
// added and removed one at a time.
package main

import (
	"flag"
	"fmt"
	"time"

	"github.com/go-elb/elb/internal/subset"
)

func main() {
	changes := flag.Int("changes", 5, "backends added, then removed, one at a time, to measure the pairs moved")
	perClient := flag.Int("requests", 1000, "requests each client sends")
	flag.Parse()
	start := time.Now()
	fmt.Println(subset.Header)
	for _, c := range []struct{ clients, backends, k int }{{300, 300, 10}, {300, 300, 30}, {10000, 1000, 32}} {
		for _, s := range append(subset.Schemes, subset.Others...) {
			fmt.Println(subset.Measure(s, c.clients, c.backends, c.k, *perClient, *changes).Row())
		}
	}
	fmt.Printf("\n(%v)\n", time.Since(start).Round(time.Millisecond))
}
