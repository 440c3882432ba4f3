package balancer

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/go-elb/elb/internal/fakeclock"
)

// clocked returns endpoints with the given weights whose Loads read clk.
func clocked(clk *fakeclock.Clock, weights ...int) []Endpoint {
	eps := endpoints(weights...)
	for i := range eps {
		eps[i].Load.SetClock(clk.Now)
	}
	return eps
}

func newClock() *fakeclock.Clock { return fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) }

// near reports whether got is within frac of want.
func near(got, want time.Duration, frac float64) bool {
	return math.Abs(float64(got-want)) <= frac*float64(want)
}

func TestLoadEstimate(t *testing.T) {
	clk := newClock()
	l := new(Load)
	l.SetClock(clk.Now)
	if l.Latency() != 0 {
		t.Fatalf("no sample: Latency %v, want 0", l.Latency())
	}
	l.ObserveLatency(10 * time.Millisecond)
	if got := l.Latency(); !near(got, 10*time.Millisecond, 1e-4) {
		t.Fatalf("first sample 10ms: %v", got)
	}
	// A slower sample replaces the estimate at once, whenever it comes.
	l.ObserveLatency(50 * time.Millisecond)
	if got := l.Latency(); !near(got, 50*time.Millisecond, 1e-4) {
		t.Fatalf("peak 50ms: %v", got)
	}
	// Faster samples move it by time, not by count: 1,000 samples of 10ms
	// in the same millisecond change nothing; samples of 10ms over one
	// decay (3s) move it 63% of the way.
	for range 1000 {
		l.ObserveLatency(10 * time.Millisecond)
	}
	if got := l.Latency(); !near(got, 50*time.Millisecond, 1e-4) {
		t.Fatalf("1000 samples in no time: %v, want 50ms", got)
	}
	for range DefaultDecay / (100 * time.Millisecond) {
		clk.Advance(100 * time.Millisecond)
		l.ObserveLatency(10 * time.Millisecond)
	}
	want := 10*time.Millisecond + time.Duration(40e6*math.Exp(-1))
	if got := l.Latency(); !near(got, want, 0.01) {
		t.Fatalf("after 3s of 10ms samples: %v, want %v", got, want)
	}
	// Without samples the estimate fades toward 0 with the same constant.
	before := l.Latency()
	clk.Advance(DefaultDecay)
	if got := l.Latency(); !near(got, time.Duration(float64(before)*math.Exp(-1)), 0.01) {
		t.Fatalf("after 3s idle: %v, want %v/e", got, before)
	}
	// A failure is at least the penalty, and at least twice the estimate.
	l.ObserveFailure(time.Millisecond)
	if got := l.Latency(); !near(got, DefaultFailurePenalty, 1e-4) {
		t.Fatalf("fast failure: %v, want the 1s penalty", got)
	}
	l.ObserveFailure(0)
	if got := l.Latency(); !near(got, 2*DefaultFailurePenalty, 1e-4) {
		t.Fatalf("second failure: %v, want 2s", got)
	}
	// Estimates are bounded; non-positive samples are ignored.
	for range 100 {
		l.ObserveFailure(0)
	}
	if got := l.Latency(); got > time.Hour || got < 59*time.Minute {
		t.Fatalf("many failures: %v, want the 1h bound", got)
	}
	l2 := new(Load)
	l2.ObserveLatency(-time.Second)
	l2.ObserveLatency(0)
	if l2.Latency() != 0 {
		t.Fatalf("non-positive samples: %v, want none", l2.Latency())
	}
}

func TestLoadBench(t *testing.T) {
	clk := newClock()
	l := new(Load)
	l.SetClock(clk.Now)
	if l.Benched() {
		t.Fatal("benched at start")
	}
	l.Bench(0)
	l.Bench(-time.Second)
	if l.Benched() {
		t.Fatal("benched by a non-positive hint")
	}
	l.Bench(2 * time.Second)
	l.Bench(time.Second) // shorter: changes nothing
	clk.Advance(1999 * time.Millisecond)
	if !l.Benched() {
		t.Fatal("not benched 1.999s into a 2s bench")
	}
	clk.Advance(time.Millisecond)
	if l.Benched() {
		t.Fatal("benched after 2s")
	}
	// The estimate holds through a bench, then fades again.
	l.ObserveLatency(40 * time.Millisecond)
	l.Bench(30 * time.Second)
	clk.Advance(30 * time.Second)
	if got := l.Latency(); !near(got, 40*time.Millisecond, 1e-3) {
		t.Fatalf("after a 30s bench: estimate %v, want the 40ms it had", got)
	}
	clk.Advance(DefaultDecay)
	if got := l.Latency(); !near(got, time.Duration(40e6*math.Exp(-1)), 0.01) {
		t.Fatalf("one decay after the bench: %v, want 40ms/e", got)
	}
	l.Bench(24 * time.Hour) // capped
	clk.Advance(MaxBench - time.Millisecond)
	if !l.Benched() {
		t.Fatal("a capped bench ended early")
	}
	clk.Advance(time.Millisecond)
	if l.Benched() {
		t.Fatalf("a bench of 24h lasted more than MaxBench (%v)", MaxBench)
	}
}

