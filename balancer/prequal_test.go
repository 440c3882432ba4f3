package balancer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/fakeclock"
)

var prequalEpoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// idleProbe answers every probe with an idle server.
func idleProbe(context.Context, Endpoint) (ProbeResult, error) { return ProbeResult{}, nil }

// manual builds a prequal picker that starts no goroutine: its probes stay
// queued (in a queue of capacity queue) for the test to run with drain.
func manual(a Prequal, eps []Endpoint, queue int) *pqPicker {
	if a.Probe == nil {
		a.Probe = idleProbe
	}
	p := a.Build(eps).(*pqPicker)
	p.maxWorkers = 0
	p.queue = make(chan int32, queue)
	return p
}

// drain runs p's queued probes on the calling goroutine and returns how
// many there were.
func drain(p *pqPicker) int {
	n := 0
	for {
		select {
		case i := <-p.queue:
			p.probeOne(i)
			n++
		default:
			return n
		}
	}
}

func TestPrequalConfig(t *testing.T) {
	name, a, err := ParseConfig(NamePrequal)
	if _, ok := a.(Prequal); err != nil || name != NamePrequal || !ok || fmt.Sprint(a) != fmt.Sprint(Prequal{}) {
		t.Fatalf("ParseConfig(prequal) = %q, %#v, %v", name, a, err)
	}
	if err := (Prequal{}).Validate(); err != nil {
		t.Fatalf("the zero value: %v", err)
	}
	_, a, err = ParseConfig(`{"prequal": {}}`)
	want := Prequal{Path: "/elb/load", ProbesPerPick: 2, MaxProbeRate: 1000, MaxConcurrentProbes: 16, PoolSize: 16,
		MaxReuse: 2, MaxAge: time.Second, ProbeTimeout: 500 * time.Millisecond, HotQuantile: 0.84}
	if err != nil || a.(Prequal).Probe != nil || fmt.Sprint(a) != fmt.Sprint(want) {
		t.Fatalf("defaults: %+v, %v; want %+v", a, err, want)
	}
	_, a, err = ParseConfig(`{"prequal": {"path": "/load", "probesPerPick": 1.5, "maxProbeRate": 50, "maxConcurrentProbes": 4,
		"poolSize": 8, "maxReuse": 5, "maxAge": "250ms", "probeTimeout": "100ms", "hotQuantile": 1}}`)
	want = Prequal{Path: "/load", ProbesPerPick: 1.5, MaxProbeRate: 50, MaxConcurrentProbes: 4, PoolSize: 8,
		MaxReuse: 5, MaxAge: 250 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond, HotQuantile: 1}
	if err != nil || fmt.Sprint(a) != fmt.Sprint(want) {
		t.Fatalf("options: %+v, %v; want %+v", a, err, want)
	}
	for js, msg := range map[string]string{
		`{"poolSize": 0}`:            "elb: prequal.poolSize: 0 must be 1-256",
		`{"poolSize": 257}`:          "elb: prequal.poolSize: 257 must be 1-256",
		`{"path": "load"}`:           `elb: prequal.path: "load" must start with "/"`,
		`{"path": ""}`:               `elb: prequal.path: "" must start with "/"`,
		`{"probesPerPick": 0}`:       "elb: prequal.probesPerPick: 0 must be more than 0 (at least 1/256) and at most 16",
		`{"probesPerPick": 17}`:      "elb: prequal.probesPerPick: 17 must be more than 0 (at least 1/256) and at most 16",
		`{"probesPerPick": 0.001}`:   "elb: prequal.probesPerPick: 0.001 must be more than 0 (at least 1/256) and at most 16",
		`{"maxProbeRate": 0.5}`:      "elb: prequal.maxProbeRate: 0.5 must be 1-1e+06",
		`{"maxConcurrentProbes": 0}`: "elb: prequal.maxConcurrentProbes: 0 must be 1-1024",
		`{"maxReuse": 1001}`:         "elb: prequal.maxReuse: 1001 must be 1-1000",
		`{"maxAge": "0s"}`:           "elb: prequal.maxAge: 0s must be 1ms-1m",
		`{"maxAge": "2m"}`:           "elb: prequal.maxAge: 2m0s must be 1ms-1m",
		`{"maxAge": 5}`:              `elb: prequal.maxAge: 5 is not a duration such as "5s"`,
		`{"probeTimeout": "1us"}`:    "elb: prequal.probeTimeout: 1µs must be 1ms-1m",
		`{"hotQuantile": 0}`:         "elb: prequal.hotQuantile: 0 must be more than 0 and at most 1",
		`{"hotQuantile": 1.01}`:      "elb: prequal.hotQuantile: 1.01 must be more than 0 and at most 1",
		`{"probe": 1}`:               "elb: prequal.probe: unknown field",
		`{"PoolSize": 4}`:            `elb: prequal.PoolSize: unknown field (names are exact: did you mean "poolSize"?)`,
	} {
		_, _, err := ParseConfig(`{"prequal": ` + js + `}`)
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, elb.ErrInvalidConfig) || err.Error() != msg {
			t.Errorf("%s: %v, want %q", js, err, msg)
		}
	}
	for _, a := range []Prequal{{PoolSize: -1}, {HotQuantile: math.NaN()}, {MaxProbeRate: math.Inf(1)}, {Path: "x"}, {MaxAge: -time.Second}} {
		err := a.Validate()
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), ce.Field) || ce.Field == "" || ce.Field[0] < 'A' || ce.Field[0] > 'Z' {
			t.Errorf("Validate(%+v) = %v, want an error naming the Go field", a, err)
		}
	}
	// Build clamps what Validate rejects.
	p := Prequal{PoolSize: 1000, HotQuantile: 7, MaxProbeRate: -1, ProbesPerPick: 100, MaxReuse: -3, Probe: idleProbe}.Build(endpoints(1, 1)).(*pqPicker)
	if cap(p.pool) != maxPoolSize || p.quantile != defaultHotQuantile || p.interval != int64(time.Second) || p.perPick != 16*256 || p.maxReuse != 1 {
		t.Fatalf("not clamped: %+v", p)
	}
}

