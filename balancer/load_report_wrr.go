package balancer

import (
	"encoding/json"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/go-elb/elb/internal/cfgerr"
)

// LoadReportWRR is the load_report_wrr algorithm: weighted round robin by
// the load the servers report (gRFC A58, gRPC's weighted_round_robin and
// Envoy's client_side_weighted_round_robin), from ORCA per-call trailers,
// ORCA out-of-band streams or the endpoint-load-metrics response header
// (see [Load.RecordServerLoad]).
//
// An endpoint's weight is its latest report's
//
//	qps / (utilization + eps/qps x ErrorUtilizationPenalty)
//
// where utilization is [ServerLoad.Utilization] (application utilization,
// else CPU), times the endpoint's effective weight (so configured weights
// and slow start still apply; with equal weights, the default, the shares
// are A58's). An endpoint has no weight from reports while it has none,
// during the first BlackoutPeriod of a run of reports, once its latest
// report is WeightExpirationPeriod old (a blackout then applies again when
// reports resume), and while its latest report has a utilization or qps
// of 0; such an endpoint gets the mean weight of the others. With fewer
// than two endpoints weighted by reports, every endpoint gets the same
// report weight: plain weighted round robin on effective weights.
//
// Weights are recomputed at most once per WeightUpdatePeriod, off the
// request path: one pick in 32 reads the clock, and the first that finds
// the weights due starts one goroutine (guarded by a compare-and-swap, so
// at most one runs per picker) that recomputes them and ends; picks go on
// with the current weights meanwhile. A picker that is no longer used
// starts none, so pickers leak nothing. That pick allocates the
// goroutine; no other does. A picker that takes fewer than 32 picks per
// period recomputes less often.
//
// The schedule is [WeightedRoundRobin]'s table, rebuilt from the weights
// (quantized to integers, at most max(32 x endpoints, 4096) entries, so a
// share is exact to about 1/32 of the mean share): Pick is
// an atomic increment indexing it, O(1), with no lock and no allocation.
//
// With Mode "p2c", Pick instead draws two candidates at random in
// proportion to their effective weights, as least_request does, and takes
// the one whose reported utilization x (in flight + 1) / effective weight
// is lower: the servers' latest reports and this client's own in-flight
// count at once, with no schedule to rebuild (no report weights, no
// blackout). A candidate without a report younger than
// WeightExpirationPeriod (as of the last check, at most about
// WeightUpdatePeriod ago) is compared by in-flight per weight, as
// least_request does; utilizations below 0.001 count as 0.001. (In the
// tail-latency lab, drawing the candidates by report weight instead kept
// backends that had recovered from a slowdown at half their share.)
// Servers should report an instant utilization for it
// (loadreport.Config.Instant).
type LoadReportWRR struct {
	// BlackoutPeriod is how long an endpoint's reports are ignored after
	// its first (a server that just started reports no useful load). 0
	// means 10s (A58's default); negative means none. At most 1h.
	BlackoutPeriod time.Duration

	// WeightExpirationPeriod is how old an endpoint's latest report may
	// be and still weigh, 1s-24h. 0 means 3m (A58's default).
	WeightExpirationPeriod time.Duration

	// WeightUpdatePeriod is how often weights are recomputed, 100ms-1h.
	// 0 means 1s (A58's default).
	WeightUpdatePeriod time.Duration

	// ErrorUtilizationPenalty is how much a failing request weighs against
	// an endpoint, as a multiple of its error rate added to its
	// utilization, 0-1000. 0 means 1 (A58's default); negative means none.
	ErrorUtilizationPenalty float64

	// Mode is how a pick uses the weights: "" or "wrr" (weighted round
	// robin) or "p2c" (two weighted random choices, compared by reported
	// utilization; see above).
	Mode string

	// Now, if not nil, is the clock, for the age of reports; nil means
	// time.Now. Reports must be timed by the same clock
	// (ServerLoad.Received).
	Now func() time.Time

	// Rand, if not nil, is the source of random numbers of Mode "p2c" and
	// of the schedule's starting point, safe for concurrent use; nil means
	// math/rand/v2's top-level Uint64.
	Rand func() uint64
}

// NameLoadReportWRR is the name load_report_wrr is registered under.
const NameLoadReportWRR = "load_report_wrr"

