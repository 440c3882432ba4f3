package balancer

import (
	"container/heap"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// simulation is a deterministic discrete-event model of a group: requests
// arrive as a Poisson stream, the picker chooses a backend, each backend
// serves its queue one request at a time with exponential service times.
// Time is simulated; nothing sleeps.
type simulation struct {
	now     time.Duration
	events  eventQueue
	backend []simBackend
	eps     []Endpoint
	rng     *rand.Rand
	latency []time.Duration
}

type simBackend struct {
	mean  time.Duration // mean service time
	busy  bool
	queue []time.Duration // arrival times of waiting requests
}

type simEvent struct {
	at      time.Duration
	backend int // -1: an arrival
	arrived time.Duration
	client  int // clusterSim's: the client that sent it
	rif     int // clusterSim's: in flight at the backend on arrival, itself included
}

type eventQueue []simEvent

func (q eventQueue) Len() int           { return len(q) }
func (q eventQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q eventQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *eventQueue) Push(x any)        { *q = append(*q, x.(simEvent)) }
func (q *eventQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func (s *simulation) exp(mean time.Duration) time.Duration {
	return time.Duration(s.rng.ExpFloat64() * float64(mean))
}

func (s *simulation) start(b int, arrived time.Duration) {
	s.backend[b].busy = true
	heap.Push(&s.events, simEvent{at: s.now + s.exp(s.backend[b].mean), backend: b, arrived: arrived})
}

// runSimulation sends requests at rate per second to backends with the
// given mean service times and returns the 99th percentile latency.
func runSimulation(alg Algorithm, means []time.Duration, rate float64, requests int) time.Duration {
	s := &simulation{
		backend: make([]simBackend, len(means)),
		eps:     endpoints(ones(len(means))...),
		rng:     rand.New(rand.NewPCG(11, 12)),
	}
	for i, m := range means {
		s.backend[i].mean = m
	}
	p := alg.Build(s.eps)
	interval := time.Duration(float64(time.Second) / rate)
	heap.Push(&s.events, simEvent{at: 0, backend: -1})
	arrivals := 0
	for s.events.Len() > 0 {
		e := heap.Pop(&s.events).(simEvent)
		s.now = e.at
		if e.backend < 0 { // arrival
			arrivals++
			if arrivals < requests {
				heap.Push(&s.events, simEvent{at: s.now + s.exp(interval), backend: -1})
			}
			b := p.Pick(Request{})
			s.eps[b].Load.AddInFlight(1)
			if s.backend[b].busy {
				s.backend[b].queue = append(s.backend[b].queue, s.now)
			} else {
				s.start(b, s.now)
			}
			continue
		}
		b := &s.backend[e.backend]
		lat := s.now - e.arrived
		s.latency = append(s.latency, lat)
		s.eps[e.backend].Load.AddInFlight(-1)
		s.eps[e.backend].Load.ObserveLatency(lat)
		b.busy = false
		if len(b.queue) > 0 {
			next := b.queue[0]
			b.queue = b.queue[1:]
			s.start(e.backend, next)
		}
	}
	slices.Sort(s.latency)
	return s.latency[len(s.latency)*99/100]
}

func TestSimulationLeastRequestBeatsRoundRobinOnP99(t *testing.T) {
	// Five backends, one five times slower. At 70 requests/s round robin
	// loads the slow one to 70%, the others to 14%.
	ms := time.Millisecond
	means := []time.Duration{50 * ms, 10 * ms, 10 * ms, 10 * ms, 10 * ms}
	const rate, requests = 70, 50000
	rr := runSimulation(RoundRobin{}, means, rate, requests)
	lr := runSimulation(LeastRequest{Rand: seeded(13)}, means, rate, requests)
	lrl := runSimulation(LeastRequest{UseLatency: true, Rand: seeded(14)}, means, rate, requests)
	t.Logf("p99: round_robin %v, least_request %v, least_request+latency %v", rr, lr, lrl)
	// Measured: round robin 310-333ms (by its random start), least
	// request 144ms, with latency 52ms.
	if lr*3 > rr*2 {
		t.Errorf("least_request p99 %v, want under 2/3 of round_robin's %v", lr, rr)
	}
	if lrl*3 > rr*2 {
		t.Errorf("least_request with latency p99 %v, want under 2/3 of round_robin's %v", lrl, rr)
	}
}