// The hot-cold rule, exactly, on crafted pools.
func TestPrequalHotColdRule(t *testing.T) {
	e := func(idx int32, rif int64, lat time.Duration) pqEntry {
		return pqEntry{idx: idx, rif: rif, lat: int64(lat)}
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		thr  int64
		pool []pqEntry
		want int
	}{
		{"cold: lowest latency", 5, []pqEntry{e(0, 1, 9*ms), e(1, 5, 3*ms), e(2, 6, 1*ms), e(3, 0, 4*ms)}, 1},
		{"cold beats a hot answer of lower latency", 2, []pqEntry{e(0, 3, ms), e(1, 2, 50*ms)}, 1},
		{"cold tie on latency: fewer in flight", 9, []pqEntry{e(0, 4, 2*ms), e(1, 3, 2*ms), e(2, 5, 2*ms)}, 1},
		{"cold tie: lower index", 9, []pqEntry{e(4, 3, 2*ms), e(2, 3, 2*ms), e(7, 3, 2*ms)}, 2},
		{"all hot: fewest in flight", 1, []pqEntry{e(0, 9, ms), e(1, 4, 90*ms), e(2, 7, 2*ms)}, 1},
		{"all hot tie: lower latency", 1, []pqEntry{e(0, 4, 5*ms), e(1, 4, 3*ms), e(2, 4, 4*ms)}, 1},
		{"all hot tie: lower index", 1, []pqEntry{e(3, 4, ms), e(1, 4, ms)}, 1},
		{"no threshold yet: all cold", math.MaxInt64, []pqEntry{e(0, 100, 2*ms), e(1, 0, 3*ms)}, 0},
		{"unknown latency (0) is tried first", 9, []pqEntry{e(0, 1, ms), e(1, 2, 0)}, 1},
		{"one answer: no choice", 0, []pqEntry{e(5, 3, ms)}, -1},
	} {
		p := manual(Prequal{MaxReuse: 1000}, endpoints(ones(8)...), 1)
		p.threshold.Store(tc.thr)
		p.pool = append(p.pool[:0], tc.pool...)
		if got, _ := p.choose(0); got != tc.want {
			t.Errorf("%s: chose %d, want %d", tc.name, got, tc.want)
		}
		for _, x := range p.pool {
			orig := tc.pool[slicesIndex(tc.pool, x.idx)]
			if used := x.idx == int32(tc.want); x.uses != map[bool]int32{true: 1}[used] || x.rif != orig.rif+int64(x.uses) {
				t.Errorf("%s: after the pick, endpoint %d's answer is %+v (was %+v)", tc.name, x.idx, x, orig)
			}
		}
	}
}

func slicesIndex(pool []pqEntry, idx int32) int {
	for j := range pool {
		if pool[j].idx == idx {
			return j
		}
	}
	return -1
}