// The defaults and ranges of LoadReportWRR's options.
const (
	defaultBlackout   = 10 * time.Second
	maxBlackout       = time.Hour
	defaultExpiration = 3 * time.Minute
	minExpiration     = time.Second
	maxExpiration     = 24 * time.Hour
	defaultUpdate     = time.Second
	minUpdate         = 100 * time.Millisecond
	maxUpdate         = time.Hour
	defaultPenalty    = 1.0
	maxPenalty        = 1000
	modeWRR, modeP2C  = "wrr", "p2c"
	lrwClockEvery     = 32 // picks per clock read
	lrwQuantum        = 1 << 20
	lrwMinUtilization = 1e-3
	// lrwTablePerEndpoint caps the schedule at 32 entries per endpoint
	// (and at least 4096): weights move every second, so the table is
	// rebuilt as often, and at 10,000 endpoints that is 1.3 MB, not
	// weighted_round_robin's 5 MB.
	lrwTablePerEndpoint = 32
)

// Validate returns an *elb.ConfigError for the first option out of its
// range. [Register] and [ParseConfig] call it.
func (a LoadReportWRR) Validate() error {
	switch {
	case a.BlackoutPeriod > maxBlackout:
		return cfgerr.New("BlackoutPeriod", a.BlackoutPeriod, "must be at most 1h (0 for 10s, negative for none)")
	case a.WeightExpirationPeriod != 0 && (a.WeightExpirationPeriod < minExpiration || a.WeightExpirationPeriod > maxExpiration):
		return cfgerr.New("WeightExpirationPeriod", a.WeightExpirationPeriod, "must be 1s-24h, or 0 for 3m")
	case a.WeightUpdatePeriod != 0 && (a.WeightUpdatePeriod < minUpdate || a.WeightUpdatePeriod > maxUpdate):
		return cfgerr.New("WeightUpdatePeriod", a.WeightUpdatePeriod, "must be 100ms-1h, or 0 for 1s")
	case math.IsNaN(a.ErrorUtilizationPenalty) || a.ErrorUtilizationPenalty > maxPenalty:
		return cfgerr.New("ErrorUtilizationPenalty", a.ErrorUtilizationPenalty, "must be at most 1000 (0 for 1, negative for none)")
	case a.Mode != "" && a.Mode != modeWRR && a.Mode != modeP2C:
		return cfgerr.New("Mode", a.Mode, `must be "wrr" or "p2c", or "" for "wrr"`)
	}
	return nil
}

// loadReportWRROptions are LoadReportWRR's options in JSON, with gRPC's
// weighted_round_robin's names (its enableOobLoadReport and
// oobReportingPeriod belong to the gRPC adapter's config).
type loadReportWRROptions struct {
	BlackoutPeriod          *cfgerr.Duration `json:"blackoutPeriod"`
	WeightExpirationPeriod  *cfgerr.Duration `json:"weightExpirationPeriod"`
	WeightUpdatePeriod      *cfgerr.Duration `json:"weightUpdatePeriod"`
	ErrorUtilizationPenalty *float64         `json:"errorUtilizationPenalty"`
	Mode                    *string          `json:"mode"`
}