// TestPeakEWMACost: candidates compare by estimate x (in flight+1) /
// weight, estimates decayed to the same moment.
func TestPeakEWMACost(t *testing.T) {
	clk := newClock()
	eps := clocked(clk, 1, 1)
	eps[0].Load.ObserveLatency(10 * time.Millisecond)
	eps[1].Load.ObserveLatency(time.Millisecond)
	withInFlight(eps, 3, 3)
	p := PeakEWMA{Rand: seeded(5)}.Build(eps)
	if c := pickCounts(p, 2, 1000); c[1] != 1000 {
		t.Fatalf("latencies 10ms and 1ms: picks %v, want all on the faster", c)
	}
	// Weighted: costs (8+1)*1ms/1 = 9ms and (3+1)*10ms/4 = 10ms, so endpoint
	// 1 (weight 4) wins only when every candidate, drawn by weight, is
	// endpoint 1: (4/5)^k, 16/25 for two and 64/125 for three (the default).
	eps = clocked(clk, 1, 4)
	eps[0].Load.ObserveLatency(time.Millisecond)
	eps[1].Load.ObserveLatency(10 * time.Millisecond)
	withInFlight(eps, 8, 3)
	for _, k := range []int{2, 0, 3} {
		p = PeakEWMA{ChoiceCount: k, Rand: seeded(6)}.Build(eps)
		kk := k
		if kk == 0 {
			kk = DefaultPeakEWMAChoiceCount
		}
		want := math.Pow(0.8, float64(kk))
		if c := pickCounts(p, 2, 100000); math.Abs(float64(c[1])/100000-want) > 0.01 {
			t.Fatalf("choice count %d, cost 9ms vs 10ms: picks %v, want %.1f%% on endpoint 1", k, c, 100*want)
		}
	}
	// Sampled at different times, decay 10s: endpoint 0's 40ms is 20s old
	// (decayed to 40/e^2 = 5.4ms), endpoint 1's 6ms fresh: endpoint 0 is
	// the cheaper.
	eps = clocked(clk, 1, 1)
	eps[0].Load.ObserveLatency(40 * time.Millisecond)
	clk.Advance(20 * time.Second)
	eps[1].Load.ObserveLatency(6 * time.Millisecond)
	p = PeakEWMA{Decay: 10 * time.Second, Rand: seeded(7)}.Build(eps)
	if c := pickCounts(p, 2, 1000); c[0] != 1000 {
		t.Fatalf("40ms 20s ago vs 6ms now: picks %v, want all on the older", c)
	}
	// ... and with a decay of 1 minute, 40ms is still 28ms: endpoint 1.
	p = PeakEWMA{Decay: time.Minute, Rand: seeded(7)}.Build(eps)
	if c := pickCounts(p, 2, 1000); c[1] != 1000 {
		t.Fatalf("decay 1m: picks %v, want all on the fresher", c)
	}
}

// TestPeakEWMANewEndpoint: an endpoint without a sample is tried at once,
// then competes on in-flight requests until its first answer.
func TestPeakEWMANewEndpoint(t *testing.T) {
	clk := newClock()
	eps := clocked(clk, 1, 1)
	eps[0].Load.ObserveLatency(time.Microsecond)
	p := PeakEWMA{Rand: seeded(8)}.Build(eps)
	if c := pickCounts(p, 2, 1000); c[1] != 1000 {
		t.Fatalf("idle unsampled endpoint: picks %v, want all on it", c)
	}
	withInFlight(eps, 2, 1) // costs: (2+1) vs (1+1): the new one still
	if c := pickCounts(p, 2, 1000); c[1] != 1000 {
		t.Fatalf("unsampled with 1 in flight against 2: picks %v, want all on it", c)
	}
	withInFlight(eps, -2, 2) // now 0 and 3 in flight: 1 vs 4
	if c := pickCounts(p, 2, 1000); c[0] != 1000 {
		t.Fatalf("unsampled with 3 in flight against 0: picks %v, want none on it", c)
	}
}