// The hot threshold is the HotQuantile quantile, by nearest rank, of the
// last 4 x PoolSize answers' in-flight counts.
func TestPrequalHotThreshold(t *testing.T) {
	if got := nearestRank([]int64{5, 1, 4, 2, 3}, 0.84); got != 5 { // ceil(4.2) = 5th
		t.Fatalf("q=0.84 of 1..5: %d", got)
	}
	for q, want := range map[float64]int64{0.7: 7, 0.5: 5, 0.01: 1, 1: 10, 0.84: 9} { // 0.7 x 10 is 7, not 7.000000000000001
		if got := nearestRank([]int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, q); got != want {
			t.Errorf("q=%v of 1..10: %d, want %d", q, got, want)
		}
	}
	var rif atomic.Int64
	probe := func(context.Context, Endpoint) (ProbeResult, error) { return ProbeResult{InFlight: rif.Load()}, nil }
	p := manual(Prequal{Probe: probe, PoolSize: 2, HotQuantile: 0.5}, endpoints(1, 1), 1) // history of 8
	for i := range int64(8) {
		rif.Store(100 + i)
		p.probeOne(0)
	}
	if got := p.threshold.Load(); got != 103 {
		t.Fatalf("threshold of 100..107 at q=0.5: %d", got)
	}
	for range 8 { // the old answers leave the history
		rif.Store(1)
		p.probeOne(1)
	}
	if got := p.threshold.Load(); got != 1 {
		t.Fatalf("threshold after 8 answers of 1: %d", got)
	}
}

// Answers older than MaxAge leave the pool; an answer serves MaxReuse
// picks, each adding 1 to its in-flight count; a new answer replaces its
// endpoint's, or the oldest in a full pool; a failed probe removes its
// endpoint's answer.
func TestPrequalAgingAndReuse(t *testing.T) {
	clock := fakeclock.New(prequalEpoch)
	var lat atomic.Int64
	fail := atomic.Bool{}
	probe := func(_ context.Context, ep Endpoint) (ProbeResult, error) {
		if fail.Load() {
			return ProbeResult{}, errors.New("refused")
		}
		return ProbeResult{InFlight: 1, Latency: time.Duration(lat.Load())}, nil
	}
	p := manual(Prequal{Probe: probe, Now: clock.Now, MaxAge: 100 * time.Millisecond, MaxReuse: 3, PoolSize: 2}, endpoints(1, 1, 1), 1)
	lat.Store(int64(2 * time.Millisecond))
	p.probeOne(0)
	clock.Advance(10 * time.Millisecond)
	lat.Store(int64(time.Millisecond))
	p.probeOne(1)
	clock.Advance(90 * time.Millisecond) // 0's answer is exactly MaxAge old: kept
	if i, _ := p.choose(p.since()); i != 1 || len(p.pool) != 2 {
		t.Fatalf("answers of age MaxAge and less: chose %d, pool %+v", i, p.pool)
	}
	clock.Advance(time.Nanosecond)
	if i, _ := p.choose(p.since()); i != -1 || len(p.pool) != 1 || p.pool[0].idx != 1 {
		t.Fatalf("one answer older than MaxAge: chose %d (want -1: one answer is no choice), pool %+v", i, p.pool)
	}
	// Reuse: 1's answer (the better) serves MaxReuse picks in all, each
	// adding one in flight.
	p.probeOne(0) // 1ms too now; 0's answer has fewer in flight
	p.pool[slicesIndex(p.pool, 0)].lat = int64(5 * time.Millisecond)
	p.threshold.Store(math.MaxInt64) // none hot
	for k := 1; k < 3; k++ {
		if i, _ := p.choose(p.since()); i != 1 {
			t.Fatalf("use %d: chose %d", k+1, i)
		}
		if k < 2 {
			if e := p.pool[slicesIndex(p.pool, 1)]; e.uses != int32(k+1) || e.rif != int64(2+k) {
				t.Fatalf("use %d: %+v", k+1, e)
			}
		}
	}
	if slicesIndex(p.pool, 1) >= 0 || len(p.pool) != 1 {
		t.Fatalf("used MaxReuse times, still in the pool: %+v", p.pool)
	}
	p.pool = p.pool[:0]
	// Replacement: same endpoint, then the oldest.
	p.probeOne(0)
	clock.Advance(time.Millisecond)
	p.probeOne(1)
	clock.Advance(time.Millisecond)
	p.probeOne(0) // replaces 0's answer
	if len(p.pool) != 2 {
		t.Fatalf("pool %+v", p.pool)
	}
	clock.Advance(time.Millisecond)
	p.probeOne(2) // replaces the oldest, 1's
	if slicesIndex(p.pool, 1) >= 0 || slicesIndex(p.pool, 0) < 0 || slicesIndex(p.pool, 2) < 0 {
		t.Fatalf("pool %+v: the oldest (1) should have gone", p.pool)
	}
	fail.Store(true)
	p.probeOne(2)
	if slicesIndex(p.pool, 2) >= 0 || len(p.pool) != 1 {
		t.Fatalf("failed probe kept its answer: %+v", p.pool)
	}
	for _, bad := range []ProbeResult{{InFlight: -1}, {Latency: -1}} {
		p.probe = func(context.Context, Endpoint) (ProbeResult, error) { return bad, nil }
		p.probeOne(0)
		if len(p.pool) != 0 {
			t.Fatalf("answer %+v was kept: %+v", bad, p.pool)
		}
	}
}

