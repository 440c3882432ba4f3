package balancer

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// simulation is a deterministic discrete-event model of a group, on a
// simulated clock that is also the Loads' clock: requests arrive as a
// Poisson stream, the picker chooses a backend, each backend serves
// `slots` requests at once (FIFO queue beyond), in a deterministic or
// exponential service time times its slow factor; a failing backend
// answers a share of its requests with an error after 1 ms, without a
// slot (the lab's S4 backend). A failed request may be retried at once on
// a backend it has not tried. Nothing sleeps.
type simulation struct {
	sc      simScenario
	now     time.Duration
	events  eventQueue
	backend []simBackend
	eps     []Endpoint
	picker  Picker
	rng     *rand.Rand
	reqs    []simRequest
}

// simScenario is one experiment (the lab's scenarios, see the issue).
type simScenario struct {
	n        int
	slots    int
	service  time.Duration // base service time
	exp      bool          // exponential service times (else deterministic)
	load     float64       // arrival rate, a fraction of the capacity
	degraded bool          // ... of the capacity during the phase, not the nominal one
	slow     map[int]float64
	phase    *simPhase
	fail     map[int]float64 // fast-fail probability by backend
	failHint time.Duration   // a failure benches its backend for this long (Retry-After)
	attempts int             // attempts per request; 0 means 1
	requests int
	seed     uint64
}

// simPhase slows backends by factor for [from, to) of the run.
type simPhase struct {
	from, to float64
	backends []int
	factor   float64
}

var s3Phase = &simPhase{from: 1.0 / 3, to: 2.0 / 3, backends: []int{0, 1, 2}, factor: 5}

type simBackend struct {
	busy  int
	queue []int // waiting requests
}

type simRequest struct {
	arrived time.Duration
	sent    time.Duration // the current attempt's send time
	done    time.Duration
	tried   []int
	failed  bool // ended with an error
}

type simEvent struct {
	at      time.Duration
	backend int // -1: an arrival
	req     int
	start   time.Duration // when this attempt was sent
	fail    bool
	arrived time.Duration
	client  int // clusterSim's: the client that sent it
	rif     int // clusterSim's: in flight at the backend on arrival, itself included
}

type eventQueue []simEvent

