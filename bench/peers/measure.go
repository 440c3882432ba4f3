package main

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The measurement is testing.Benchmark's and b.RunParallel's, without
// their runtime.GC before every run: at 10,000 backends the contenders'
// heap is about 90 MB and a collection takes 25 ms, more than a slice.
// Serially, one goroutine calls op ops times; in parallel, GOMAXPROCS
// goroutines take ops in grains from a shared counter, as RunParallel's
// do, and the time is the wall time until the last one is done. ns/op is
// the time over ops either way, and allocs/op the heap objects allocated
// meanwhile (runtime.MemStats.Mallocs, as testing counts them) over ops.

// sample is a measurement: per op, or (in rounds) totals.
type sample struct {
	ns     float64
	allocs float64
}

// sink keeps the ops' results alive.
var sink atomic.Int64

// measure runs c's op ops times, serially or in parallel, and returns the
// totals: ns and allocations.
func measure(c *contender, parallel bool, ops int64) (sample, error) {
	if ops < 1 {
		return sample{}, errors.New("no ops to run")
	}
	var before, after runtime.MemStats
	if !parallel {
		op := c.serialOp()
		runtime.ReadMemStats(&before)
		start := time.Now()
		sum := 0
		for seq := uint64(1); seq <= uint64(ops); seq++ {
			sum += op(seq)
		}
		d := time.Since(start)
		runtime.ReadMemStats(&after)
		sink.Add(int64(sum))
		return sample{ns: float64(d.Nanoseconds()), allocs: float64(after.Mallocs - before.Mallocs)}, nil
	}
	procs := runtime.GOMAXPROCS(0)
	grain := min(max(ops/int64(procs*100), 1), 10000)
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		ready sync.WaitGroup
		begin = make(chan struct{})
	)
	for range procs {
		op := c.parallelOp()
		ready.Add(1)
		wg.Go(func() {
			ready.Done()
			<-begin
			sum, seq := 0, uint64(0)
			for {
				hi := next.Add(grain)
				lo := hi - grain
				if lo >= ops {
					break
				}
				for range min(hi, ops) - lo {
					seq++
					sum += op(seq)
				}
			}
			sink.Add(int64(sum))
		})
	}
	ready.Wait()
	runtime.ReadMemStats(&before)
	start := time.Now()
	close(begin)
	wg.Wait()
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	return sample{ns: float64(d.Nanoseconds()), allocs: float64(after.Mallocs - before.Mallocs)}, nil
}

// calibrate returns the ops that take about d, growing the count as
// testing.Benchmark does until a run takes a tenth of d.
func calibrate(c *contender, parallel bool, d time.Duration) (int64, error) {
	target := float64(d.Nanoseconds()) / 10
	for ops := int64(1); ; {
		s, err := measure(c, parallel, ops)
		if err != nil {
			return 0, err
		}
		if s.ns >= target || ops >= 1e9 {
			return max(1, int64(float64(d.Nanoseconds())*float64(ops)/max(s.ns, 1))), nil
		}
		grow := 100.0
		if s.ns > 0 {
			grow = min(max(1.2*target/s.ns, 2), 100)
		}
		ops = int64(float64(ops) * grow)
	}
}