// Probes number ProbesPerPick per pick on average, at most MaxProbeRate a
// second beyond a burst of PoolSize, distinct within a pick, and never
// more than the queue holds.
func TestPrequalProbeRate(t *testing.T) {
	counts := func(perPick float64, picks int) int {
		p := manual(Prequal{ProbesPerPick: perPick, MaxProbeRate: maxMaxProbeRate}, endpoints(ones(1000)...), 1<<16)
		clock := fakeclock.New(prequalEpoch)
		p.now, p.epoch = clock.Now, prequalEpoch
		total := 0
		for range picks {
			clock.Advance(time.Millisecond)
			p.Pick(Request{})
			total += drain(p)
		}
		return total
	}
	for perPick, want := range map[float64]int{3: 3 * 512, 1.5: 768, 0.25: 128, 16: 16 * 512, 1.0 / 256: 2} {
		// Duplicate draws within one pick are dropped: 1000 endpoints make them rare, not absent.
		if got := counts(perPick, 512); got > want || got < want*97/100 {
			t.Errorf("%v per pick: %d probes over 512 picks, want %d", perPick, got, want)
		}
	}
	// The rate limit: a burst of PoolSize, then one per interval.
	clock := fakeclock.New(prequalEpoch)
	p := manual(Prequal{Now: clock.Now, MaxProbeRate: 100, PoolSize: 8, ProbesPerPick: 16}, endpoints(ones(64)...), 1<<16)
	probes := 0
	for range 100 {
		p.Pick(Request{})
		probes += drain(p)
	}
	if probes != 8 {
		t.Fatalf("burst: %d probes at one instant, want PoolSize (8)", probes)
	}
	for step := range 1000 {
		clock.Advance(time.Millisecond)
		for range 3 {
			p.Pick(Request{})
		}
		probes += drain(p)
		if bound := 8 + (step+1)/10; probes > bound {
			t.Fatalf("after %d ms: %d probes, over %d", step+1, probes, bound)
		}
	}
	if probes < 8+100-1 {
		t.Fatalf("%d probes in 1s at 100/s", probes)
	}
	// Within one pick, targets are distinct: with 2 endpoints, at most 2.
	p = manual(Prequal{ProbesPerPick: 16, MaxProbeRate: maxMaxProbeRate}, endpoints(1, 1), 64)
	for range 50 {
		p.Pick(Request{})
		if n := len(p.queue); n > 2 {
			t.Fatalf("%d probes queued by one pick over 2 endpoints", n)
		}
		seen := map[int32]bool{}
		for len(p.queue) > 0 {
			i := <-p.queue
			if seen[i] {
				t.Fatalf("endpoint %d probed twice by one pick", i)
			}
			seen[i] = true
		}
	}
	// A full queue drops probes: Pick never waits.
	p = manual(Prequal{ProbesPerPick: 16}, endpoints(ones(100)...), 4)
	for range 100 {
		p.Pick(Request{})
	}
	if len(p.queue) != 4 {
		t.Fatalf("queue of 4 holds %d", len(p.queue))
	}
}

