package balancer

import (
	"container/heap"
	"context"
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
			cl.eps[b].Load.AddInFlight(1)
			sv := &s.backends[b]
			r := simReq{client: c, arrived: s.now, rif: sv.busy + len(sv.queue) + 1}
			if sv.busy < sv.slots {
				s.begin(b, r)
			} else {
				sv.queue = append(sv.queue, r)
			}
			continue
		}
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
