package httpgroup_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/httpgroup"
)

// benchBase is the base transport of the loopback benchmarks, for both
// the bare and the elb runs: net/http's defaults, no proxy, and idle
// connections enough for the parallel runs.
func benchBase(b *testing.B) *http.Transport {
	tr := testBase(b)
	tr.MaxIdleConnsPerHost = 256
	return tr
}

// benchGroup makes a weighted_round_robin group of three backends at addrs.
func benchGroup(b *testing.B, addrs ...string) *group.Group {
	bs := make([]group.Backend, len(addrs))
	for i, a := range addrs {
		bs[i] = group.Backend{Addr: a, Weight: group.Weight(1 + i)}
	}
	return newGroup(b, group.Config{Name: "bench", Algorithm: "weighted_round_robin"}, bs...)
}

// drain reads a body to EOF into buf, and closes it.
func drain(b *testing.B, body io.ReadCloser, buf []byte) {
	for {
		_, err := body.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	body.Close()
}

// run sends GET url through rt b.N times, serially or from parallel
// goroutines; each goroutine reuses one request, as RoundTrip allows.
// Besides allocations it reports the garbage collector's work (see gcWork).
func run(b *testing.B, rt http.RoundTripper, url string, parallel bool) {
	b.ReportAllocs()
	one := func(req *http.Request, buf []byte) {
		resp, err := rt.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		drain(b, resp.Body, buf)
	}
	defer gcWork(b)()
	if !parallel {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		buf := make([]byte, 512)
		b.ResetTimer()
		for range b.N {
			one(req, buf)
		}
		return
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		buf := make([]byte, 512)
		for pb.Next() {
			one(req, buf)
		}
	})
}

// gcMetrics are the runtime/metrics gcWork reads.
var gcMetrics = []string{
	"/gc/cycles/total:gc-cycles",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/gc/mark/idle:cpu-seconds",
}

// gcWork starts measuring the garbage collector's work, for the function
// it returns to report at the end of the benchmark: ops/GC, how many ops
// each GC cycle came after on average (0: none ran), and GC-cpu-ns/op,
// the CPU time the GC took per op (mark assists, mark workers and
// pauses), without its idle-priority mark workers, which only run on a P
// that has nothing else to do (the second P of a serial run).
func gcWork(b *testing.B) func() {
	read := func() []metrics.Sample {
		s := make([]metrics.Sample, len(gcMetrics))
		for i, name := range gcMetrics {
			s[i].Name = name
		}
		metrics.Read(s)
		return s
	}
	before := read()
	return func() {
		b.StopTimer()
		after := read()
		var perGC float64
		if n := after[0].Value.Uint64() - before[0].Value.Uint64(); n > 0 {
			perGC = float64(b.N) / float64(n)
		}
		cpu := (after[1].Value.Float64() - after[2].Value.Float64()) - (before[1].Value.Float64() - before[2].Value.Float64())
		b.ReportMetric(perGC, "ops/GC")
		b.ReportMetric(cpu*1e9/float64(b.N), "GC-cpu-ns/op")
	}
}

// BenchmarkLoopback compares a bare *http.Transport sending to one
// loopback server with a Transport over the same kind of *http.Transport
// sending to a group of three, keep-alive on.
func BenchmarkLoopback(b *testing.B) {
	ok := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	s1, s2, s3 := newBackend(b, "1", ok), newBackend(b, "2", ok), newBackend(b, "3", ok)
	for _, mode := range []string{"serial", "parallel"} {
		b.Run("bare/"+mode, func(b *testing.B) {
			run(b, benchBase(b), s1.URL+"/", mode == "parallel")
		})
		b.Run("elb/"+mode, func(b *testing.B) {
			g := benchGroup(b, s1.addr(), s2.addr(), s3.addr())
			run(b, httpgroup.NewTransport(g, benchBase(b)), "http://orders/", mode == "parallel")
		})
	}
}

// canned is an in-process RoundTripper: it answers every request with a
// 200 and a two-byte body, in one allocation and with no network.
type canned struct{}

type cannedResponse struct {
	resp http.Response
	body cannedBody
}

type cannedBody struct{ sent bool }

func (b *cannedBody) Read(p []byte) (int, error) {
	if b.sent {
		return 0, io.EOF
	}
	b.sent = true
	return copy(p, "ok"), nil
}

func (b *cannedBody) Close() error { return nil }

var cannedHeader = http.Header{"Content-Type": {"text/plain"}}

func (canned) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &cannedResponse{}
	c.resp = http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: cannedHeader, Body: &c.body, ContentLength: 2, Request: req,
	}
	return &c.resp, nil
}

