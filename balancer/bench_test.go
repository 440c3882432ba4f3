package balancer

import (
	"fmt"
	"sync/atomic"
	"testing"
)

var benchAlgorithms = []struct {
	name string
	alg  Algorithm
	busy bool // every endpoint has a request in flight
}{
	{"round_robin", RoundRobin{}, false},
	{"weighted_round_robin", WeightedRoundRobin{}, false},
	{"random", Random{}, false},
	{"weighted_random", WeightedRandom{}, false},
	{"weighted_least_connections", WeightedLeastConnections{}, false},
	{"weighted_least_connections_busy", WeightedLeastConnections{}, true},
	{"least_request", LeastRequest{}, false},
	{"least_request_busy", LeastRequest{}, true},
	{"peak_ewma", PeakEWMA{}, false},
	{"peak_ewma_busy", PeakEWMA{}, true},
	{"consistent_hash", ConsistentHash{}, false},
	{"source_ip_hash", ConsistentHash{SourceIP: true}, false},
	{"load_report_wrr", LoadReportWRR{}, true},
	{"load_report_wrr_p2c", LoadReportWRR{Mode: "p2c"}, true},
}

var benchSizes = []int{3, 100, 1000, 10000}

// mixedWeights returns n weights cycling through 1..m.
func mixedWeights(n, m int) []int {
	ws := make([]int, n)
	for i := range ws {
		ws[i] = 1 + i%m
	}
	return ws
}

// benchRequests are 1024 requests with distinct keys and sources.
var benchRequests = func() []Request {
	rs := make([]Request, 1024)
	for i := range rs {
		rs[i] = Request{
			Key:    fmt.Sprintf("user-%d", i*7919),
			Source: fmt.Sprintf("10.%d.%d.%d:%d", i>>16&255, i>>8&255, i&255, 1024+i),
		}
	}
	return rs
}()

var benchSink atomic.Int64

// BenchmarkPick measures Pick alone, over endpoints with weights 1..10.
// The baselines are the floor the performance bar is measured against: an
// atomic counter indexing a slice ("counter"), and that plus the
// per-endpoint bookkeeping a group does around every pick (in-flight +1
// and -1, a request count: "bookkeeping").
func BenchmarkPick(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("baseline_counter/n=%d", n), func(b *testing.B) {
			benchPick(b, &counterPicker{n: uint64(n)}, n, false)
		})
		b.Run(fmt.Sprintf("baseline_bookkeeping/n=%d", n), func(b *testing.B) {
			benchPick(b, &counterPicker{n: uint64(n)}, n, true)
		})
	}
	for _, a := range benchAlgorithms {
		for _, n := range benchSizes {
			eps := endpoints(mixedWeights(n, 10)...)
			for i := range eps {
				if a.busy {
					eps[i].Load.AddInFlight(1)
					eps[i].Load.ObserveLatency(1000)
					eps[i].Load.RecordServerLoad(ServerLoad{CPUUtilization: 0.1 + float64(i%9)/10, QPS: 100})
				}
			}
			p := a.alg.Build(eps)
			b.Run(fmt.Sprintf("%s/n=%d", a.name, n), func(b *testing.B) { benchPick(b, p, n, false) })
		}
	}
	// Equal weights take least_request's distinct-candidates path.
	for _, n := range benchSizes {
		p := LeastRequest{}.Build(endpoints(ones(n)...))
		b.Run(fmt.Sprintf("least_request_equal/n=%d", n), func(b *testing.B) { benchPick(b, p, n, false) })
	}
}

// counterPicker is the baseline: an atomic counter indexing a slice.
type counterPicker struct {
	n    uint64
	_    cacheLinePad
	next atomic.Uint64
	_    cacheLinePad
}

func (p *counterPicker) Pick(Request) int { return int((p.next.Add(1) - 1) % p.n) }

// paddedCounters are the per-endpoint counters of the bookkeeping baseline,
// each on its own cache line.
type paddedCounters struct {
	load     Load
	requests atomic.Int64
	_        [48]byte
}

func benchPick(b *testing.B, p Picker, n int, bookkeeping bool) {
	var counters []paddedCounters
	if bookkeeping {
		counters = make([]paddedCounters, n)
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		sum, i := 0, 0
		for b.Loop() {
			k := p.Pick(benchRequests[i&1023])
			if bookkeeping {
				c := &counters[k]
				c.load.AddInFlight(1)
				c.requests.Add(1)
				c.load.AddInFlight(-1)
			}
			sum += k
			i++
		}
		benchSink.Add(int64(sum))
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			sum, i := 0, 0
			for pb.Next() {
				k := p.Pick(benchRequests[i&1023])
				if bookkeeping {
					c := &counters[k]
					c.load.AddInFlight(1)
					c.requests.Add(1)
					c.load.AddInFlight(-1)
				}
				sum += k
				i++
			}
			benchSink.Add(int64(sum))
		})
	})
}

// BenchmarkBuild measures Build at 10,000 endpoints, with all weights 1
// and with weights mixed over 1..100. B/op divided by 10,000 is the
// memory per endpoint (including garbage of the build itself).
func BenchmarkBuild(b *testing.B) {
	const n = 10000
	for _, a := range benchAlgorithms {
		if a.busy {
			continue
		}
		for _, w := range []struct {
			name string
			ws   []int
		}{{"weights=1", ones(n)}, {"weights=1..100", mixedWeights(n, 100)}} {
			eps := endpoints(w.ws...)
			b.Run(fmt.Sprintf("%s/n=%d/%s", a.name, n, w.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					a.alg.Build(eps)
				}
			})
		}
	}
	// consistent_hash's table has one size up to 16,384 endpoints, so its
	// build costs about the same at every size: the figures of its doc.
	for _, n := range []int{10, 100, 164, 200, 500, 1000} {
		eps := endpoints(ones(n)...)
		b.Run(fmt.Sprintf("consistent_hash/n=%d/weights=1", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ConsistentHash{}.Build(eps)
			}
		})
	}
	// The costliest exact (nginx-sequence) weighted round-robin build:
	// period x distinct weights just under the budget (100,000 x 19).
	eps := endpoints(mixedWeights(n, 19)...)
	b.Run(fmt.Sprintf("weighted_round_robin/n=%d/weights=1..19", n), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			WeightedRoundRobin{}.Build(eps)
		}
	})
}