// ParseConfig reads the options {"blackoutPeriod": "10s",
// "weightExpirationPeriod": "3m", "weightUpdatePeriod": "1s",
// "errorUtilizationPenalty": 1.0, "mode": "wrr"} over a's settings, each
// optional: a missing one keeps a's (the defaults for the registered
// load_report_wrr). As in gRPC, an explicit "0s" blackoutPeriod and an
// explicit 0 errorUtilizationPenalty mean none. Durations are Go duration
// strings; values out of range are errors ("weightUpdatePeriod: 10ms must
// be 100ms-1h").
func (a LoadReportWRR) ParseConfig(js json.RawMessage) (Algorithm, error) {
	var o loadReportWRROptions
	if err := cfgerr.DecodeJSON(js, &o); err != nil {
		return nil, err
	}
	if d := o.BlackoutPeriod; d != nil {
		switch {
		case *d < 0 || time.Duration(*d) > maxBlackout:
			return nil, cfgerr.New("blackoutPeriod", time.Duration(*d), "must be 0s-1h")
		case *d == 0:
			a.BlackoutPeriod = -1
		default:
			a.BlackoutPeriod = time.Duration(*d)
		}
	}
	durations := []struct {
		name     string
		v        *cfgerr.Duration
		dst      *time.Duration
		min, max time.Duration
	}{
		{"weightExpirationPeriod", o.WeightExpirationPeriod, &a.WeightExpirationPeriod, minExpiration, maxExpiration},
		{"weightUpdatePeriod", o.WeightUpdatePeriod, &a.WeightUpdatePeriod, minUpdate, maxUpdate},
	}
	for _, d := range durations {
		if d.v == nil {
			continue
		}
		if v := time.Duration(*d.v); v < d.min || v > d.max {
			return nil, cfgerr.New(d.name, v, fmt.Sprintf("must be %v-%v", d.min, d.max))
		}
		*d.dst = time.Duration(*d.v)
	}
	if p := o.ErrorUtilizationPenalty; p != nil {
		if *p < 0 || *p > maxPenalty {
			return nil, cfgerr.New("errorUtilizationPenalty", *p, "must be 0-1000")
		}
		a.ErrorUtilizationPenalty = *p
		if *p == 0 {
			a.ErrorUtilizationPenalty = -1
		}
	}
	if o.Mode != nil {
		if m := *o.Mode; m != modeWRR && m != modeP2C {
			return nil, cfgerr.New("mode", m, `must be "wrr" or "p2c"`)
		}
		a.Mode = *o.Mode
	}
	return a, nil
}

// lrwSettings are a LoadReportWRR's options with the defaults filled in,
// in the units the picker uses.
type lrwSettings struct {
	blackout, expiration, update int64 // nanoseconds; blackout 0 = none
	penalty                      float64
	p2c                          bool
	now                          func() time.Time
	rand                         func() uint64
}

func (a LoadReportWRR) settings() lrwSettings {
	s := lrwSettings{
		blackout: int64(defaultBlackout), expiration: int64(defaultExpiration),
		update: int64(defaultUpdate), penalty: defaultPenalty,
		p2c: a.Mode == modeP2C, now: a.Now, rand: a.Rand,
	}
	switch {
	case a.BlackoutPeriod < 0:
		s.blackout = 0
	case a.BlackoutPeriod > 0:
		s.blackout = int64(a.BlackoutPeriod)
	}
	if a.WeightExpirationPeriod > 0 {
		s.expiration = int64(a.WeightExpirationPeriod)
	}
	if a.WeightUpdatePeriod > 0 {
		s.update = int64(a.WeightUpdatePeriod)
	}
	switch {
	case a.ErrorUtilizationPenalty < 0:
		s.penalty = 0
	case a.ErrorUtilizationPenalty > 0:
		s.penalty = a.ErrorUtilizationPenalty
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Build returns a picker over endpoints, with weights computed from the
// endpoints' latest reports.
func (a LoadReportWRR) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	p := &lrwPicker{s: a.settings(), loads: loads(endpoints), ws: make([]float64, len(endpoints))}
	for i := range endpoints {
		p.ws[i] = float64(max(endpoints[i].Weight, 1))
		if p.s.p2c && p.ws[i] != p.ws[0] && p.alias == nil {
			p.alias = newAliasTable(endpoints)
		}
	}
	p.seq.init(rnd(p.s.rand), uint64(len(endpoints)))
	p.update(p.s.now())
	return p
}

type lrwPicker struct {
	s       lrwSettings
	loads   []*Load
	ws      []float64  // effective weights
	alias   aliasTable // p2c over unequal effective weights; nil otherwise
	sched   atomic.Pointer[lrwSchedule]
	seq     sequence
	due     atomic.Int64 // Unix nanoseconds when the weights are next due
	updated atomic.Int64 // Unix nanoseconds of the last recompute
	busy    atomic.Bool  // a recompute is running
}

// lrwSchedule is one recompute's result: the table of picks, and the
// report weights it was built from (for tests).
type lrwSchedule struct {
	table   []int32
	n       uint64
	weights []float64 // final weights, report weight x effective weight
}

func (p *lrwPicker) Pick(Request) int {
	if len(p.loads) == 1 {
		return 0
	}
	if p.s.p2c {
		r := rnd(p.s.rand)
		if r>>59 == 0 { // 1 pick in 32, as lrwClockEvery
			p.maybeUpdate()
		}
		i, j := p.draw(uint32(r>>32)), p.draw(uint32(r))
		if p.better(j, i) {
			return j
		}
		return i
	}
	s := p.sched.Load()
	c := p.seq.step()
	if c%lrwClockEvery == 0 {
		p.maybeUpdate()
	}
	return int(s.table[c%s.n])
}

// draw maps x to an endpoint in proportion to effective weight, for p2c.
func (p *lrwPicker) draw(x uint32) int {
	if p.alias != nil {
		return p.alias.pick32(x)
	}
	return int(range32(x, uint64(len(p.loads))))
}

// maybeUpdate starts a recompute if the weights are due and none runs.
func (p *lrwPicker) maybeUpdate() {
	if p.s.now().UnixNano() < p.due.Load() || !p.busy.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer p.busy.Store(false)
		p.update(p.s.now())
	}()
}