func (q eventQueue) Len() int { return len(q) }
func (q eventQueue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].req < q[j].req
}
func (q eventQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)   { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

// rate returns the scenario's arrival rate per second.
func (sc *simScenario) rate() float64 {
	var c float64
	for i := range sc.n {
		f := 1.0
		if sc.degraded {
			if slices.Contains(s3Phase.backends, i) {
				f = s3Phase.factor
			}
		}
		c += float64(sc.slots) / (sc.service.Seconds() * f)
	}
	return c * sc.load
}

func (sc *simScenario) duration() time.Duration {
	return time.Duration(float64(sc.requests) / sc.rate() * float64(time.Second))
}

// factor is backend b's slow factor at t.
func (s *simulation) factor(b int, t time.Duration) float64 {
	f := 1.0
	if v, ok := s.sc.slow[b]; ok {
		f = v
	}
	if ph := s.sc.phase; ph != nil && slices.Contains(ph.backends, b) {
		d := float64(s.sc.duration())
		if float64(t) >= ph.from*d && float64(t) < ph.to*d {
			f *= ph.factor
		}
	}
	return f
}

func (s *simulation) serviceTime(b int) time.Duration {
	d := float64(s.sc.service) * s.factor(b, s.now)
	if s.sc.exp {
		d *= s.rng.ExpFloat64()
	}
	return time.Duration(d)
}

// send starts an attempt of request r.
func (s *simulation) send(r int) {
	b := s.picker.Pick(Request{})
	req := &s.reqs[r]
	if len(req.tried) > 0 && slices.Contains(req.tried, b) {
		// A retry goes to a backend not tried yet (group.Repick).
		for range 16 {
			if b = s.picker.Pick(Request{}); !slices.Contains(req.tried, b) {
				break
			}
		}
	}
	req.tried = append(req.tried, b)
	s.eps[b].Load.AddInFlight(1)
	if p := s.sc.fail[b]; p > 0 && s.rng.Float64() < p {
		heap.Push(&s.events, simEvent{at: s.now + time.Millisecond, backend: b, req: r, start: s.now, fail: true})
		return
	}
	be := &s.backend[b]
	if be.busy < s.sc.slots {
		be.busy++
		heap.Push(&s.events, simEvent{at: s.now + s.serviceTime(b), backend: b, req: r, start: s.now})
		return
	}
	req.sent = s.now
	be.queue = append(be.queue, r)
}

// runSim runs sc under alg.
func runSim(alg Algorithm, sc simScenario) *simulation {
	s := &simulation{
		sc:      sc,
		backend: make([]simBackend, sc.n),
		eps:     endpoints(ones(sc.n)...),
		rng:     rand.New(rand.NewPCG(sc.seed, 12)),
		reqs:    make([]simRequest, 0, sc.requests),
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range s.eps {
		s.eps[i].Load.SetClock(func() time.Time { return base.Add(s.now) })
	}
	s.picker = alg.Build(s.eps)
	attempts := max(sc.attempts, 1)
	interval := time.Duration(float64(time.Second) / sc.rate())
	heap.Push(&s.events, simEvent{at: 0, backend: -1})
	for s.events.Len() > 0 {
		e := heap.Pop(&s.events).(simEvent)
		s.now = e.at
		if e.backend < 0 { // arrival
			if len(s.reqs)+1 < sc.requests {
				heap.Push(&s.events, simEvent{at: s.now + time.Duration(s.rng.ExpFloat64()*float64(interval)), backend: -1, req: -1})
			}
			s.reqs = append(s.reqs, simRequest{arrived: s.now})
			s.send(len(s.reqs) - 1)
			continue
		}
		l := s.eps[e.backend].Load
		l.AddInFlight(-1)
		if e.fail {
			l.ObserveFailure(s.now - e.start)
			if sc.failHint > 0 {
				l.Bench(sc.failHint)
			}
		} else {
			l.ObserveLatency(s.now - e.start)
			be := &s.backend[e.backend]
			be.busy--
			if len(be.queue) > 0 {
				r := be.queue[0]
				be.queue = be.queue[1:]
				be.busy++
				heap.Push(&s.events, simEvent{at: s.now + s.serviceTime(e.backend), backend: e.backend, req: r, start: s.reqs[r].sent})
			}
		}
		req := &s.reqs[e.req]
		if e.fail && len(req.tried) < attempts {
			s.send(e.req)
			continue
		}
		req.done, req.failed = s.now, e.fail
	}
	return s
}

// p99 returns the 99th percentile latency of the requests that arrived in
// [from, to) of the run (fractions).
func (s *simulation) p99(from, to float64) time.Duration {
	d := float64(s.sc.duration())
	var lat []time.Duration
	for _, r := range s.reqs {
		if float64(r.arrived) >= from*d && float64(r.arrived) < to*d {
			lat = append(lat, r.done-r.arrived)
		}
	}
	slices.Sort(lat)
	return lat[len(lat)*99/100]
}

// share returns the share of the requests that arrived in [from, to) of
// the run whose last attempt went to one of backends.
func (s *simulation) share(from, to float64, backends []int) float64 {
	d := float64(s.sc.duration())
	n, in := 0, 0
	for _, r := range s.reqs {
		if float64(r.arrived) >= from*d && float64(r.arrived) < to*d {
			n++
			if slices.Contains(backends, r.tried[len(r.tried)-1]) {
				in++
			}
		}
	}
	return float64(in) / float64(n)
}

// failed returns the share of requests that ended with an error.
func (s *simulation) failed() float64 {
	n := 0
	for _, r := range s.reqs {
		if r.failed {
			n++
		}
	}
	return float64(n) / float64(len(s.reqs))
}

// The lab's cluster (10 backends, 2 slots, 50 ms) at the lab's scenarios,
// 60 s of simulated time.
var (
	simS1 = simScenario{n: 10, slots: 2, service: 50 * time.Millisecond, load: 0.7, requests: 16800, seed: 1}
	simS2 = func() simScenario { s := simS1; s.slow = map[int]float64{0: 10}; return s }()
	simS3 = simScenario{n: 10, slots: 2, service: 50 * time.Millisecond, load: 0.8, degraded: true, phase: s3Phase, requests: 12480, seed: 3}
	simS4 = func() simScenario { s := simS1; s.fail = map[int]float64{0: 0.5}; return s }()
)

func eq(sc simScenario) simScenario { sc.slow, sc.phase, sc.fail = nil, nil, nil; return sc }

// TestSimulationPeakEWMA runs peak_ewma (defaults) through the simulated
// lab and holds it to what it measured there (ELB_SIM_TABLE prints more):
// S2 (one backend 10x slower) p99 1.20x the equal backends' (least_request
// 9x, weighted_least_connections 8x); S3's bad phase 4.2x (least_request
// 7.5x, weighted_least_connections 7x), and the three backends back to
// 29.6% of the requests from 3 s after they recovered (30% is their
// share; decay 10 s: 20%); S4 0.125% failed requests without retries
// (least_request 6.7%), 0 with 3 attempts. The model's S1 and S3 figures
// are harsher than the lab's (no network or scheduler noise: the
// equal-backend p99 is 1.8x the service time, not 4.5x).
func TestSimulationPeakEWMA(t *testing.T) {
	if raceEnabled {
		t.Skip("deterministic and on one goroutine: runs without -race (see .ci/run)")
	}
	pe := PeakEWMA{Rand: seeded(21)}
	lr := LeastRequest{Rand: seeded(22)}
	s1 := runSim(pe, simS1).p99(0, 1)
	s2 := runSim(pe, simS2).p99(0, 1)
	s3eq := runSim(pe, eq(simS3)).p99(1.0/3, 2.0/3)
	s3run := runSim(pe, simS3)
	s3, after := s3run.p99(1.0/3, 2.0/3), s3run.share(2.0/3+0.1, 1, s3Phase.backends)
	s3lr := runSim(lr, simS3).p99(1.0/3, 2.0/3)
	s4 := runSim(pe, simS4).failed()
	s4r := simS4
	s4r.attempts = 3
	s4retry := runSim(pe, s4r).failed()
	t.Logf("S2 p99 %v (%.2fx of S1's %v); S3 bad phase %v (%.2fx of %v; least_request %v), then %.1f%% to the recovered; S4 failed %.3f%%, with retries %.3f%%",
		s2, float64(s2)/float64(s1), s1, s3, float64(s3)/float64(s3eq), s3eq, s3lr, 100*after, 100*s4, 100*s4retry)
	if float64(s2) > 1.3*float64(s1) {
		t.Errorf("S2 p99 %v, more than 1.3x the equal backends' %v", s2, s1)
	}
	if float64(s3) > 0.7*float64(s3lr) {
		t.Errorf("S3 bad-phase p99 %v, more than 0.7x least_request's %v", s3, s3lr)
	}
	if after < 0.27 {
		t.Errorf("S3 after the slowdown: the recovered backends got %.1f%% of the requests, want at least 27%% (their share: 30%%)", 100*after)
	}
	if s4 > 0.01 || s4retry > 0.001 {
		t.Errorf("S4 failed %.3f%% (want <= 1%%), with retries %.3f%% (want <= 0.1%%)", 100*s4, 100*s4retry)
	}
}

func TestSimulationLeastRequestBeatsRoundRobinOnP99(t *testing.T) {
	if raceEnabled {
		t.Skip("deterministic and on one goroutine: runs without -race (see .ci/run)")
	}
	// Five backends, one five times slower, one slot each, exponential
	// service times. At 70 requests/s round robin loads the slow one to
	// 70%, the others to 14%.
	sc := simScenario{n: 5, slots: 1, service: 10 * time.Millisecond, exp: true, slow: map[int]float64{0: 5},
		load: 70.0 / 500, requests: 50000, seed: 11}
	rr := runSim(RoundRobin{}, sc).p99(0, 1)
	lr := runSim(LeastRequest{Rand: seeded(13)}, sc).p99(0, 1)
	pe := runSim(PeakEWMA{Rand: seeded(14)}, sc).p99(0, 1)
	t.Logf("p99: round_robin %v, least_request %v, peak_ewma %v", rr, lr, pe)
	if lr*3 > rr*2 {
		t.Errorf("least_request p99 %v, want under 2/3 of round_robin's %v", lr, rr)
	}
	if pe*3 > lr*2 {
		t.Errorf("peak_ewma p99 %v, want under 2/3 of least_request's %v", pe, lr)
	}
}

const simSeeds = 1

// TestSimulationTable prints the simulated lab for several algorithms and
// settings, for tuning: ELB_SIM_TABLE=1 go test -run SimulationTable -v ./balancer/
func TestSimulationTable(t *testing.T) {
	if os.Getenv("ELB_SIM_TABLE") == "" {
		t.Skip("set ELB_SIM_TABLE=1 to print the table")
	}
	algs := []struct {
		name string
		alg  func() Algorithm
	}{
		{"weighted_least_connections", func() Algorithm { return WeightedLeastConnections{} }},
		{"least_request", func() Algorithm { return LeastRequest{Rand: seeded(5)} }},
	}
	for _, k := range []int{2, 3} {
		for _, d := range []time.Duration{time.Second, 3 * time.Second, 10 * time.Second} {
			algs = append(algs, struct {
				name string
				alg  func() Algorithm
			}{fmt.Sprintf("peak_ewma k=%d decay=%v", k, d), func() Algorithm { return PeakEWMA{ChoiceCount: k, Decay: d, Rand: seeded(5)} }})
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-44s %8s %8s %6s %8s %6s %8s %8s %6s %7s %7s %7s\n", "algorithm", "S1-70", "S1-90", "x wlc", "S2", "x S1", "S3 bad", "S3-eq", "x eq", "after%", "S4 %", "S4r %")
	s190 := simS1
	s190.load = 0.9
	wlc70 := runSim(WeightedLeastConnections{}, simS1).p99(0, 1)
	for _, a := range algs {
		for seed := uint64(1); seed <= simSeeds; seed++ {
			sc := func(s simScenario) simScenario { s.seed = seed; return s }
			s1 := runSim(a.alg(), sc(simS1)).p99(0, 1)
			s19 := runSim(a.alg(), sc(s190)).p99(0, 1)
			s2 := runSim(a.alg(), sc(simS2)).p99(0, 1)
			s3eq := runSim(a.alg(), sc(eq(simS3))).p99(1.0/3, 2.0/3)
			s3run := runSim(a.alg(), sc(simS3))
			s3 := s3run.p99(1.0/3, 2.0/3)
			after := s3run.share(2.0/3+0.1, 1, s3Phase.backends)
			s4 := runSim(a.alg(), sc(simS4)).failed()
			s4r := sc(simS4)
			s4r.attempts = 3
			s4retry := runSim(a.alg(), s4r).failed()
			fmt.Fprintf(&b, "%-44s %8v %8v %6.2f %8v %6.2f %8v %8v %6.2f %7.1f %7.3f %7.3f\n", a.name,
				s1.Round(time.Millisecond), s19.Round(time.Millisecond), float64(s1)/float64(wlc70),
				s2.Round(time.Millisecond), float64(s2)/float64(s1),
				s3.Round(time.Millisecond), s3eq.Round(time.Millisecond), float64(s3)/float64(s3eq), 100*after, 100*s4, 100*s4retry)
		}
	}
	t.Log(b.String())
}
