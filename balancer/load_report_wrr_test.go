package balancer

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/fakeclock"
)

var lrwEpoch = time.Unix(1_700_000_000, 0)

// report returns endpoint i's report in the share tests: qps, utilization
// and errors vary with i.
func lrwReport(i int, at time.Time) ServerLoad {
	return ServerLoad{
		CPUUtilization: 0.2 + float64(i%5)*0.15,
		QPS:            100 + float64(i%7)*10,
		EPS:            float64(i % 3),
		Received:       at,
	}
}

// picksOf counts the picks of one period of p's schedule.
func picksOf(t *testing.T, p Picker, n int) (counts []int, period int) {
	t.Helper()
	lp := p.(*lrwPicker)
	period = int(lp.sched.Load().n)
	counts = make([]int, n)
	for range period {
		counts[p.Pick(Request{})]++
	}
	return counts, period
}

// The shares are A58's at every size: weight qps/(utilization +
// eps/qps x penalty) times the effective weight, within the table's
// quantization (about one entry of the period per endpoint).
func TestLoadReportWRRSharesAtEverySize(t *testing.T) {
	for _, n := range propertySizes {
		for _, weighted := range []bool{false, true} {
			t.Run(fmt.Sprintf("n=%d/weighted=%v", n, weighted), func(t *testing.T) {
				clk := fakeclock.New(lrwEpoch)
				ws := ones(n)
				if weighted {
					ws = mixedWeights(n, 4)
				}
				eps := endpoints(ws...)
				for i := range eps {
					eps[i].Load.RecordServerLoad(lrwReport(i, lrwEpoch))
				}
				clk.Advance(11 * time.Second) // past the blackout
				for i := range eps {
					eps[i].Load.RecordServerLoad(lrwReport(i, clk.Now()))
				}
				p := LoadReportWRR{Now: clk.Now, ErrorUtilizationPenalty: 2}.Build(eps)
				counts, period := picksOf(t, p, n)
				want := make([]float64, n)
				var sum float64
				for i := range want {
					r := lrwReport(i, lrwEpoch)
					want[i] = r.QPS / (r.CPUUtilization + r.EPS/r.QPS*2) * float64(ws[i])
					sum += want[i]
				}
				for i, c := range counts {
					share := want[i] / sum
					if n == 1 {
						share = 1
					}
					if d := math.Abs(float64(c) - share*float64(period)); d > 1+share*float64(n) {
						t.Fatalf("endpoint %d: %d of %d picks, want %.1f (share %.5f)", i, c, period, share*float64(period), share)
					}
				}
			})
		}
	}
}

// lrwPickerAt builds load_report_wrr over n endpoints with clk.
func lrwPickerAt(clk *fakeclock.Clock, eps []Endpoint) *lrwPicker {
	return LoadReportWRR{Now: clk.Now}.Build(eps).(*lrwPicker)
}

func weightsOf(p *lrwPicker) []float64 { return p.sched.Load().weights }

func TestLoadReportWRRBlackoutAndExpiry(t *testing.T) {
	clk := fakeclock.New(lrwEpoch)
	eps := endpoints(1, 1, 1)
	report := func() {
		for i := range eps {
			// Endpoint i reports utilization (i+1)/10 at 100 qps: weight
			// 1000/(i+1).
			eps[i].Load.RecordServerLoad(ServerLoad{CPUUtilization: float64(i+1) / 10, QPS: 100, Received: clk.Now()})
		}
	}
	equal := []float64{1, 1, 1}
	weighted := []float64{1000, 500, 1000.0 / 3}
	check := func(when string, want []float64) {
		t.Helper()
		p := lrwPickerAt(clk, eps)
		for i, w := range weightsOf(p) {
			if math.Abs(w-want[i]) > 1e-9 {
				t.Fatalf("%s: weights %v, want %v", when, weightsOf(p), want)
			}
		}
	}
	check("no reports", equal)
	report()
	check("first report", equal)
	clk.Advance(9 * time.Second)
	report()
	check("9s into the blackout", equal)
	clk.Advance(time.Second)
	report()
	check("after the 10s blackout", weighted)
	clk.Advance(3*time.Minute - time.Nanosecond)
	check("just before expiry", weighted)
	clk.Advance(time.Nanosecond)
	check("expired", equal)
	report()
	check("reports resume: a new blackout", equal)
	clk.Advance(10 * time.Second)
	report()
	check("the new blackout over", weighted)

	// No blackout.
	clk.Advance(time.Hour)
	report()
	p := LoadReportWRR{Now: clk.Now, BlackoutPeriod: -1}.Build(eps).(*lrwPicker)
	if w := weightsOf(p); math.Abs(w[0]-1000) > 1e-9 {
		t.Fatalf("without a blackout, weights %v, want %v", w, weighted)
	}
}

