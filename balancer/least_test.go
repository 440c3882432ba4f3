package balancer

import (
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-elb/elb/internal/flight"
)

// withInFlight sets the endpoints' in-flight counts.
func withInFlight(eps []Endpoint, counts ...int64) []Endpoint {
	for i, c := range counts {
		eps[i].Load.AddInFlight(c)
	}
	return eps
}

func pickCounts(p Picker, n, picks int) []int {
	counts := make([]int, n)
	for range picks {
		counts[p.Pick(Request{})]++
	}
	return counts
}

func TestWeightedLeastConnectionsPrefersLeastLoaded(t *testing.T) {
	cases := []struct {
		ws, inflight []int64
		want         int
	}{
		{[]int64{1, 1, 1}, []int64{5, 2, 7}, 1},
		{[]int64{1, 4}, []int64{2, 6}, 1},             // 2/1 > 6/4
		{[]int64{1, 4, 2}, []int64{1, 6, 1}, 2},       // 1/1, 6/4, 1/2
		{[]int64{3, 1, 1, 1}, []int64{4, 9, 0, 9}, 2}, // idle wins at once
		{[]int64{100, 1}, []int64{150, 2}, 0},         // 1.5 < 2
	}
	for _, c := range cases {
		ws := make([]int, len(c.ws))
		for i, w := range c.ws {
			ws[i] = int(w)
		}
		p := WeightedLeastConnections{}.Build(withInFlight(endpoints(ws...), c.inflight...))
		for range 50 {
			if got := p.Pick(Request{}); got != c.want {
				t.Fatalf("weights %v in-flight %v: picked %d, want %d", c.ws, c.inflight, got, c.want)
			}
		}
	}
}

func TestWeightedLeastConnectionsTiesGoInWeightedRoundRobin(t *testing.T) {
	for _, busy := range []int64{0, 3} {
		// Equal weights: ties rotate one endpoint at a time.
		const n = 7
		eps := endpoints(ones(n)...)
		for i := range eps {
			eps[i].Load.AddInFlight(busy)
		}
		p := WeightedLeastConnections{}.Build(eps)
		prev := p.Pick(Request{})
		for range 3 * n {
			got := p.Pick(Request{})
			if got != (prev+1)%n {
				t.Fatalf("in-flight %d everywhere: pick %d after %d, want rotation", busy, got, prev)
			}
			prev = got
		}
	}
	// An idle group gets exactly the weighted round-robin shares.
	p := WeightedLeastConnections{}.Build(endpoints(5, 1, 1))
	if c := pickCounts(p, 3, 700); c[0] != 500 || c[1] != 100 || c[2] != 100 {
		t.Fatalf("idle endpoints with weights 5,1,1 got %v picks, want 500,100,100", c)
	}
	// Ties between proportional loads (2/1 and 4/2): a scan that starts on
	// the loser (endpoint 2, weight 1) finds endpoint 0 first.
	p = WeightedLeastConnections{}.Build(withInFlight(endpoints(1, 2, 1), 2, 4, 9))
	if c := pickCounts(p, 3, 400); c[0] != 200 || c[1] != 200 {
		t.Fatalf("tied endpoints got %v picks, want 200 and 200", c)
	}
}

func TestLeastRequestPrefersLeastLoaded(t *testing.T) {
	// The idle endpoint wins whenever it is a candidate: 2 of 5 picks.
	p := LeastRequest{Rand: seeded(1)}.Build(withInFlight(endpoints(ones(5)...), 9, 9, 0, 9, 9))
	if c := pickCounts(p, 5, 100000); math.Abs(float64(c[2])/100000-0.4) > 0.01 {
		t.Fatalf("idle endpoint got %d of 100000 picks, want 40%%", c[2])
	}
	// With every endpoint a candidate, the least loaded always wins.
	p = LeastRequest{ChoiceCount: 5, Rand: seeded(2)}.Build(withInFlight(endpoints(ones(5)...), 4, 3, 8, 1, 2))
	if c := pickCounts(p, 5, 1000); c[3] != 1000 {
		t.Fatalf("choice count 5 of 5: picks %v, want all on endpoint 3", c)
	}
	// Weighted: 2/1 > 6/4, so endpoint 0 wins only when drawn twice (1/25).
	p = LeastRequest{Rand: seeded(3)}.Build(withInFlight(endpoints(1, 4), 2, 6))
	if c := pickCounts(p, 2, 100000); math.Abs(float64(c[0])/100000-0.04) > 0.005 {
		t.Fatalf("weights 1,4 in-flight 2,6: endpoint 0 got %d of 100000 picks, want 4%%", c[0])
	}
}

