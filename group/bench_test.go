package group_test

import (
	"fmt"
	"testing"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/sticky"
)

// BenchmarkPickDone measures one Pick and its Done, through the group, at
// a few sizes and modes.
func BenchmarkPickDone(b *testing.B) {
	for _, n := range []int{3, 100} {
		for _, mode := range []struct {
			name string
			cfg  group.Config
			req  group.Request
		}{
			{"round_robin", group.Config{Algorithm: "round_robin"}, group.Request{}},
			{"least_request", group.Config{Algorithm: "least_request"}, group.Request{}},
			{"sticky_header", group.Config{Sticky: &sticky.Config{Mode: sticky.Header, Header: "X-S"}}, group.Request{Affinity: "s1"}},
		} {
			b.Run(fmt.Sprintf("%s/n=%d", mode.name, n), func(b *testing.B) {
				g, _ := newGroup(b, mode.cfg, sized(n)...)
				b.ReportAllocs()
				for b.Loop() {
					p, err := g.Pick(ctx, mode.req)
					if err != nil {
						b.Fatal(err)
					}
					p.Done(nil)
				}
			})
		}
	}
}