// better reports whether endpoint a is strictly less loaded than b, for
// Mode "p2c".
func (p *lrwPicker) better(a, b int) bool {
	la, lb := p.loads[a], p.loads[b]
	ia, ib := float64(inFlight(la)), float64(inFlight(lb))
	ua, ta := la.utilizationAt()
	ub, tb := lb.utilizationAt()
	if fresh := p.updated.Load() - p.s.expiration; ta > fresh && tb > fresh {
		ia = (ia + 1) * max(ua, lrwMinUtilization)
		ib = (ib + 1) * max(ub, lrwMinUtilization)
	}
	return ia*p.ws[b] < ib*p.ws[a]
}

// update recomputes the weights as of now and publishes their schedule
// (p2c has none: it only notes the time, for the age of reports).
func (p *lrwPicker) update(now time.Time) {
	defer p.due.Store(now.UnixNano() + p.s.update)
	p.updated.Store(now.UnixNano())
	if p.s.p2c {
		return
	}
	ws := p.weights(now.UnixNano())
	eps := make([]Endpoint, len(ws))
	top := 0.0
	for _, w := range ws {
		top = max(top, w)
	}
	for i, w := range ws {
		eps[i].Weight = max(1, int(math.Round(w/top*lrwQuantum)))
	}
	t := wrrTableOf(eps, lrwTablePerEndpoint)
	p.sched.Store(&lrwSchedule{table: t, n: uint64(len(t)), weights: ws})
}

// weights returns each endpoint's weight as of now: its report weight
// (the mean for one without) times its effective weight.
func (p *lrwPicker) weights(now int64) []float64 {
	ws := make([]float64, len(p.loads))
	var sum float64
	var known int
	for i, l := range p.loads {
		if w := p.reportWeight(l, now); w > 0 {
			ws[i] = w
			sum += w
			known++
		}
	}
	mean := 1.0
	if known >= 2 {
		mean = sum / float64(known)
	}
	for i := range ws {
		if known < 2 || ws[i] == 0 {
			ws[i] = mean
		}
		ws[i] *= p.ws[i]
	}
	return ws
}

// reportWeight returns l's weight from its latest report as of now, or 0
// if it has none that counts (see LoadReportWRR).
func (p *lrwPicker) reportWeight(l *Load, now int64) float64 {
	r, since, ok := l.ServerLoad()
	if !ok {
		return 0
	}
	if now-r.Received.UnixNano() >= p.s.expiration {
		l.EndServerLoadRun()
		return 0
	}
	if p.s.blackout > 0 && (since.IsZero() || now-since.UnixNano() < p.s.blackout) {
		return 0
	}
	return a58Weight(r, p.s.penalty)
}

// a58Weight is gRFC A58's weight of a report: qps / (utilization +
// eps/qps x penalty), or 0 if utilization or qps is 0. Valid reports keep
// it finite: qps and eps are at most MaxServerLoadValue, so the divisor is
// either 0 or at least its smallest positive terms.
func a58Weight(r ServerLoad, penalty float64) float64 {
	u := r.Utilization()
	if u <= 0 || r.QPS <= 0 {
		return 0
	}
	w := r.QPS / (u + r.EPS/r.QPS*penalty)
	if math.IsInf(w, 0) || math.IsNaN(w) {
		return 0
	}
	return w
}