// TestLeastRequestNeverPicksMostLoaded loads endpoint i with i requests.
// The k candidates are distinct, so the winner is the least of k distinct
// endpoints: never one of the k-1 most loaded (with k >= n, always
// endpoint 0), whatever the draws.
func TestLeastRequestNeverPicksMostLoaded(t *testing.T) {
	for k := 2; k <= 10; k++ {
		for _, n := range []int{2, 3, 5, 12} {
			counts := make([]int64, n)
			for i := range counts {
				counts[i] = int64(i)
			}
			p := LeastRequest{ChoiceCount: k, Rand: seeded(uint64(k*100 + n))}.Build(withInFlight(endpoints(ones(n)...), counts...))
			c := pickCounts(p, n, 2000)
			for i := n - min(k, n) + 1; i < n; i++ {
				if c[i] != 0 {
					t.Fatalf("k=%d n=%d: endpoint %d, among the %d most loaded, got %d picks", k, n, i, min(k, n)-1, c[i])
				}
			}
			if c[0] == 0 {
				t.Fatalf("k=%d n=%d: the least loaded endpoint got no picks", k, n)
			}
		}
	}
}

// evenly returns a source of values spread evenly over [0, 2^64): a Weyl
// sequence with the golden-ratio step. Any run of m values (or every
// other value of one) puts about m/n in each of n equal ranges, off by a
// few, where a random source is off by about sqrt(m/n); so shares can be
// checked tightly from few picks. It is not safe for concurrent use.
func evenly() func() uint64 {
	var x uint64
	return func() uint64 {
		x += 0x9e3779b97f4a7c15
		return x
	}
}

func TestLeastRequestIdleShares(t *testing.T) {
	// Equal weights: uniform. Unequal: exact weight shares.
	for _, ws := range [][]int{{1, 1, 1, 1}, {1, 3}, {5, 1, 1}} {
		for _, k := range []int{2, 3} {
			// Idle, the first candidate wins; drawn from an even
			// source, 10,000 picks give the shares to within 0.5%.
			p := LeastRequest{ChoiceCount: k, Rand: evenly()}.Build(endpoints(ws...))
			const picks = 10000
			c := pickCounts(p, len(ws), picks)
			total := 0
			for _, w := range ws {
				total += w
			}
			for i, w := range ws {
				want := float64(w) / float64(total)
				if got := float64(c[i]) / picks; math.Abs(got-want) > 0.005*want {
					t.Errorf("weights %v k=%d: endpoint %d got %.4f, want %.4f", ws, k, i, got, want)
				}
			}
		}
	}
}

func TestLeastRequestValidate(t *testing.T) {
	for _, k := range []int{0, 2, 5, 10} {
		if err := (LeastRequest{ChoiceCount: k}).Validate(); err != nil {
			t.Errorf("ChoiceCount %d: %v", k, err)
		}
	}
	for _, k := range []int{1, -1, 11, 1000} {
		err := LeastRequest{ChoiceCount: k}.Validate()
		if err == nil || !strings.Contains(err.Error(), strconv.Itoa(k)) {
			t.Errorf("ChoiceCount %d: error %v, want one naming %d", k, err, k)
		}
	}
}