// At every size, with equal and mixed weights: every pick is in range,
// the first pick (empty pool) needs no probe, and every endpoint gets
// probed (nothing starves), in proportion to weight.
//
// Each size runs on one goroutine, deterministically (manual probes, a
// fake clock, a seeded source): under -race, where 10,000 endpoints cost
// two seconds, the sizes stop at 1,000; .ci/run runs every size without.
func TestPrequalPropertiesAtEverySize(t *testing.T) {
	for _, n := range propertySizes {
		if raceEnabled && n > 1000 {
			continue
		}
		for _, m := range []int{1, 10} {
			ws := mixedWeights(n, m)
			t.Run(fmt.Sprintf("n=%d/weights=1-%d", n, m), func(t *testing.T) {
				clock := fakeclock.New(prequalEpoch)
				eps := endpoints(ws...)
				probe := func(_ context.Context, ep Endpoint) (ProbeResult, error) {
					i := len(ep.ID) // some spread of loads
					return ProbeResult{InFlight: int64(i % 7), Latency: time.Duration(i%5+1) * time.Millisecond}, nil
				}
				perPick := 3
				if n >= 1000 {
					perPick = 16 // the same draws, in fewer picks
				}
				p := manual(Prequal{Probe: probe, Now: clock.Now, MaxProbeRate: maxMaxProbeRate, ProbesPerPick: float64(perPick), Rand: seeded(uint64(n))}, eps, 64)
				probed := make([]int, n)
				missing := n
				picks := 0
				// Until every endpoint has been probed, and for at least 8
				// probes an endpoint on average; bounded.
				for (missing > 0 || picks < 8*n/perPick) && picks < 200*n {
					if picks%16 == 0 {
						clock.Advance(time.Millisecond)
					}
					picks++
					if picks <= 8*n/perPick {
						i := p.Pick(Request{})
						if i < 0 || i >= n {
							t.Fatalf("pick %d: %d", picks, i)
						}
						eps[i].Load.AddInFlight(1)
						eps[i].Load.AddInFlight(-1)
					} else if n > 1 {
						p.issue(p.since()) // the rest of the coupon collection: Pick's probes alone
					}
					for k := 0; len(p.queue) > 0; k++ {
						j := <-p.queue
						if probed[j] == 0 {
							missing--
						}
						probed[j]++
						if k == 0 && picks < 2000 { // answer some, to keep the pool in use
							p.probeOne(j)
						}
					}
				}
				if n == 1 {
					if missing != 1 {
						t.Fatal("one endpoint was probed")
					}
					return
				}
				if missing > 0 {
					t.Fatalf("%d of %d endpoints never probed in %d picks", missing, n, picks)
				}
				if m == 10 && n >= 100 {
					// Weight 10 endpoints are probed about 10 times as often as weight 1's.
					var heavy, light, nh, nl int
					for i, w := range ws {
						switch w {
						case 1:
							light += probed[i]
							nl++
						case 10:
							heavy += probed[i]
							nh++
						}
					}
					if r := (float64(heavy) / float64(nh)) / (float64(light) / float64(nl)); r < 7 || r > 13 {
						t.Fatalf("weight 10 probed %.1f times as often as weight 1", r)
					}
				}
			})
		}
	}
}

// With an empty pool Pick is least_request's P2C on the client's own
// in-flight counts: over two endpoints, always the less loaded.
func TestPrequalFallsBackToLeastRequest(t *testing.T) {
	eps := withInFlight(endpoints(1, 1), 5, 0)
	p := manual(Prequal{}, eps, 1<<10)
	for range 100 {
		if i := p.Pick(Request{}); i != 1 {
			t.Fatalf("empty pool: picked %d, want the idle 1", i)
		}
	}
	if len(p.queue) == 0 {
		t.Fatal("the picks queued no probe")
	}
}

// A picker over one endpoint never probes.
func TestPrequalOneEndpointNeverProbes(t *testing.T) {
	p := manual(Prequal{}, endpoints(1), 8)
	for range 10 {
		if p.Pick(Request{}) != 0 {
			t.Fatal("not 0")
		}
	}
	if len(p.queue) != 0 {
		t.Fatalf("%d probes queued", len(p.queue))
	}
}

// A rebuilt picker neither probes nor picks an endpoint that left, though
// the old one's answer for it was the best.
func TestPrequalEndpointRemoval(t *testing.T) {
	eps := endpoints(1, 1, 1)
	slow := func(_ context.Context, ep Endpoint) (ProbeResult, error) {
		if ep.ID == "e1" {
			return ProbeResult{InFlight: 0, Latency: time.Microsecond}, nil
		}
		return ProbeResult{InFlight: 3, Latency: time.Second}, nil
	}
	old := manual(Prequal{Probe: slow, MaxReuse: 1000}, eps, 8)
	old.probeOne(0)
	old.probeOne(1)
	if old.Pick(Request{}) != 1 {
		t.Fatal("old picker does not prefer e1")
	}
	kept := []Endpoint{eps[0], eps[2]}
	var probedIDs sync.Map
	p := manual(Prequal{Probe: func(ctx context.Context, ep Endpoint) (ProbeResult, error) {
		probedIDs.Store(ep.ID, true)
		return slow(ctx, ep)
	}}, kept, 64)
	for range 200 {
		i := p.Pick(Request{})
		if i < 0 || i > 1 {
			t.Fatalf("picked %d of 2", i)
		}
		drain(p)
	}
	if _, ok := probedIDs.Load("e1"); ok {
		t.Fatal("the endpoint that left was probed")
	}
}