// An endpoint without a report that counts gets the mean weight of the
// others; with fewer than two weighted, all weigh the same.
func TestLoadReportWRRMeanWeight(t *testing.T) {
	clk := fakeclock.New(lrwEpoch)
	eps := endpoints(1, 1, 1, 2)
	set := func(i int, r ServerLoad) {
		r.Received = clk.Now().Add(-20 * time.Second)
		eps[i].Load.RecordServerLoad(r)
		r.Received = clk.Now()
		eps[i].Load.RecordServerLoad(r)
	}
	set(0, ServerLoad{CPUUtilization: 0.5, QPS: 100})
	if w := weightsOf(lrwPickerAt(clk, eps)); w[0] != 1 || w[3] != 2 {
		t.Fatalf("one endpoint weighted: weights %v, want effective weights", w)
	}
	set(1, ServerLoad{CPUUtilization: 0.25, QPS: 100})
	set(2, ServerLoad{CPUUtilization: 0, QPS: 100, MemUtilization: 0.5}) // utilization 0: no weight
	want := []float64{200, 400, 300, 600}                                // 2 and 3 get the mean, 300; 3 has weight 2
	if w := weightsOf(lrwPickerAt(clk, eps)); fmt.Sprint(w) != fmt.Sprint(want) {
		t.Fatalf("weights %v, want %v", w, want)
	}
	// Application utilization wins over CPU.
	set(1, ServerLoad{CPUUtilization: 0.25, ApplicationUtilization: 0.5, QPS: 100})
	if w := weightsOf(lrwPickerAt(clk, eps)); w[1] != 200 {
		t.Fatalf("weights %v: want 200 for endpoint 1 (application utilization 0.5)", w)
	}
}