// TestLeastRequestAvoidsSlowBackendInParallel: one slow backend holds every
// request sent to it, the others end theirs a couple of picks later, and
// goroutines on every P pick at once, counting as the group counts (each
// request on its P's part, ended there). least_request compares the
// in-flight counts of the caller's P's part, so a P sends the slow backend
// a request only while the requests it has there number no more than those
// it has on the other candidate, at most the goroutines' outstanding
// requests: the slow backend never holds more than that plus one per part,
// and one per goroutine for picks that race, however many picks there are.
// Random picks would send it a share of them. (With unequal weights the
// candidates are drawn independently, so the slow backend is also sent
// the picks that draw it every time: about picks*(w/total)^k more.)
func TestLeastRequestAvoidsSlowBackendInParallel(t *testing.T) {
	const goroutines, window = 4, 2 // window: the requests a goroutine keeps in flight on fast backends
	parts := min(runtime.GOMAXPROCS(0), MaxLoadStripes)
	bound := int64(parts*(goroutines*window+1) + goroutines)
	for _, n := range []int{2, 3, 10, 100, 164, 1000} {
		for _, c := range []struct {
			name string
			alg  LeastRequest
			ws   func(i int) int
		}{
			{"k=2", LeastRequest{}, func(int) int { return 1 }},
			{"k=3", LeastRequest{ChoiceCount: 3}, func(int) int { return 1 }},
			// The slow backend (0) has the least weight, 1: a fast one's
			// count per weight is at most its count.
			{"k=2 weighted", LeastRequest{}, func(i int) int { return 1 + i%3 }},
		} {
			for _, striped := range []bool{false, true} {
				ws := make([]int, n)
				for i := range ws {
					ws[i] = c.ws(i)
				}
				eps := endpoints(ws...)
				if striped {
					for i := range eps {
						eps[i].Load.makeStripes()
					}
				}
				p := c.alg.Build(eps)
				// Enough picks that a random pick would send the slow
				// backend several times the bound.
				each := max(2000, 40*n)
				if raceEnabled {
					each /= 10
				}
				slow := eps[0].Load
				var held atomic.Int64
				var wg sync.WaitGroup
				for range goroutines {
					wg.Go(func() {
						type started struct {
							l    *Load
							part flight.Part
						}
						var out [window]started
						for k := range each {
							l := eps[p.Pick(Request{})].Load
							part := l.begin()
							if l == slow {
								held.Add(1) // never ends
							} else {
								o := &out[k%window]
								if o.l != nil {
									o.l.end(o.part)
								}
								*o = started{l, part}
							}
							if k%64 == 0 {
								runtime.Gosched() // move, maybe to another P
							}
						}
					})
				}
				wg.Wait()
				want := bound
				if c.ws(0) != c.ws(1) { // drawn alone: picks*(w/total)^2, and 4 standard deviations
					total := 0
					for _, w := range ws {
						total += w
					}
					q := float64(ws[0]) / float64(total)
					e := float64(goroutines*each) * q * q
					want += int64(e + 4*math.Sqrt(e))
				}
				if h := held.Load(); h > want {
					t.Errorf("n=%d %s striped=%v: the slow backend holds %d of %d requests, want at most %d",
						n, c.name, striped, h, goroutines*each, want)
				}
				if got := slow.InFlight(); got != held.Load() {
					t.Errorf("n=%d %s striped=%v: slow backend in flight %d, want %d", n, c.name, striped, got, held.Load())
				}
			}
		}
	}
}

// With AddInFlight counting on the parts (a Load not counted by the
// group), least_request compares the sums: the parts are no one's.
func TestLeastRequestComparesSumsOfLooseParts(t *testing.T) {
	eps := endpoints(1, 1)
	for i := range eps {
		eps[i].Load.makeStripes()
	}
	eps[0].Load.AddInFlight(5) // on the part of this P, which the picks below need not run on
	eps[1].Load.begin()
	eps[1].Load.begin()
	p := LeastRequest{}.Build(eps)
	if c := pickCounts(p, 2, 1000); c[0] != 0 {
		t.Fatalf("in flight 5 and 2: picks %v, want all on endpoint 1", c)
	}
}

// BenchmarkLeastRequestInFlight is a least_request pick and the request's
// begin and end, as the group counts them, on striped Loads: comparing
// the parts of the caller's P ("parts", what the group's Loads do) and
// comparing the sums ("sums", Loads whose parts AddInFlight made loose),
// serially and with b.RunParallel, in one run so that the ratios see the
// same machine.
func BenchmarkLeastRequestInFlight(b *testing.B) {
	for _, n := range []int{3, 100, 1000, 10000} {
		for _, mode := range []string{"parts", "sums"} {
			eps := endpoints(ones(n)...)
			for i := range eps {
				eps[i].Load.makeStripes().loose.Store(mode == "sums")
			}
			p := LeastRequest{}.Build(eps)
			op := func() {
				l := eps[p.Pick(Request{})].Load
				l.end(l.begin())
			}
			name := fmt.Sprintf("%s/n=%d", mode, n)
			b.Run(name+"/serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					op()
				}
			})
			b.Run(name+"/parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						op()
					}
				})
			})
		}
	}
}
