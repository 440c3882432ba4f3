package balancer

import (
	"math"
	"testing"
)

func TestWeightedRandomShares(t *testing.T) {
	for _, ws := range [][]int{{5, 1, 1}, {1, 2, 3, 4}, {100, 1}, {1, 1, 1}, {7, 13, 1, 50, 29}} {
		p := WeightedRandom{Rand: seeded(42)}.Build(endpoints(ws...))
		const picks = 100000
		counts := make([]int, len(ws))
		for range picks {
			counts[p.Pick(Request{})]++
		}
		total := 0
		for _, w := range ws {
			total += w
		}
		for i, w := range ws {
			want := float64(w) / float64(total)
			if got := float64(counts[i]) / picks; math.Abs(got-want) > 0.02*want+0.001 {
				t.Errorf("weights %v: endpoint %d got share %.4f, want %.4f", ws, i, got, want)
			}
		}
	}
}

// TestAliasTableExact checks the alias table's probabilities exactly, by
// summing each endpoint's mass over the columns.
func TestAliasTableExact(t *testing.T) {
	for _, ws := range [][]int{{5, 1, 1}, {1, 2, 3, 4}, {1 << 40, 3, 1 << 39}, {1}, mixedWeights(1000, 100)} {
		table := newAliasTable(endpoints(ws...))
		n := float64(len(ws))
		mass := make([]float64, len(ws))
		for col, e := range table {
			// P(own) = prob/2^32; full columns alias themselves.
			own := float64(e.prob) / (1 << 32)
			mass[col] += own / n
			mass[e.alias] += (1 - own) / n
		}
		var total float64
		for _, w := range ws {
			total += float64(w)
		}
		for i, w := range ws {
			if want := float64(w) / total; math.Abs(mass[i]-want) > 1e-6+want*1e-6 {
				t.Errorf("weights %v: endpoint %d has mass %.9f, want %.9f", ws[:min(len(ws), 5)], i, mass[i], want)
			}
		}
	}
}

func TestRandomUniform(t *testing.T) {
	p := Random{Rand: seeded(43)}.Build(endpoints(5, 1, 1, 1))
	const picks = 100000
	counts := make([]int, 4)
	for range picks {
		counts[p.Pick(Request{})]++
	}
	for i, c := range counts {
		if got := float64(c) / picks; math.Abs(got-0.25) > 0.005 {
			t.Errorf("endpoint %d got share %.4f, want 0.25 whatever its weight", i, got)
		}
	}
}

func TestRoundRobinRotates(t *testing.T) {
	for _, n := range []int{1, 2, 3, 7} {
		p := RoundRobin{}.Build(endpoints(mixedWeights(n, 5)...))
		first := p.Pick(Request{})
		for k := 1; k < 3*n; k++ {
			if got, want := p.Pick(Request{}), (first+k)%n; got != want {
				t.Fatalf("n=%d: pick %d = %d, want %d", n, k, got, want)
			}
		}
	}
	// Start offsets differ between pickers.
	starts := map[int]bool{}
	eps := endpoints(ones(100)...)
	for range 20 {
		starts[RoundRobin{}.Build(eps).Pick(Request{})] = true
	}
	if len(starts) < 2 {
		t.Fatalf("20 pickers all started at endpoint %v", starts)
	}
}
