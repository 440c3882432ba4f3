package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

// sample is one request, timed from its scheduled send time, so that a
// late send (the load generator falling behind: coordinated omission)
// counts in its latency.
type sample struct {
	sched    time.Duration // scheduled send time, from the run's start
	lat      time.Duration // scheduled send to response body read (or giving up)
	lag      time.Duration // scheduled to actual send
	backend  int16         // the backend that answered (the last attempt's); -1 none
	status   int16         // the HTTP status; 0 no response
	timedOut bool          // ran out of the request timeout
}

// runSpec is one run: a scenario, an algorithm, a repeat.
type runSpec struct {
	sc          *Scenario
	algo        string
	dur         time.Duration // arrivals are scheduled for this long
	maxRequests int           // at most this many arrivals in all
	timeout     time.Duration // per request
	seed        uint64
}

// runResult is what one run measured.
type runResult struct {
	rate      float64 // requests per second offered, all clients
	samples   []sample
	overshoot []time.Duration // backends' service time beyond the nominal
}

// newBase returns the connections of one client: h2c (HTTP/2 over plain
// TCP, prior knowledge), as gRPC and many service meshes talk to backends.
func newBase() *http.Transport {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{
		Protocols:           &p,
		MaxIdleConnsPerHost: httpgroup.DefaultMaxIdleConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
	}
}

// runOnce runs spec over c and returns every request's sample.
func runOnce(ctx context.Context, c *Cluster, spec runSpec) (*runResult, error) {
	sc := spec.sc
	c.reset()
	for i, f := range sc.Slow {
		c.Backends[i].SetFactor(f)
	}
	for i, p := range sc.Fail {
		c.Backends[i].SetFailProbability(p)
	}
	members := make([]group.Backend, len(c.Backends))
	for i, b := range c.Backends {
		members[i] = group.Backend{Addr: b.Addr}
	}

	type client struct {
		g    *group.Group
		base *http.Transport
		tr   *httpgroup.Transport
	}
	clients := make([]client, sc.Clients)
	defer func() {
		for _, cl := range clients {
			if cl.g != nil {
				cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = cl.g.Close(cctx)
				cancel()
			}
			if cl.base != nil {
				cl.base.CloseIdleConnections()
			}
		}
	}()
	for i := range clients {
		g, err := group.New(group.Config{Name: fmt.Sprintf("taillab-%s-%d", sc.ID, i), Algorithm: spec.algo})
		if err != nil {
			return nil, err
		}
		clients[i].g = g
		if err := g.Add(members...); err != nil {
			return nil, err
		}
		clients[i].base = newBase()
		if err := warm(ctx, clients[i].base, c); err != nil {
			return nil, err
		}
		clients[i].tr = &httpgroup.Transport{Group: g, Base: clients[i].base, MaxAttempts: 1}
		if sc.Retries {
			clients[i].tr.MaxAttempts, clients[i].tr.RetryStatus = httpgroup.DefaultMaxAttempts, true
		}
	}

	rate := sc.Load * c.Capacity(sc.rateFactors(len(c.Backends)))
	res := &runResult{rate: rate, samples: make([]sample, spec.maxRequests)}
	var next atomic.Int64 // samples taken
	var wg sync.WaitGroup
	start := time.Now().Add(20 * time.Millisecond) // every client's clock starts here

	phaseDone := make(chan struct{})
	if p := sc.Phase; p != nil {
		go func() {
			defer close(phaseDone)
			set := func(at float64, f float64) bool {
				t := time.NewTimer(time.Until(start.Add(time.Duration(at * float64(spec.dur)))))
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
					return false
				}
				for _, i := range p.Backends {
					c.Backends[i].SetFactor(f)
				}
				return true
			}
			if set(p.From, p.Factor) {
				set(p.To, 1)
			}
		}()
	} else {
		close(phaseDone)
	}

	perClient := rate / float64(sc.Clients)
	var gen sync.WaitGroup
	for ci := range clients {
		tr := clients[ci].tr
		rng := rand.New(rand.NewPCG(spec.seed, uint64(ci)))
		gen.Add(1)
		go func() {
			defer gen.Done()
			var sl sleeper
			sched := start
			for {
				sched = sched.Add(time.Duration(rng.ExpFloat64() / perClient * float64(time.Second)))
				if sched.Sub(start) >= spec.dur || ctx.Err() != nil {
					return
				}
				sl.until(sched)
				idx := next.Add(1) - 1
				if idx >= int64(len(res.samples)) {
					return
				}
				wg.Add(1)
				go func(at time.Time) {
					defer wg.Done()
					res.samples[idx] = send(ctx, c, tr, start, at, spec.timeout)
				}(sched)
			}
		}()
	}
	gen.Wait()
	wg.Wait() // every request ends by its timeout
	<-phaseDone
	res.samples = res.samples[:min(next.Load(), int64(len(res.samples)))]
	for _, b := range c.Backends {
		res.overshoot = append(res.overshoot, b.takeOvershoot()...)
	}
	idle, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.waitIdle(idle); err != nil && ctx.Err() == nil {
		return nil, err
	}
	return res, ctx.Err()
}

// send sends one request scheduled at sched and times it from then.
func send(ctx context.Context, c *Cluster, tr *httpgroup.Transport, start, sched time.Time, timeout time.Duration) sample {
	// A sleep may end a few microseconds before its time: such a send is on time.
	s := sample{sched: sched.Sub(start), lag: max(time.Since(sched), 0), backend: -1}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, "http://taillab/work", nil)
	if err != nil {
		panic(err) // a constant URL
	}
	resp, err := tr.RoundTrip(req)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		s.status = int16(resp.StatusCode)
		if i, ok := c.byAddr[resp.Request.URL.Host]; ok {
			s.backend = int16(i)
		}
	}
	s.lat = time.Since(sched)
	s.timedOut = err != nil && errors.Is(err, context.DeadlineExceeded)
	return s
}

// warm opens base's connection to every backend before the run, so that
// the first requests of a run do not time the dials (with 8 clients, 80 of
// them at once).
func warm(ctx context.Context, base *http.Transport, c *Cluster) error {
	for _, b := range c.Backends {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+b.Addr+"/ping", nil)
		if err != nil {
			return err
		}
		resp, err := base.RoundTrip(req)
		if err != nil {
			return fmt.Errorf("warming the connection to %s: %w", b.Addr, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			return fmt.Errorf("warming the connection to %s: got %s, want h2c", b.Addr, resp.Proto)
		}
	}
	return nil
}
