package balancer

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// nginxSequence is the reference: nginx's smooth weighted round robin,
// simulated naively for steps picks.
func nginxSequence(ws []int, steps int) []int32 {
	cur := make([]int, len(ws))
	total := 0
	for _, w := range ws {
		total += w
	}
	out := make([]int32, steps)
	for s := range out {
		best := -1
		for i, w := range ws {
			cur[i] += w
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		out[s] = int32(best)
	}
	return out
}

func reduced(ws []int) (r []int, total int) {
	g := 0
	for _, w := range ws {
		g = int(gcd(uint64(w), uint64(g)))
	}
	for _, w := range ws {
		r = append(r, w/g)
		total += w / g
	}
	return r, total
}

func TestWRRNginxSequence(t *testing.T) {
	got := wrrTable(endpoints(5, 1, 1))
	want := []int32{0, 0, 1, 0, 2, 0, 0} // a a b a c a a
	if !slices.Equal(got, want) {
		t.Fatalf("table for 5,1,1 = %v, want %v", got, want)
	}
}

func TestWRRTableMatchesNginx(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := [][]int{{5, 1, 1}, {1}, {3, 3, 3}, {2, 4, 6}, {10, 20, 30, 40}, {1, 2, 1, 2, 1}, {100, 1, 1, 50, 50}}
	for range 200 {
		n := 1 + r.IntN(12)
		ws := make([]int, n)
		for i := range ws {
			ws[i] = 1 + r.IntN(20)
		}
		cases = append(cases, ws)
	}
	for _, ws := range cases {
		red, total := reduced(ws)
		want := nginxSequence(red, total)
		if got := wrrTable(endpoints(ws...)); !slices.Equal(got, want) {
			t.Fatalf("weights %v: table %v, want nginx sequence %v", ws, got, want)
		}
		// nginx's sequence is periodic with period sum(w)/gcd.
		if twice := nginxSequence(ws, 2*total); !slices.Equal(twice[:total], twice[total:]) {
			t.Fatalf("weights %v: nginx sequence not periodic with period %d", ws, total)
		}
	}
}

func TestWRRPickerFollowsTableCyclically(t *testing.T) {
	for range 20 {
		p := WeightedRoundRobin{}.Build(endpoints(5, 1, 1)).(*wrrPicker)
		want := []int32{0, 0, 1, 0, 2, 0, 0}
		picks := make([]int32, 3*len(want))
		for i := range picks {
			picks[i] = int32(p.Pick(Request{}))
		}
		found := false
		for off := range want {
			ok := true
			for i, got := range picks {
				if got != want[(off+i)%len(want)] {
					ok = false
					break
				}
			}
			found = found || ok
		}
		if !found {
			t.Fatalf("picks %v do not follow %v cyclically from any offset", picks, want)
		}
	}
}

// checkEveryWindow picks 2*period-1 times and checks that every window of
// period consecutive picks, at every start offset, holds each endpoint
// exactly its gcd-reduced weight times.
func checkEveryWindow(t *testing.T, ws []int) {
	t.Helper()
	red, period := reduced(ws)
	p := WeightedRoundRobin{}.Build(endpoints(ws...))
	picks := make([]int, 2*period-1)
	for i := range picks {
		picks[i] = p.Pick(Request{})
		if picks[i] < 0 || picks[i] >= len(ws) {
			t.Fatalf("weights %v: pick %d out of range", ws, picks[i])
		}
	}
	counts := make([]int, len(ws))
	for _, i := range picks[:period] {
		counts[i]++
	}
	if !slices.Equal(counts, red) {
		t.Fatalf("weights %v: window at 0 has counts %v, want %v", ws, counts, red)
	}
	for s := 1; s < period; s++ {
		out, in := picks[s-1], picks[s+period-1]
		counts[out]--
		counts[in]++
		if counts[out] != red[out] || counts[in] != red[in] {
			t.Fatalf("weights %v: window at %d has %d x endpoint %d and %d x endpoint %d, want %d and %d",
				ws, s, counts[out], out, counts[in], in, red[out], red[in])
		}
	}
}

func TestWRRExactSharesEveryWindow(t *testing.T) {
	for _, ws := range [][]int{
		{5, 1, 1}, {1}, {1, 1, 1, 1}, {2, 4, 6}, {10, 20, 30, 40}, {3, 6, 9, 12, 15},
		{100, 1}, {7, 3, 100, 1, 55}, {64, 32, 16, 8, 4, 2, 2},
	} {
		checkEveryWindow(t, ws)
	}
}

// strideWeights has period x classes above the smooth-build budget.
func strideWeights() []int {
	ws := make([]int, 3000)
	for i := range ws {
		ws[i] = 1 + i%100
	}
	return ws
}

func TestWRRStrideFallback(t *testing.T) {
	ws := strideWeights()
	red, total := reduced(ws)
	if classes := len(wrrClasses(func() []uint64 {
		u := make([]uint64, len(red))
		for i, w := range red {
			u[i] = uint64(w)
		}
		return u
	}())); total*classes <= wrrSmoothBudget {
		t.Fatalf("test weights do not force the stride fallback: %d x %d steps", total, classes)
	}
	// The table is the static-stride order by its definition.
	maxW := slices.Max(red)
	var want []int32
	for g := range maxW {
		for i, w := range red {
			if (w*g+maxW/2)%maxW >= maxW-w {
				want = append(want, int32(i))
			}
		}
	}
	if got := wrrTable(endpoints(ws...)); !slices.Equal(got, want) {
		t.Fatalf("stride table differs from its definition (len %d, want %d)", len(got), len(want))
	}
	checkEveryWindow(t, ws)
}

func TestWRRStrideMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		n := 1 + r.IntN(20)
		ws := make([]uint64, n)
		var total, maxW uint64
		for i := range ws {
			ws[i] = 1 + r.Uint64N(50)
			total += ws[i]
			maxW = max(maxW, ws[i])
		}
		var want []int32
		for g := range maxW {
			for i, w := range ws {
				if (w*g+maxW/2)%maxW >= maxW-w {
					want = append(want, int32(i))
				}
			}
		}
		if got := strideTable(ws, total); !slices.Equal(got, want) {
			t.Fatalf("weights %v: stride table %v, want %v", ws, got, want)
		}
	}
}

func TestWRRLargeRandomWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	ws := make([]int, 300)
	for i := range ws {
		ws[i] = 1 + r.IntN(100)
	}
	red, total := reduced(ws)
	u := make([]uint64, len(red))
	for i, w := range red {
		u[i] = uint64(w)
	}
	if steps := total * len(wrrClasses(u)); steps > wrrSmoothBudget {
		t.Fatalf("test weights take the stride fallback: %d steps", steps)
	}

	if got, want := wrrTable(endpoints(ws...)), nginxSequence(red, total); !slices.Equal(got, want) {
		t.Fatalf("table of %d entries differs from the nginx sequence", len(want))
	}
	checkEveryWindow(t, ws)
	// A large case with a common divisor.
	for i := range ws {
		ws[i] *= 6
	}
	checkEveryWindow(t, ws)
}

func TestWRRScalesHugeWeights(t *testing.T) {
	ws := []int{1 << 40, 1, 3 << 39}
	table := wrrTable(endpoints(ws...))
	if len(table) > wrrMinTable+len(ws) {
		t.Fatalf("table has %d entries, cap %d", len(table), wrrMinTable)
	}
	counts := make([]int, len(ws))
	for _, i := range table {
		counts[i]++
	}
	if counts[1] < 1 || counts[0] < 2*counts[2]/3-1 || counts[0] > 2*counts[2]/3+1 {
		t.Fatalf("scaled counts %v not proportional to %v", counts, ws)
	}
}
