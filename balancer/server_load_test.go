package balancer

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestServerLoadRecordRead(t *testing.T) {
	var l Load
	if _, _, ok := l.ServerLoad(); ok {
		t.Fatal("a new Load has a report")
	}
	if u, at := l.Utilization(); u != 0 || !at.IsZero() {
		t.Fatalf("Utilization() of a new Load = %v, %v", u, at)
	}
	t0 := time.Unix(1000, 0)
	r := ServerLoad{CPUUtilization: 0.3, ApplicationUtilization: 0.4, MemUtilization: 0.8, QPS: 10, EPS: 1, Received: t0}
	l.RecordServerLoad(r)
	got, since, ok := l.ServerLoad()
	if !ok || got != r || !since.Equal(t0) {
		t.Fatalf("ServerLoad() = %+v, %v, %v; want %+v, %v", got, since, ok, r, t0)
	}
	if u, at := l.Utilization(); u != 0.4 || !at.Equal(t0) {
		t.Fatalf("Utilization() = %v, %v; want the application utilization 0.4", u, at)
	}
	// A later report replaces it; the run keeps its start.
	r2 := ServerLoad{CPUUtilization: 0.5, QPS: 20, Received: t0.Add(time.Second)}
	l.RecordServerLoad(r2)
	if got, since, _ := l.ServerLoad(); got != r2 || !since.Equal(t0) {
		t.Fatalf("after a second report: %+v since %v", got, since)
	}
	if u, _ := l.Utilization(); u != 0.5 {
		t.Fatalf("Utilization() = %v, want the CPU utilization 0.5 when no application utilization", u)
	}
	// Invalid and empty reports are ignored.
	for _, bad := range []ServerLoad{
		{}, {Received: t0},
		{CPUUtilization: math.NaN(), QPS: 1}, {CPUUtilization: -0.1, QPS: 1},
		{CPUUtilization: 0.1, QPS: math.Inf(1)}, {CPUUtilization: 0.1, EPS: MaxServerLoadValue * 2},
		{MemUtilization: -1}, {ApplicationUtilization: math.Inf(-1)},
	} {
		l.RecordServerLoad(bad)
		if got, _, _ := l.ServerLoad(); got != r2 {
			t.Fatalf("RecordServerLoad(%+v) replaced the report: %+v", bad, got)
		}
	}
	// Ending the run: the next report starts a new one.
	l.EndServerLoadRun()
	if _, since, ok := l.ServerLoad(); !ok || !since.IsZero() {
		t.Fatalf("after EndServerLoadRun: since %v, ok %v", since, ok)
	}
	t3 := t0.Add(time.Hour)
	l.RecordServerLoad(ServerLoad{CPUUtilization: 0.1, QPS: 1, Received: t3})
	if _, since, _ := l.ServerLoad(); !since.Equal(t3) {
		t.Fatalf("the new run starts at %v, want %v", since, t3)
	}
	// The zero time means now.
	before := time.Now()
	l.RecordServerLoad(ServerLoad{CPUUtilization: 0.1, QPS: 1})
	if got, _, _ := l.ServerLoad(); got.Received.Before(before) || got.Received.After(time.Now()) {
		t.Fatalf("Received = %v, want now", got.Received)
	}
}

// A reader never sees a torn report: writers record reports whose values
// are all equal, and concurrent readers check that they are.
func TestServerLoadConsistent(t *testing.T) {
	var l Load
	const writers, readers, reports = 4, 2, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for k := range reports {
				v := float64(w*reports + k + 1)
				l.RecordServerLoad(ServerLoad{CPUUtilization: v, ApplicationUtilization: v, MemUtilization: v, QPS: v, EPS: v,
					Received: time.Unix(0, int64(v))})
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range reports {
				r, _, ok := l.ServerLoad()
				if !ok {
					continue
				}
				v := r.CPUUtilization
				if r.ApplicationUtilization != v || r.MemUtilization != v || r.QPS != v || r.EPS != v || r.Received.UnixNano() != int64(v) {
					t.Errorf("torn report: %+v", r)
					return
				}
			}
		})
	}
	wg.Wait()
	if _, _, ok := l.ServerLoad(); !ok {
		t.Fatal("no report recorded")
	}
}

func TestServerLoadAllocs(t *testing.T) {
	var l Load
	r := ServerLoad{CPUUtilization: 0.3, QPS: 10, Received: time.Unix(1, 0)}
	if n := testing.AllocsPerRun(100, func() {
		l.RecordServerLoad(r)
		l.ServerLoad()
		l.Utilization()
	}); n != 0 {
		t.Fatalf("record + read allocate %v times", n)
	}
}