// Probe goroutines: at most MaxConcurrentProbes at once, each probe
// bounded by ProbeTimeout, and all of them gone soon after the picks stop
// (pickers have no Close), also when the picker is replaced.
func TestPrequalGoroutinesAreBoundedAndEnd(t *testing.T) {
	base := runtime.NumGoroutine()
	eps := endpoints(ones(50)...)
	for round := range 3 { // each round a new picker, as a rebuild makes
		var running, peak atomic.Int32
		probe := func(ctx context.Context, ep Endpoint) (ProbeResult, error) {
			r := running.Add(1)
			for {
				m := peak.Load()
				if r <= m || peak.CompareAndSwap(m, r) {
					break
				}
			}
			defer running.Add(-1)
			if ep.ID == "e3" {
				<-ctx.Done() // a server that never answers
				return ProbeResult{}, ctx.Err()
			}
			time.Sleep(100 * time.Microsecond)
			return ProbeResult{InFlight: 1, Latency: time.Millisecond}, nil
		}
		a := Prequal{Probe: probe, MaxConcurrentProbes: 4, ProbeTimeout: 20 * time.Millisecond, MaxProbeRate: maxMaxProbeRate}
		p := a.Build(eps[round:])
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 500 {
					i := p.Pick(Request{})
					eps[round+i].Load.AddInFlight(1)
					eps[round+i].Load.AddInFlight(-1)
				}
			})
		}
		wg.Wait()
		t.Cleanup(func() {
			if m := peak.Load(); m > 4 || m < 1 {
				t.Errorf("round %d: peak concurrent probes %d, want 1-4", round, m)
			}
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > base {
		t.Fatalf("%d goroutines, %d before", g, base)
	}
}

// Concurrent picks while answers arrive (run with -race): every index is
// in range.
func TestPrequalConcurrentPicksInRange(t *testing.T) {
	for _, n := range []int{2, 3, 1000} {
		eps := endpoints(mixedWeights(n, 5)...)
		p := Prequal{Probe: func(_ context.Context, ep Endpoint) (ProbeResult, error) {
			return ProbeResult{InFlight: ep.Load.InFlight(), Latency: time.Duration(len(ep.ID)) * time.Millisecond}, nil
		}, PoolSize: 4}.Build(eps)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 2000 {
					i := p.Pick(Request{})
					if i < 0 || i >= n {
						t.Errorf("n=%d: picked %d", n, i)
						return
					}
					eps[i].Load.AddInFlight(1)
					eps[i].Load.AddInFlight(-1)
				}
			})
		}
		wg.Wait()
	}
}

// Pick allocates nothing while no probe goroutine has to start.
func TestPrequalPickDoesNotAllocate(t *testing.T) {
	for _, n := range propertySizes {
		p := manual(Prequal{}, endpoints(mixedWeights(n, 10)...), 1<<20)
		p.probeOne(0)
		if a := testing.AllocsPerRun(200, func() { p.Pick(Request{}) }); a != 0 {
			t.Errorf("n=%d: Pick allocates %v times", n, a)
		}
	}
}