// TestPeakEWMAFastFailures: a backend that fails fast half the time gets
// few requests, however fast its failures are.
func TestPeakEWMAFastFailures(t *testing.T) {
	clk := newClock()
	eps := clocked(clk, ones(10)...)
	p := PeakEWMA{Rand: seeded(9)}.Build(eps)
	got := make([]int, 10)
	fails := 0
	for i := range 20000 {
		b := p.Pick(Request{})
		got[b]++
		if b == 0 && i%2 == 0 {
			eps[b].Load.ObserveFailure(time.Millisecond)
			fails++
		} else {
			eps[b].Load.ObserveLatency(50 * time.Millisecond)
		}
		clk.Advance(time.Millisecond)
	}
	if got[0] > 200 {
		t.Fatalf("the failing endpoint got %d of 20000 picks (%d failed), want under 1%%: %v", got[0], fails, got)
	}
}

// The picker's promises at every size, with weights, for the load-aware
// built-ins: an idle group's shares follow the weights; a slow endpoint's
// share falls (peak_ewma); a benched endpoint gets nothing while another
// is not benched; with every endpoint benched, picks still succeed.
func TestLoadAwarePromisesAtEverySize(t *testing.T) {
	algs := []struct {
		name string
		alg  Algorithm
	}{
		{"peak_ewma", PeakEWMA{Rand: seeded(1)}},
		{"peak_ewma_k3", PeakEWMA{ChoiceCount: 3, Rand: seeded(2)}},
		{"least_request", LeastRequest{Rand: seeded(3)}},
		{"weighted_least_connections", WeightedLeastConnections{}},
	}
	picks := 20000
	if raceEnabled {
		picks = 4000
	}
	for _, a := range algs {
		for _, n := range propertySizes {
			t.Run(fmt.Sprintf("%s/n=%d", a.name, n), func(t *testing.T) {
				ws := mixedWeights(n, 10)
				class := func(i int) int { return ws[i] - 1 } // weights 1..10
				share := func(c []int, in func(int) bool) (got, want float64) {
					var tot, wsum, wIn float64
					for i := range n {
						tot += float64(c[i])
						wsum += float64(ws[i])
						if in(i) {
							got += float64(c[i])
							wIn += float64(ws[i])
						}
					}
					return got / tot, wIn / wsum
				}
				clk := newClock()
				eps := clocked(clk, ws...)
				p := a.alg.Build(eps)
				c := pickCounts(p, n, picks)
				if a.name != "weighted_least_connections" || 11*n/2 <= picks { // wlc: a whole weighted round-robin period
					for k := range min(n, 10) {
						got, want := share(c, func(i int) bool { return class(i) == k })
						if math.Abs(got-want) > 0.05*want+4/math.Sqrt(float64(picks)*want)*want {
							t.Errorf("idle: weight %d's share %.4f, want %.4f", k+1, got, want)
						}
					}
				}
				slow := func(i int) bool { return i%10 == 0 }
				if a.name != "least_request" && a.name != "weighted_least_connections" && n >= 2 {
					for i := range eps {
						d := time.Millisecond
						if slow(i) {
							d = 10 * time.Millisecond
						}
						eps[i].Load.ObserveLatency(d)
					}
					c = pickCounts(p, n, picks)
					if got, want := share(c, slow); got > want/2 {
						t.Errorf("slow endpoints' share %.4f, want under half their weight share %.4f", got, want)
					}
				}
				benched := func(i int) bool { return i%3 == 0 }
				for i := range eps {
					if benched(i) {
						eps[i].Load.Bench(time.Second)
					}
				}
				c = pickCounts(p, n, picks/10)
				if got, _ := share(c, benched); n > 1 && got != 0 {
					t.Errorf("benched endpoints got %.4f of the picks, want none", got)
				}
				for i := range eps {
					eps[i].Load.Bench(time.Second)
				}
				// Every index in range, or pickCounts fails. (Each pick scans
				// the endpoints: O(n).)
				pickCounts(p, n, min(1000, 100000/n))
				clk.Advance(time.Second)
				c = pickCounts(p, n, picks/10)
				if got, _ := share(c, benched); n > 1 && got == 0 {
					t.Errorf("benches over: the formerly benched endpoints got no pick")
				}
			})
		}
	}
}
