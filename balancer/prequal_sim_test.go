package balancer

import (
	"container/heap"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// clusterSim is a deterministic discrete-event model of several
// independent clients (each with its own picker and its own in-flight
// counts, as separate processes have) over shared backends, each serving
// slots requests at once in a fixed service time times its slow factor
// and queueing the rest. Prequal's probes are answered at once from the
// backends' true state, as loadreport.ProbeHandler answers: requests in
// flight (queued + in service) and, over the last 32 requests, the median
// of latency x (in flight now + 1) / (in flight on arrival, itself
// included). Nothing sleeps.
type clusterSim struct {
	now      time.Duration
	events   eventQueue
	backends []simServer
	clients  []simClient
	rng      *rand.Rand
	latency  []time.Duration
}

type simServer struct {
	slots, busy int
	factor      float64
	queue       []simReq
	recent      [32]time.Duration
	rifs        [32]int
	done        int
}

type simReq struct {
	client  int
	arrived time.Duration
	rif     int // in flight at the server on arrival, itself included
}

type simClient struct {
	eps    []Endpoint
	picker Picker
	pq     *pqPicker // nil for other algorithms
}

func (s *clusterSim) serverLoad(b int) ProbeResult {
	sv := &s.backends[b]
	n := min(sv.done, len(sv.recent))
	rif := sv.busy + len(sv.queue)
	v := make([]time.Duration, n)
	for i := range n {
		v[i] = sv.recent[i] * time.Duration(rif+1) / time.Duration(sv.rifs[i])
	}
	slices.Sort(v)
	var lat time.Duration
	if n > 0 {
		lat = v[(n-1)/2]
	}
	return ProbeResult{InFlight: int64(rif), Latency: lat}
}

const simService = 50 * time.Millisecond

func (s *clusterSim) begin(b int, r simReq) {
	sv := &s.backends[b]
	sv.busy++
	d := time.Duration(float64(simService) * sv.factor)
	heap.Push(&s.events, simEvent{at: s.now + d, backend: b, arrived: r.arrived, client: r.client, rif: r.rif})
}

// send sends client c's request to backend b, now.
func (s *clusterSim) send(c, b int) {
	s.clients[c].eps[b].Load.AddInFlight(1)
	sv := &s.backends[b]
	r := simReq{client: c, arrived: s.now, rif: sv.busy + len(sv.queue) + 1}
	if sv.busy < sv.slots {
		s.begin(b, r)
	} else {
		sv.queue = append(sv.queue, r)
	}
}

// done ends the request of completion e, and starts the next queued.
func (s *clusterSim) done(e simEvent) {
	sv := &s.backends[e.backend]
	lat := s.now - e.arrived
	s.latency = append(s.latency, lat)
	sv.recent[sv.done%len(sv.recent)] = lat
	sv.rifs[sv.done%len(sv.recent)] = e.rif
	sv.done++
	s.clients[e.client].eps[e.backend].Load.AddInFlight(-1)
	sv.busy--
	if len(sv.queue) > 0 {
		r := sv.queue[0]
		sv.queue = sv.queue[1:]
		s.begin(e.backend, r)
	}
}

// runCluster sends requests (Poisson, rate a second over all clients) for
// dur, with the backends' slow factors, and returns the p99 latency.
func runCluster(alg func(client int) Algorithm, clients int, factors []float64, rate float64, dur time.Duration) time.Duration {
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &clusterSim{backends: make([]simServer, len(factors)), rng: rand.New(rand.NewPCG(21, 22))}
	for i, f := range factors {
		s.backends[i] = simServer{slots: 2, factor: f}
	}
	index := map[string]int{}
	for c := range clients {
		eps := endpoints(ones(len(factors))...)
		for i := range eps {
			index[eps[i].ID] = i
		}
		a := alg(c)
		cl := simClient{eps: eps}
		if pq, ok := a.(Prequal); ok {
			pq.Now = func() time.Time { return epoch.Add(s.now) }
			pq.Probe = func(_ context.Context, ep Endpoint) (ProbeResult, error) { return s.serverLoad(index[ep.ID]), nil }
			cl.pq = manual(pq, eps, 64)
			cl.picker = cl.pq
		} else {
			cl.picker = a.Build(eps)
		}
		s.clients = append(s.clients, cl)
	}
	interval := time.Duration(float64(time.Second) / rate)
	heap.Push(&s.events, simEvent{at: 0, backend: -1})
	for s.events.Len() > 0 {
		e := heap.Pop(&s.events).(simEvent)
		s.now = e.at
		if e.backend < 0 { // an arrival, at a client chosen at random
			if s.now < dur {
				heap.Push(&s.events, simEvent{at: s.now + time.Duration(s.rng.ExpFloat64()*float64(interval)), backend: -1})
			}
			c := s.rng.IntN(clients)
			cl := &s.clients[c]
			b := cl.picker.Pick(Request{})
			if cl.pq != nil {
				drain(cl.pq)
			}
			s.send(c, b)
			continue
		}
		s.done(e)
	}
	slices.Sort(s.latency)
	return s.latency[len(s.latency)*99/100]
}

// S5 in simulation: 8 independent clients over 10 backends (2 slots, 50
// ms), of which 3 are 5 times slower, at 80% of the degraded capacity.
// Each client sees only its own in-flight requests, an eighth of each
// backend's queue; probes see the queue. Prequal must beat least_request
// (P2C on the client's in-flight counts) by at least 1.5x on p99, the
// issue's S5 target. And S2 (one client, one backend 10x slower, 70%
// load) must stay within 1.2x of the same cluster with equal backends,
// the S2 target. Measured (20 simulated seconds each): S5 p99
// least_request 2.55s, prequal 251ms (10x; equal backends: 120ms and
// 130ms); S2 least_request 848ms, prequal 98ms (equal backends: 90ms and
// 97ms).
func TestPrequalSimulationBeatsLeastRequestWithManyClients(t *testing.T) {
	if raceEnabled {
		t.Skip("deterministic and on one goroutine: runs without -race (see .ci/run)")
	}
	const dur = 20 * time.Second
	lr := func(c int) Algorithm { return LeastRequest{Rand: seeded(uint64(c + 1))} }
	pq := func(c int) Algorithm { return Prequal{Rand: seeded(uint64(c + 100))} }
	equal := []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}

	slow3 := []float64{1, 1, 1, 1, 1, 1, 1, 5, 5, 5}
	rate := 0.8 * (7 + 3/5.0) * 2 / simService.Seconds()
	lr5, pq5 := runCluster(lr, 8, slow3, rate, dur), runCluster(pq, 8, slow3, rate, dur)
	t.Logf("S5 (8 clients, 3 of 10 backends 5x slower, %.0f/s): p99 least_request %v, prequal %v (%.1fx); equal backends: %v, %v",
		rate, lr5, pq5, float64(lr5)/float64(pq5), runCluster(lr, 8, equal, rate, dur), runCluster(pq, 8, equal, rate, dur))
	if float64(lr5) < 1.5*float64(pq5) {
		t.Errorf("S5: prequal p99 %v, least_request %v: want least_request's at least 1.5x prequal's", pq5, lr5)
	}

	slow1 := []float64{10, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	rate = 0.7 * (9 + 0.1) * 2 / simService.Seconds()
	lr2, pq2, eq := runCluster(lr, 1, slow1, rate, dur), runCluster(pq, 1, slow1, rate, dur), runCluster(pq, 1, equal, rate, dur)
	t.Logf("S2 (1 client, 1 of 10 backends 10x slower, %.0f/s): p99 least_request %v, prequal %v; prequal on equal backends %v", rate, lr2, pq2, eq)
	if float64(pq2) > 1.2*float64(eq) {
		t.Errorf("S2: prequal p99 %v, over 1.2x its %v on equal backends", pq2, eq)
	}
}

// churnResult is what a run of runChurn measured.
type churnResult struct {
	p99, p999 time.Duration
	slowShare float64 // of the requests, to the slow backend
	builds    int
}

// runChurn is clusterSim's model under churn: clients independent
// clients (each its own Endpoints and Loads, as a group's) over n
// backends (2 slots, 50 ms; backend 0 is factor times slower), at load x
// the capacity, for requests requests. Each client's picker is rebuilt
// every `every` of simulated time over the same Endpoints, as a group
// rebuilds its pick set on every membership, weight, health or slow-start
// change of any member (the clients' rebuilds staggered). Probes are not
// rate-limited (MaxProbeRate 1e6): at 1000 a second, the default, the
// pool runs dry at 100+ backends with or without churn, and most picks
// are the fallback's either way. A probe takes
// rtt: its answer is the server's state when it arrives, and it lands in
// the picker that sent it, replaced meanwhile or not. seeds false runs
// the pickers as they were before pools survived rebuilds: each new
// picker's pool (and hot threshold) emptied after Build.
func runChurn(n, clients int, factor, load float64, requests int, every, rtt time.Duration, seeds bool) churnResult {
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &clusterSim{backends: make([]simServer, n), rng: rand.New(rand.NewPCG(uint64(n), 7))}
	for i := range s.backends {
		s.backends[i] = simServer{slots: 2, factor: 1}
	}
	s.backends[0].factor = factor
	capacity := float64(n-1)*2/simService.Seconds() + 2/(simService.Seconds()*factor)
	index := map[string]int{}
	type probe struct {
		p *pqPicker
		i int32
	}
	var probes []probe // in flight, by the req of their event
	var free []int
	build := func(c int) {
		cl := &s.clients[c]
		a := Prequal{Rand: seeded(uint64(c+1)*1000 + uint64(len(s.latency))), MaxProbeRate: maxMaxProbeRate, Now: func() time.Time { return epoch.Add(s.now) },
			Probe: func(_ context.Context, ep Endpoint) (ProbeResult, error) { return s.serverLoad(index[ep.ID]), nil }}
		cl.pq = manual(a, cl.eps, 64)
		if !seeds {
			cl.pq.pool = cl.pq.pool[:0]
			cl.pq.hpos, cl.pq.hfull = 0, false
			cl.pq.threshold.Store(math.MaxInt64)
		}
		cl.picker = cl.pq
	}
	for c := range clients {
		eps := endpoints(ones(n)...)
		for i := range eps {
			index[eps[i].ID] = i
		}
		s.clients = append(s.clients, simClient{eps: eps})
		build(c)
		heap.Push(&s.events, simEvent{at: every * time.Duration(c+1) / time.Duration(clients), backend: -3, client: c})
	}
	var res churnResult
	picked := make([]int, n)
	sent := 0
	interval := time.Duration(float64(time.Second) / (load * capacity))
	heap.Push(&s.events, simEvent{at: 0, backend: -1})
	for s.events.Len() > 0 {
		e := heap.Pop(&s.events).(simEvent)
		s.now = e.at
		switch e.backend {
		case -1: // an arrival, at a client chosen at random
			if sent++; sent < requests {
				heap.Push(&s.events, simEvent{at: s.now + time.Duration(s.rng.ExpFloat64()*float64(interval)), backend: -1})
			}
			c := s.rng.IntN(clients)
			cl := &s.clients[c]
			b := cl.picker.Pick(Request{})
			for len(cl.pq.queue) > 0 {
				pr := probe{cl.pq, <-cl.pq.queue}
				k := len(probes)
				if len(free) > 0 {
					k, free = free[len(free)-1], free[:len(free)-1]
					probes[k] = pr
				} else {
					probes = append(probes, pr)
				}
				heap.Push(&s.events, simEvent{at: s.now + rtt, backend: -2, req: k})
			}
			picked[b]++
			s.send(c, b)
			continue
		case -2: // a probe's answer
			pr := probes[e.req]
			probes[e.req], free = probe{}, append(free, e.req)
			pr.p.probeOne(pr.i)
			continue
		case -3: // a rebuild
			if sent < requests {
				build(e.client)
				res.builds++
				heap.Push(&s.events, simEvent{at: s.now + every, backend: -3, client: e.client})
			}
			continue
		}
		s.done(e)
	}
	slices.Sort(s.latency)
	res.p99 = s.latency[len(s.latency)*99/100]
	res.p999 = s.latency[len(s.latency)*999/1000]
	res.slowShare = float64(picked[0]) / float64(sent)
	return res
}

// Under churn, pools that survive rebuilds (seeded from the Loads) keep
// prequal's tail: the same simulation, every picker rebuilt every 100 ms,
// with seeds and with each new pool emptied (the behaviour before), one
// backend 10x slower, 70% of the capacity, probes of 2 ms, 100,000
// requests. Measured (p99, p999, the slow backend's share of requests;
// before -> after):
//
//	n     clients  p99                 p999                slow share
//	2     1        1.14s -> 1.26s      1.59s -> 1.73s      12.3% -> 12.5%
//	2     8        2.72s -> 1.42s      3.22s -> 1.89s      13.0% -> 12.5%
//	3     1        895ms -> 840ms      1.25s -> 1.18s      6.37% -> 5.43%
//	3     8        2.58s -> 500ms      3.06s -> 934ms      6.78% -> 3.14%
//	10    1        98.5ms -> 92.6ms    609ms -> 97.6ms     0.944% -> 0.037%
//	10    8        1.44s -> 152ms      2.20s -> 196ms      1.57% -> 0.014%
//	100   1        94.5ms -> 94.7ms    98.9ms -> 98.4ms    0.050% -> 0.004%
//	100   8        128ms -> 129ms      178ms -> 147ms      0.072% -> 0.005%
//	1000  1        96.6ms -> 97.0ms    99.5ms -> 99.7ms    0.008% -> 0.009%
//	1000  8        99.3ms -> 99.2ms    118ms -> 107ms      0.005% -> 0.004%
//
// One client over 2 backends is the exception: without churn prequal's
// p99 there is 1.27s (p999 1.73s), what the seeded pickers keep; the
// emptied ones do better because their first pick in each 100 ms (of
// three) is least_request's, on in-flight counts that one client knows
// exactly. At 1000 backends 100,000 requests span 35 rebuilds only.
func TestPrequalSimulationChurn(t *testing.T) {
	if raceEnabled {
		t.Skip("deterministic and on one goroutine: runs without -race (see .ci/run)")
	}
	for _, n := range []int{2, 3, 10, 100, 1000} {
		for _, clients := range []int{1, 8} {
			old := runChurn(n, clients, 10, 0.7, 100000, 100*time.Millisecond, 2*time.Millisecond, false)
			cur := runChurn(n, clients, 10, 0.7, 100000, 100*time.Millisecond, 2*time.Millisecond, true)
			t.Logf("n=%d clients=%d (%d builds): p99 %v -> %v, p999 %v -> %v, slow share %.3f%% -> %.3f%%", n, clients, cur.builds,
				old.p99, cur.p99, old.p999, cur.p999, 100*old.slowShare, 100*cur.slowShare)
			if n == 2 && clients == 1 {
				continue // see above
			}
			if float64(cur.p999) > 1.05*float64(old.p999) || cur.slowShare > 1.2*old.slowShare+0.0001 {
				t.Errorf("n=%d clients=%d: seeded pools worse: p999 %v (emptied %v), slow share %.3f%% (emptied %.3f%%)",
					n, clients, cur.p999, old.p999, 100*cur.slowShare, 100*old.slowShare)
			}
			if n == 10 && float64(cur.p999)*3 > float64(old.p999) {
				t.Errorf("n=10 clients=%d: p999 %v, emptied pools %v: want at least 3x better", clients, cur.p999, old.p999)
			}
		}
	}
}