// A pick that finds the weights due starts one recompute, which ends.
func TestLoadReportWRRRecomputesOffThePickPath(t *testing.T) {
	clk := fakeclock.New(lrwEpoch)
	eps := endpoints(1, 1)
	p := lrwPickerAt(clk, eps)
	first := p.sched.Load()
	for i := range eps {
		eps[i].Load.RecordServerLoad(ServerLoad{CPUUtilization: float64(i+1) / 10, QPS: 100, Received: lrwEpoch})
	}
	for range 3 * lrwClockEvery {
		p.Pick(Request{}) // not due yet
	}
	if p.sched.Load() != first || p.busy.Load() {
		t.Fatal("recomputed before the update period")
	}
	clk.Advance(11 * time.Second)
	for i := range eps {
		eps[i].Load.RecordServerLoad(ServerLoad{CPUUtilization: float64(i+1) / 10, QPS: 100, Received: clk.Now()})
	}
	for range 3 * lrwClockEvery {
		p.Pick(Request{})
	}
	deadline := time.Now().Add(5 * time.Second)
	for p.sched.Load() == first || p.busy.Load() {
		if time.Now().After(deadline) {
			t.Fatal("no recompute within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	if w := weightsOf(p); w[0] != 1000 || w[1] != 500 {
		t.Fatalf("weights after the recompute %v, want [1000 500]", w)
	}
}

// countPicks counts the endpoints of picks picks over n endpoints.
func countPicks(p Picker, n, picks int) []int {
	counts := make([]int, n)
	for range picks {
		counts[p.Pick(Request{})]++
	}
	return counts
}

func TestLoadReportWRRP2C(t *testing.T) {
	clk := fakeclock.New(lrwEpoch)
	eps := endpoints(1, 1)
	// Endpoint 1 reports 9x the utilization; candidates are drawn by
	// effective weight (equal), not by report weight.
	eps[0].Load.RecordServerLoad(ServerLoad{CPUUtilization: 0.1, QPS: 100, Received: clk.Now()})
	eps[1].Load.RecordServerLoad(ServerLoad{CPUUtilization: 0.9, QPS: 100, Received: clk.Now()})
	p := LoadReportWRR{Now: clk.Now, Mode: "p2c", Rand: seeded(1)}.Build(eps)
	counts := countPicks(p, 2, 1000)
	// Two candidates drawn independently: both are endpoint 1 a quarter
	// of the time, and it wins nothing else.
	if counts[1] < 150 || counts[1] > 350 {
		t.Fatalf("picks %v: want about 250 for the busy endpoint", counts)
	}
	// In flight counts too: 10 in flight on endpoint 0 (score 1.1) make
	// it worse than endpoint 1 (0.9).
	eps[0].Load.AddInFlight(10)
	counts = countPicks(p, 2, 1000)
	if counts[0] < 150 || counts[0] > 350 {
		t.Fatalf("picks %v with 10 in flight on endpoint 0: want about 250 for it", counts)
	}
	// Without reports, in flight alone decides.
	eps2 := endpoints(1, 1)
	eps2[0].Load.AddInFlight(1)
	p = LoadReportWRR{Now: clk.Now, Mode: "p2c", Rand: seeded(2)}.Build(eps2)
	counts = countPicks(p, 2, 1000)
	if counts[0] > 350 {
		t.Fatalf("picks %v without reports: want about 250 for the endpoint with one in flight", counts)
	}
}

func TestLoadReportWRRConfig(t *testing.T) {
	name, a, err := ParseConfig(`{"load_report_wrr": {}}`)
	if err != nil || name != NameLoadReportWRR {
		t.Fatalf("ParseConfig: %v, %v", name, err)
	}
	s := a.(LoadReportWRR).settings()
	if s.blackout != int64(10*time.Second) || s.expiration != int64(3*time.Minute) || s.update != int64(time.Second) || s.penalty != 1 || s.p2c {
		t.Fatalf("defaults: %+v", s)
	}
	_, a, err = ParseConfig(`{"load_report_wrr": {"blackoutPeriod": "0s", "weightExpirationPeriod": "1m",
		"weightUpdatePeriod": "500ms", "errorUtilizationPenalty": 0, "mode": "p2c"}}`)
	if err != nil {
		t.Fatal(err)
	}
	s = a.(LoadReportWRR).settings()
	if s.blackout != 0 || s.expiration != int64(time.Minute) || s.update != int64(500*time.Millisecond) || s.penalty != 0 || !s.p2c {
		t.Fatalf("options: %+v", s)
	}
	for js, field := range map[string]string{
		`{"blackoutPeriod": "-1s"}`:           "blackoutPeriod",
		`{"blackoutPeriod": "2h"}`:            "blackoutPeriod",
		`{"blackoutPeriod": 10}`:              "blackoutPeriod",
		`{"weightExpirationPeriod": "100ms"}`: "weightExpirationPeriod",
		`{"weightUpdatePeriod": "10ms"}`:      "weightUpdatePeriod",
		`{"errorUtilizationPenalty": -1}`:     "errorUtilizationPenalty",
		`{"errorUtilizationPenalty": 1e9}`:    "errorUtilizationPenalty",
		`{"mode": "fastest"}`:                 "mode",
		`{"choiceCount": 2}`:                  "choiceCount",
	} {
		_, _, err := ParseConfig(`{"load_report_wrr": ` + js + `}`)
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, elb.ErrInvalidConfig) || ce.Field != "load_report_wrr."+field {
			t.Errorf("%s: error %v, want a ConfigError for load_report_wrr.%s", js, err, field)
		}
	}
	for _, bad := range []LoadReportWRR{
		{BlackoutPeriod: 2 * time.Hour}, {WeightExpirationPeriod: time.Millisecond}, {WeightUpdatePeriod: time.Millisecond},
		{ErrorUtilizationPenalty: math.NaN()}, {ErrorUtilizationPenalty: 1e4}, {Mode: "x"},
	} {
		if err := bad.Validate(); !errors.Is(err, elb.ErrInvalidConfig) {
			t.Errorf("Validate(%+v) = %v, want a ConfigError", bad, err)
		}
	}
}

// p2c draws candidates in proportion to effective weight.
func TestLoadReportWRRP2CWeighted(t *testing.T) {
	clk := fakeclock.New(lrwEpoch)
	eps := endpoints(1, 3)
	p := LoadReportWRR{Now: clk.Now, Mode: "p2c", Rand: seeded(3)}.Build(eps)
	counts := countPicks(p, 2, 10000)
	// Idle, no reports: the candidates tie on in flight and the first
	// drawn wins, so the shares are the weights': 1/4 and 3/4.
	if counts[0] < 2250 || counts[0] > 2750 {
		t.Fatalf("picks %v: want about 2500 for the endpoint of weight 1", counts)
	}
}

func TestLoadReportWRRPickAllocs(t *testing.T) {
	for _, mode := range []string{"wrr", "p2c"} {
		eps := endpoints(mixedWeights(100, 3)...)
		for i := range eps {
			eps[i].Load.RecordServerLoad(lrwReport(i, time.Now()))
		}
		p := LoadReportWRR{Mode: mode}.Build(eps)
		// The weights are not due for a second: no pick here starts a recompute.
		if n := testing.AllocsPerRun(1000, func() {
			i := p.Pick(Request{})
			eps[i].Load.AddInFlight(1)
			eps[i].Load.RecordServerLoad(lrwReport(i, time.Time{}))
			eps[i].Load.AddInFlight(-1)
		}); n != 0 {
			t.Fatalf("%s: Pick + a report allocate %v times", mode, n)
		}
	}
}
