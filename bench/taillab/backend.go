package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// fastFailTime is how long a backend takes to answer 503 when it fails
// fast (scenario S4).
const fastFailTime = time.Millisecond

// Backend is one loopback server: Slots requests are served at once, each
// in a service time (the base one, or with exp a draw from the exponential
// distribution of that mean) times the backend's slow factor; the others
// wait in a FIFO queue. With a failure probability set, that share of the requests
// is answered 503 after fastFailTime, without waiting for a slot.
type Backend struct {
	Index int
	Addr  string

	slots   chan struct{} // a token per request in service
	service time.Duration // the base service time
	exp     bool          // service times are exponential, of mean service
	factor  atomic.Uint64 // math.Float64bits of the slow factor (1 = nominal)
	failP   atomic.Uint64 // math.Float64bits of the fast-503 probability
	sleeper sleeper       // serves the service time

	waiting atomic.Int64 // requests queued for a slot
	busy    atomic.Int64 // requests in service
	served  atomic.Int64 // answered 200 since the last reset
	failed  atomic.Int64 // answered 503 since the last reset

	mu        sync.Mutex
	overshoot []time.Duration // service time beyond the nominal, per request since the last reset

	srv *http.Server
	ln  net.Listener
}

// startBackend listens on 127.0.0.1:0 and serves h2c (HTTP/2 without TLS,
// prior knowledge) and HTTP/1.1.
func startBackend(index, slots int, service time.Duration, exp bool) (*Backend, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &Backend{Index: index, Addr: ln.Addr().String(), slots: make(chan struct{}, slots), service: service, exp: exp, ln: ln}
	b.SetFactor(1)
	mux := http.NewServeMux()
	mux.HandleFunc("/work", b.serveWork)
	mux.HandleFunc("/ping", func(http.ResponseWriter, *http.Request) {}) // warms a connection up
	// h2c with net/http's own HTTP/2 (golang.org/x/net/http2/h2c is
	// deprecated for this). Streams are not the limit being measured: the
	// queue is.
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	b.srv = &http.Server{Handler: backendMiddleware(b, mux), Protocols: &p, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 1 << 16},
		ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = b.srv.Serve(ln) }()
	return b, nil
}

// serveWork is the request handler: queue, serve, answer.
func (b *Backend) serveWork(w http.ResponseWriter, r *http.Request) {
	if p := math.Float64frombits(b.failP.Load()); p > 0 && rand.Float64() < p {
		time.Sleep(fastFailTime)
		b.failed.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	b.waiting.Add(1)
	select {
	case b.slots <- struct{}{}: // a Go channel hands its slots to waiting senders in order: FIFO
	case <-r.Context().Done(): // the client gave up while queued
		b.waiting.Add(-1)
		return
	}
	b.waiting.Add(-1)
	b.busy.Add(1)
	d := float64(b.service) * b.Factor()
	if b.exp {
		d *= rand.ExpFloat64()
	}
	b.serve(time.Duration(d))
	<-b.slots
	b.busy.Add(-1)
	b.served.Add(1)
	w.WriteHeader(http.StatusOK)
}

// serve takes d, recording how far it overshoots.
func (b *Backend) serve(d time.Duration) {
	start := time.Now()
	// The work goes on if the client cancels, as a real server's would.
	b.sleeper.sleep(d)
	took := time.Since(start)
	b.mu.Lock()
	b.overshoot = append(b.overshoot, took-d)
	b.mu.Unlock()
}

// Factor returns the slow factor: service takes Factor times the base
// service time.
func (b *Backend) Factor() float64 { return math.Float64frombits(b.factor.Load()) }

// SetFactor sets the slow factor, at least 1, for requests that start
// service from now on.
func (b *Backend) SetFactor(f float64) { b.factor.Store(math.Float64bits(max(f, 1))) }

// SetFailProbability sets the probability, 0-1, that a request is answered
// 503 after fastFailTime.
func (b *Backend) SetFailProbability(p float64) { b.failP.Store(math.Float64bits(p)) }

// Queue returns the requests waiting for a slot; InService those being
// served; Slots the slots. A load reporter reads them (see hooks.go).
func (b *Backend) Queue() int64 { return b.waiting.Load() }

// InService returns the requests being served.
func (b *Backend) InService() int64 { return b.busy.Load() }

// Slots returns the number of requests served at once.
func (b *Backend) Slots() int { return cap(b.slots) }

// Utilization returns the share of the slots in use, 0-1, as a server
// would report it (ORCA's cpu_utilization stands for it here).
func (b *Backend) Utilization() float64 { return float64(b.busy.Load()) / float64(cap(b.slots)) }

// reset clears the counters and the scenario settings between runs.
func (b *Backend) reset() {
	b.SetFactor(1)
	b.SetFailProbability(0)
	b.served.Store(0)
	b.failed.Store(0)
	b.mu.Lock()
	b.overshoot = b.overshoot[:0]
	b.mu.Unlock()
}

// takeOvershoot returns the service overshoots recorded since the last reset.
func (b *Backend) takeOvershoot() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Duration(nil), b.overshoot...)
}

func (b *Backend) idle() bool { return b.waiting.Load() == 0 && b.busy.Load() == 0 }

// Cluster is the set of backends every run of a lab shares.
type Cluster struct {
	Backends []*Backend
	Slots    int
	Service  time.Duration
	byAddr   map[string]int
}

func startCluster(n, slots int, service time.Duration, exp bool) (*Cluster, error) {
	c := &Cluster{Slots: slots, Service: service, byAddr: make(map[string]int, n)}
	for i := range n {
		b, err := startBackend(i, slots, service, exp)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("backend %d: %w", i, err)
		}
		c.Backends = append(c.Backends, b)
		c.byAddr[b.Addr] = i
	}
	return c, nil
}

// Capacity returns the requests per second the cluster serves at its
// backends' slow factors, factors[i] (nil: all 1).
func (c *Cluster) Capacity(factors []float64) float64 {
	var sum float64
	for i := range c.Backends {
		f := 1.0
		if factors != nil {
			f = factors[i]
		}
		sum += float64(c.Slots) / (c.Service.Seconds() * f)
	}
	return sum
}

// reset readies every backend for a run.
func (c *Cluster) reset() {
	for _, b := range c.Backends {
		b.reset()
	}
}

// waitIdle waits, bounded by ctx, until no backend has a request queued or
// in service (requests a previous run left behind).
func (c *Cluster) waitIdle(ctx context.Context) error {
	for {
		idle := true
		for _, b := range c.Backends {
			idle = idle && b.idle()
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("backends still busy from the previous run")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Close stops every backend.
func (c *Cluster) Close() {
	for _, b := range c.Backends {
		_ = b.srv.Close()
	}
}

// sleeper sleeps for a duration on average: a sleep ends late by up to the
// timer's resolution (about a millisecond on Linux, where Go's netpoller
// waits in whole milliseconds), so a sleeper sleeps that much less, as it
// measures it. The zero value is ready; it is safe for concurrent use.
type sleeper struct {
	late atomic.Int64 // moving average (1/16 per sleep) of how late a sleep ends, ns
}

// sleep sleeps for about d, d on average.
func (s *sleeper) sleep(d time.Duration) {
	s.until(time.Now().Add(d))
}

// until sleeps until about t, t on average (at once if t is past).
func (s *sleeper) until(t time.Time) {
	early := time.Duration(s.late.Load())
	d := time.Until(t) - early
	if d <= 0 {
		return
	}
	start := time.Now()
	time.Sleep(d)
	late := time.Since(start) - d
	s.late.Store(int64(early + (late-early)/16))
}
