package balancer

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkPrequalBuild is a rebuild's Build: "empty" over Loads that no
// probe has answered on, "seeded" over Loads that each hold a fresh
// answer, probed in random order (the most that seeding reads: it keeps
// the newest PoolSize; at the default MaxProbeRate and MaxAge at most
// 1,000 answers are fresh).
func BenchmarkPrequalBuild(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		for _, seeded := range []bool{false, true} {
			eps := endpoints(ones(n)...)
			a := Prequal{Probe: idleProbe}
			if seeded {
				p := a.Build(eps).(*pqPicker)
				for _, i := range rand.New(rand.NewPCG(1, 2)).Perm(n) {
					p.probeOne(int32(i))
				}
			}
			name := map[bool]string{false: "empty", true: "seeded"}[seeded]
			b.Run(fmt.Sprintf("n=%d/%s", n, name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					a.Build(eps)
				}
			})
		}
	}
}