// rewriting is an in-process RoundTripper that does what any RoundTripper
// that sends a request to another address must before canned: copy the
// request and its URL (a RoundTrip must not modify its request), here into
// one object of the size of the Transport's attempt (576 B with the
// allocator's header), and point the copy at the address.
type rewriting struct{}

type rewritten struct {
	req http.Request
	url url.URL
	_   [104]byte // the attempt's body wrapper
}

func (rewriting) RoundTrip(req *http.Request) (*http.Response, error) {
	c := &rewritten{req: *req, url: *req.URL}
	c.req.URL = &c.url
	c.url.Host = "127.0.0.1:8080"
	return canned{}.RoundTrip(&c.req)
}

// BenchmarkInProcess measures what the Transport adds to a RoundTripper
// that costs next to nothing (canned: no network, one allocation):
//
//   - bare: canned alone.
//   - elb: a Transport over canned, to a weighted_round_robin group of
//     three: the pick, the request's copy, the body wrapper, two clock
//     readings (the latency) and DoneWith.
//   - copy: rewriting, canned after the request's copy: bare plus the
//     allocation the Transport cannot do without.
//   - pick: the group's part of elb alone, Repick and DoneWith with a
//     latency and its end, as the Transport calls them, without a
//     request.
//
// elb - bare is what the Transport costs, elb - copy - pick what it costs
// beyond the copy and the group: the clock, the body wrapper, the header
// lookups and the rest. On a 2-core Xeon VM (go1.26, December 2026), of
// elb - bare, about 780 ns serial: the copy took about 290, the group 110,
// the two monotonic clock reads 160 (a read costs 65 ns on that VM), the
// two lookups of the load report's headers 80 and the body wrapper 25
// (each measured by a variant without it, alternated in one process).
//
// GC: per op, bare allocates canned's response, one object of 160 B;
// copy and elb allocate 736 B in two objects, that and the 576-B copy (in
// elb, the attempt: the request's and URL's copies and the body wrapper);
// pick allocates nothing (the pick's token comes from a sync.Pool). The
// live heap is under 1 MB, so at the default GOGC=100 the heap stays at
// the GC's 4-MB minimum goal and a cycle runs about every 3.5 MB
// allocated: every ~4,700 elb ops serially (~3,900 in parallel), ~20,000
// bare ones (ops/GC). GC-cpu-ns/op is what those cycles cost per op, in
// CPU time but for idle-priority marking: on that VM about 105 ns for elb
// and copy and 20 ns for bare serially, 145 and 35 in parallel. It varies
// with what else the machine runs: compare figures of one run. GOGC=off
// runs no cycle, but then every op touches fresh memory (a page fault
// every 4 KB, every ~5 elb ops), so it measures page faults instead.
func BenchmarkInProcess(b *testing.B) {
	s1, s2, s3 := newBackend(b, "1", nil), newBackend(b, "2", nil), newBackend(b, "3", nil) // addresses only: nothing is dialled
	for _, mode := range []string{"serial", "parallel"} {
		b.Run("bare/"+mode, func(b *testing.B) {
			run(b, canned{}, "http://orders/", mode == "parallel")
		})
		b.Run("elb/"+mode, func(b *testing.B) {
			g := benchGroup(b, s1.addr(), s2.addr(), s3.addr())
			run(b, httpgroup.NewTransport(g, canned{}), "http://orders/", mode == "parallel")
		})
		b.Run("copy/"+mode, func(b *testing.B) {
			run(b, rewriting{}, "http://orders/", mode == "parallel")
		})
		b.Run("pick/"+mode, func(b *testing.B) {
			g := benchGroup(b, s1.addr(), s2.addr(), s3.addr())
			pickDone(b, g, mode == "parallel")
		})
	}
}

// pickDone runs what the Transport asks of the group per request, b.N
// times, serially or from parallel goroutines: Repick with a fresh Tried
// and DoneWith with a latency and its end, which the Transport reads from
// the clock itself (so that DoneWith need not: here a time read once).
func pickDone(b *testing.B, g *group.Group, parallel bool) {
	b.ReportAllocs()
	ctx := context.Background()
	end := time.Now()
	one := func() {
		var tried group.Tried
		p, err := g.Repick(ctx, group.Request{}, &tried)
		if err != nil {
			b.Fatal(err)
		}
		p.DoneWith(group.Result{Latency: time.Microsecond, End: end})
	}
	if !parallel {
		for b.Loop() {
			one()
		}
		return
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			one()
		}
	})
}