func TestParseProbeAnswer(t *testing.T) {
	for in, want := range map[string]ProbeResult{
		`{"inFlight": 3, "latencyMs": 12.5}`:             {3, 12500 * time.Microsecond},
		`{"inFlight":0}`:                                 {0, 0},
		` {"latencyMs": 0, "inFlight": 7, "x": {}} `:     {7, 0},
		`{"inFlight": 2147483647, "latencyMs": 3600000}`: {math.MaxInt32, time.Hour},
		`{"inFlight": 1e2}`:                              {}, // not an integer
	} {
		got, err := parseProbeAnswer([]byte(in))
		if want == (ProbeResult{}) && in == `{"inFlight": 1e2}` {
			if err == nil {
				t.Errorf("%s: no error", in)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{``, `{}`, `[]`, `{"inFlight": -1}`, `{"inFlight": 2147483648}`, `{"inFlight": "3"}`,
		`{"inFlight": 1, "latencyMs": -1}`, `{"inFlight": 1, "latencyMs": 3600001}`, `{"inFlight": 1} {}`, `{"inFlight": 1.5}`,
		`{"inFlight": 1, "latencyMs": "1"}`, `{"inFlight": 1` + strings.Repeat(" ", maxProbeAnswer) + `}`} {
		if r, err := parseProbeAnswer([]byte(in)); !errors.Is(err, errProbeAnswer) {
			t.Errorf("%q: %+v, %v; want a malformed probe answer", in, r, err)
		}
	}
}

func FuzzParseProbeAnswer(f *testing.F) {
	for _, s := range []string{`{"inFlight": 3, "latencyMs": 12.5}`, `{"inFlight":0}`, `{"inFlight": 1e2}`, `{}`, `null`,
		`{"inFlight": 9223372036854775808}`, `{"inFlight": 1, "latencyMs": 1e308}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseProbeAnswer(b)
		if err != nil {
			if !errors.Is(err, errProbeAnswer) || r != (ProbeResult{}) {
				t.Fatalf("%q: %+v, %v", b, r, err)
			}
			return
		}
		if r.InFlight < 0 || r.InFlight > math.MaxInt32 || r.Latency < 0 || r.Latency > time.Hour {
			t.Fatalf("%q: out of range %+v", b, r)
		}
	})
}

// BenchmarkPrequalPickDone is Pick+Done against least_request's in the
// same run, serial and parallel: "probing" answers every probe at once on
// the probe goroutines (their starts allocate); "capped" issues one probe
// a second, so what is measured is the pick path alone.
func BenchmarkPrequalPickDone(b *testing.B) {
	answer := func(_ context.Context, ep Endpoint) (ProbeResult, error) {
		return ProbeResult{InFlight: ep.Load.InFlight(), Latency: time.Millisecond}, nil
	}
	for _, n := range []int{3, 100, 1000, 10000} {
		for _, tc := range []struct {
			name string
			alg  Algorithm
		}{
			{"least_request", LeastRequest{}},
			{"prequal_capped", Prequal{Probe: answer, MaxProbeRate: 1}},
			{"prequal_probing", Prequal{Probe: answer, MaxProbeRate: maxMaxProbeRate}},
		} {
			eps := endpoints(ones(n)...)
			b.Run(fmt.Sprintf("%s/n=%d/serial", tc.name, n), func(b *testing.B) {
				p := tc.alg.Build(eps)
				b.ReportAllocs()
				for b.Loop() {
					l := eps[p.Pick(Request{})].Load
					l.AddInFlight(1)
					l.AddInFlight(-1)
				}
			})
			b.Run(fmt.Sprintf("%s/n=%d/parallel", tc.name, n), func(b *testing.B) {
				p := tc.alg.Build(eps)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						l := eps[p.Pick(Request{})].Load
						l.AddInFlight(1)
						l.AddInFlight(-1)
					}
				})
			})
		}
	}
}

// A rebuilt picker starts from the answers on its endpoints' Loads: the
// newest PoolSize of them that are at most MaxAge old, succeeded, and
// served fewer than MaxReuse picks in all pickers (their uses counted on);
// and a late answer of the replaced picker is harmless.
func TestPrequalPoolSurvivesRebuilds(t *testing.T) {
	clock := fakeclock.New(prequalEpoch)
	rif := map[string]int64{"e0": 4, "e1": 0, "e2": 4}
	fail := map[string]bool{}
	probe := func(_ context.Context, ep Endpoint) (ProbeResult, error) {
		if fail[ep.ID] {
			return ProbeResult{}, errors.New("refused")
		}
		return ProbeResult{InFlight: rif[ep.ID], Latency: time.Millisecond}, nil
	}
	a := Prequal{Probe: probe, Now: clock.Now, MaxAge: 100 * time.Millisecond, MaxReuse: 3, PoolSize: 2}
	eps := endpoints(1, 1, 1)
	old := manual(a, eps, 8)
	if len(old.pool) != 0 || old.threshold.Load() != math.MaxInt64 {
		t.Fatalf("first picker: pool %+v, threshold %d", old.pool, old.threshold.Load())
	}
	old.probeOne(0)
	clock.Advance(time.Millisecond)
	old.probeOne(1)
	clock.Advance(time.Millisecond)
	old.probeOne(2) // the pool holds 2: replaces 0's, the oldest
	if i := old.Pick(Request{}); i != 1 {
		t.Fatalf("old picker chose %d, want 1 (fewest in flight)", i)
	}
	// The new picker: 1's and 2's answers, 1's used once; 0's, older, left out.
	p := manual(a, eps, 8)
	if len(p.pool) != 2 || slicesIndex(p.pool, 0) >= 0 || p.threshold.Load() != 4 {
		t.Fatalf("seeded pool %+v, threshold %d", p.pool, p.threshold.Load())
	}
	if e := p.pool[slicesIndex(p.pool, 1)]; e.uses != 1 || e.rif != 1 || e.lat != int64(time.Millisecond) || e.at != -int64(time.Millisecond) {
		t.Fatalf("1's seeded answer %+v, want 1 use, 1 in flight, 1ms old", e)
	}
	if i := p.Pick(Request{}); i != 1 {
		t.Fatalf("second picker chose %d", i)
	}
	// 1's answer served 2 picks of 3: a third picker gets its last.
	p = manual(a, eps, 8)
	if e := p.pool[slicesIndex(p.pool, 1)]; e.uses != 2 || e.rif != 2 {
		t.Fatalf("third picker: 1's answer %+v, want 2 uses", e)
	}
	if i := p.Pick(Request{}); i != 1 || slicesIndex(p.pool, 1) >= 0 {
		t.Fatalf("third picker chose %d, pool %+v", i, p.pool)
	}
	if p := manual(a, eps, 8); slicesIndex(p.pool, 1) >= 0 || len(p.pool) != 2 { // 0's and 2's
		t.Fatalf("1's answer, used MaxReuse times, seeded: %+v", p.pool)
	}
	// Picks from a seeded pool allocate nothing (their uses go to the Loads).
	b := a
	b.MaxReuse = 1000
	p = manual(b, eps, 8)
	if n := testing.AllocsPerRun(100, func() { p.Pick(Request{}) }); n != 0 || len(p.pool) != 2 {
		t.Fatalf("picks from a seeded pool allocate %v times (pool %+v)", n, p.pool)
	}
	// A late answer of a replaced picker replaces the Load's; uses of the
	// answer it replaced count for nothing.
	old.probeOne(2) // fresh: the picks above used up 2's answer
	p = manual(a, eps, 8)
	old.probeOne(2)
	uses := eps[2].Load.probe.uses.Load()
	p.pool = append(p.pool[:0], p.pool[slicesIndex(p.pool, 2)], pqEntry{idx: 0, rif: 1 << 40, lat: 1 << 40})
	if i := p.Pick(Request{}); i != 2 || eps[2].Load.probe.uses.Load() != uses {
		t.Fatalf("chose %d; the newer answer's uses %x, were %x", i, eps[2].Load.probe.uses.Load(), uses)
	}
	// Failed, or older than MaxAge: not seeded.
	fail["e2"] = true
	old.probeOne(2)
	if p := manual(a, eps, 8); slicesIndex(p.pool, 2) >= 0 {
		t.Fatalf("failed probe seeded: %+v", p.pool)
	}
	fail["e2"] = false
	old.probeOne(2)
	// A picker on another clock (the real one) takes nothing from these.
	if p := manual(Prequal{Probe: probe}, eps, 8); len(p.pool) != 0 {
		t.Fatalf("answers of a fake clock seeded a real-clock picker: %+v", p.pool)
	}
	clock.Advance(100 * time.Millisecond)
	if p := manual(a, eps, 8); len(p.pool) != 1 {
		t.Fatalf("an answer MaxAge old: pool %+v", p.pool)
	}
	clock.Advance(1)
	if p := manual(a, eps, 8); len(p.pool) != 0 || p.threshold.Load() != math.MaxInt64 {
		t.Fatalf("answers over MaxAge old seeded: %+v", p.pool)
	}
}

// Seeding at every size: the newest PoolSize answers, each endpoint's
// index right, whatever the order of the endpoints.
func TestPrequalSeedsNewestAtEverySize(t *testing.T) {
	for _, n := range propertySizes[1:] {
		clock := fakeclock.New(prequalEpoch)
		a := Prequal{Probe: func(_ context.Context, ep Endpoint) (ProbeResult, error) {
			return ProbeResult{InFlight: int64(len(ep.ID)), Latency: time.Millisecond}, nil
		}, Now: clock.Now, MaxReuse: 1000, Rand: seeded(uint64(n))}
		eps := endpoints(mixedWeights(n, 10)...)
		old := manual(a, eps, 8)
		r := seeded(uint64(n) + 1)
		order := make([]int32, 0, n)
		for k := range min(n, 500) {
			i := int32(r() % uint64(n))
			if k == 0 && n > 1 {
				i = int32(n - 1)
			}
			old.probeOne(i)
			order = append(order, i)
			clock.Advance(time.Microsecond)
		}
		want := map[int32]bool{}
		for k := len(order) - 1; k >= 0 && len(want) < defaultPoolSize; k-- {
			want[order[k]] = true
		}
		// Reorder the endpoints: the pool names them by the new indexes.
		perm := slices.Clone(eps)
		slices.Reverse(perm)
		p := manual(a, perm, 8)
		if len(p.pool) != len(want) {
			t.Fatalf("n=%d: seeded %d answers, want %d", n, len(p.pool), len(want))
		}
		for _, e := range p.pool {
			if !want[int32(n-1)-e.idx] || e.rif != int64(len(perm[e.idx].ID)) {
				t.Fatalf("n=%d: seeded %+v (endpoint %s), not one of the newest", n, e, perm[e.idx].ID)
			}
		}
	}
}

// Two pickers over the same Loads (a group's and a View's) probing and
// picking at once while new ones are built from the Loads (run with
// -race): every index is in range.
func TestPrequalPickersShareLoadsConcurrently(t *testing.T) {
	eps := endpoints(mixedWeights(100, 5)...)
	a := Prequal{Probe: func(_ context.Context, ep Endpoint) (ProbeResult, error) {
		return ProbeResult{InFlight: ep.Load.InFlight(), Latency: time.Duration(len(ep.ID)) * time.Millisecond}, nil
	}, PoolSize: 4, MaxReuse: 3, MaxProbeRate: maxMaxProbeRate}
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			view := eps[g*10:] // the View's: fewer endpoints, the same Loads
			for range 20 {
				p := a.Build(view)
				for range 100 {
					i := p.Pick(Request{})
					if i < 0 || i >= len(view) {
						t.Errorf("picked %d of %d", i, len(view))
						return
					}
					view[i].Load.AddInFlight(1)
					view[i].Load.AddInFlight(-1)
				}
			}
		})
	}
	wg.Wait()
}
