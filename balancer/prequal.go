package balancer

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-elb/elb/internal/cfgerr"
)

// NamePrequal is the name [Prequal] is registered under.
const NamePrequal = "prequal"

func init() { registry.m[NamePrequal] = Prequal{} }

// ProbeResult is a server's answer to a probe: its load as the server
// itself sees it, counting the requests of every client.
type ProbeResult struct {
	// InFlight is the number of requests the server is serving, at least 0.
	InFlight int64

	// Latency is the server's estimate of how long a request takes there
	// now, at least 0; 0 means the server has no estimate.
	Latency time.Duration
}

// ProbeFunc asks the server of ep for its load. It is called from
// [Prequal]'s own goroutines, never from Pick, at most
// MaxConcurrentProbes at a time per picker; it must return once ctx is
// done, and must not panic. An error, a negative InFlight or a negative
// Latency counts as a failed probe: it removes ep's answer from the pool.
type ProbeFunc func(ctx context.Context, ep Endpoint) (ProbeResult, error)

// Prequal is the prequal algorithm: probing to reduce queuing and latency,
// after Google's Prequal (Wydrowski et al., "Load is not what you should
// balance: Introducing Prequal", NSDI 2024). Where least_request sees only
// its own client's requests, prequal asks the servers: each picker keeps a
// small pool of recent probe answers (endpoint, requests in flight and
// latency estimate as the server reports them, time of arrival, times
// used), and picks from it by the hot-cold rule:
//
//   - an answer is hot if its in-flight count is above the HotQuantile
//     quantile (nearest rank) of the in-flight counts of the last
//     4 x PoolSize answers received, and cold otherwise;
//   - among cold answers the lowest latency wins (ties: fewer in flight,
//     then the lower endpoint index);
//   - if every answer is hot, the fewest in flight wins (ties: lower
//     latency, then the lower endpoint index).
//
// Each use of an answer adds 1 to its in-flight count (the request just
// sent) and an answer used MaxReuse times leaves the pool; so does an
// answer older than MaxAge, and the answer of an endpoint whose probe
// fails. A new answer replaces that of the same endpoint, or, in a full
// pool, the oldest. With fewer than two answers in the pool (the first
// picks, a quiet period, or probes slower than picks) Pick falls back to
// least_request's power of two choices on the client's own in-flight
// counts, so no pick ever waits for a probe. A single answer is left
// alone: it is most often the one the rule passed over, a slow server's,
// and one answer offers no choice. (PoolSize 1 uses its one answer.)
//
// Probes run off the request path: each Pick queues ProbesPerPick probes
// on average to endpoints drawn at random in proportion to weight
// (distinct within one pick), at most MaxProbeRate a second per picker
// (bursts of PoolSize), and returns at once; up to MaxConcurrentProbes
// goroutines, started on demand, run the queued probes and end when the
// queue is empty, each probe bounded by ProbeTimeout. A probe that finds
// the queue full is dropped. Pick never holds a lock across a probe; it
// reads the clock once and takes one short mutex around the pool (a scan
// of at most PoolSize answers). Pick allocates nothing, except that
// starting a probe goroutine allocates. Weights steer probing and the fallback only: the
// hot-cold rule compares what the servers report.
//
// Answers survive rebuilds (the group builds a new picker on every
// membership, weight, health or slow-start change): each endpoint's
// latest answer is also kept on its Load, which the group keeps for the
// member's whole life, by whichever picker probed it (with Views, the
// group's or a View's). A new picker starts its pool with the newest
// PoolSize of its endpoints' latest answers that are at most MaxAge old,
// succeeded, and have served fewer than MaxReuse picks in all pickers
// (the picks they served count toward MaxReuse, and toward their
// in-flight count, in the new picker as in the old), and its hot
// threshold's history with their in-flight counts. The rate limit, the
// probe queue and the rest of the history start anew in each picker. An
// endpoint that left is neither probed nor picked by the new picker; an
// answer that a replaced picker's probe brings after the rebuild goes to
// the old pool, which no pick reads, and to the Load. Only a group's
// first picker, or one after a quiet MaxAge, starts empty, picking by
// least_request until the first answers arrive, one probe round trip
// later. Pickers that share Loads must share a clock (Now). A picker
// over one endpoint never probes.
//
// The zero value is the paper's configuration but for ProbesPerPick (2,
// not 3), with HTTP probes of
// [DefaultProbePath] (answered by loadreport.ProbeHandler). Servers that
// do not answer them (gRPC servers, which serve no HTTP/1.1) fail every
// probe, and prequal is then least_request: give such a group a Probe of
// its own. Unlike the paper's, the pool holds one answer per endpoint
// and has no periodic removal of its worst answer (r_remove); the
// paper's server-side latency estimate, conditioned on the in-flight
// count, is loadreport.ProbeHandler's.
type Prequal struct {
	// Probe asks a server for its load. Nil means [HTTPProbe](Path, nil):
	// an HTTP GET of http://<Addr><Path> on a client shared by every
	// picker.
	Probe ProbeFunc

	// Path is the URL path the default prober GETs, starting with "/".
	// "" means [DefaultProbePath]. It is unused when Probe is set.
	Path string

	// ProbesPerPick is the probing rate r_probe: probes queued per pick on
	// average, more than 0 and at most 16, in steps of 1/256 (1.5 means 1
	// and 2 in turn). 0 means 2; the paper's default is 3, but an HTTP
	// probe costs about what a request does, and 2 had the same p99s as 3
	// in the simulation of S2 and S5, with a third fewer probes (lab S5
	// runs with 3 were distorted by the client's own CPU use).
	ProbesPerPick float64

	// MaxProbeRate caps the probes a picker starts, per second, 1 to
	// 1,000,000; bursts of PoolSize probes are allowed. 0 means 1000.
	MaxProbeRate float64

	// MaxConcurrentProbes is the most probes a picker runs at once, and
	// the most it holds queued, 1-1024. 0 means 16.
	MaxConcurrentProbes int

	// PoolSize is the most answers the pool holds, 1-256. 0 means 16, the
	// paper's default.
	PoolSize int

	// MaxReuse is the reuse budget b_reuse: the picks an answer may serve
	// before it leaves the pool, 1-1000. 0 means 2.
	MaxReuse int

	// MaxAge is the age, on the Now clock, beyond which an answer leaves
	// the pool, 1ms-1m. 0 means 1s.
	MaxAge time.Duration

	// ProbeTimeout bounds each probe, in real time, 1ms-1m. 0 means 500ms.
	ProbeTimeout time.Duration

	// HotQuantile is Q_RIF, the quantile of recent in-flight counts above
	// which an answer is hot, more than 0 and at most 1: near 0 the rule
	// picks by in-flight count, at 1 by latency. 0 means 0.84.
	HotQuantile float64

	// Now, if not nil, is the clock that ages answers and paces probes.
	// Nil means time.Now.
	Now func() time.Time

	// Rand, if not nil, is the source of random numbers, for probe
	// targets and the fallback; it must be safe for concurrent use. Nil
	// means math/rand/v2's top-level Uint64.
	Rand func() uint64
}

// DefaultProbePath is the path [HTTPProbe] probes when given "", and the
// one loadreport.ProbeHandler answers on by default.
const DefaultProbePath = "/elb/load"

// Prequal's defaults and ranges.
const (
	defaultProbesPerPick  = 2
	maxProbesPerPick      = 16
	defaultMaxProbeRate   = 1000
	maxMaxProbeRate       = 1_000_000
	defaultMaxConcurrent  = 16
	maxMaxConcurrent      = 1024
	defaultPoolSize       = 16
	maxPoolSize           = 256
	defaultMaxReuse       = 2
	maxMaxReuse           = 1000
	defaultMaxAge         = time.Second
	defaultProbeTimeout   = 500 * time.Millisecond
	minPrequalDuration    = time.Millisecond
	maxPrequalDuration    = time.Minute
	defaultHotQuantile    = 0.84
	prequalHistoryPerPool = 4 // answers whose in-flight counts set the hot threshold, per pool entry
)

// withDefaults returns a with every zero field set to its default.
func (a Prequal) withDefaults() Prequal {
	orDefault(&a.Path, DefaultProbePath)
	orDefault(&a.ProbesPerPick, defaultProbesPerPick)
	orDefault(&a.MaxProbeRate, defaultMaxProbeRate)
	orDefault(&a.MaxConcurrentProbes, defaultMaxConcurrent)
	orDefault(&a.PoolSize, defaultPoolSize)
	orDefault(&a.MaxReuse, defaultMaxReuse)
	orDefault(&a.MaxAge, defaultMaxAge)
	orDefault(&a.ProbeTimeout, defaultProbeTimeout)
	orDefault(&a.HotQuantile, defaultHotQuantile)
	return a
}

// orDefault sets *v to d if it is the zero value.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

// Validate returns an *elb.ConfigError for the first field that is
// neither 0 (its default) nor in range. [Register] calls it.
func (a Prequal) Validate() error {
	return a.withDefaults().check(func(goName, _ string) string { return goName })
}

// check validates a, every field set; name gives the name of a field in
// the errors, from its Go and JSON names.
func (a Prequal) check(name func(goName, jsonName string) string) error {
	between := func(lo, hi float64) string { return fmt.Sprintf("must be %v-%v", lo, hi) }
	switch {
	case !strings.HasPrefix(a.Path, "/"):
		return cfgerr.New(name("Path", "path"), a.Path, `must start with "/"`)
	case !(a.ProbesPerPick > 0 && a.ProbesPerPick <= maxProbesPerPick) || math.Round(a.ProbesPerPick*256) < 1:
		return cfgerr.New(name("ProbesPerPick", "probesPerPick"), a.ProbesPerPick, fmt.Sprintf("must be more than 0 (at least 1/256) and at most %d", maxProbesPerPick))
	case !(a.MaxProbeRate >= 1 && a.MaxProbeRate <= maxMaxProbeRate):
		return cfgerr.New(name("MaxProbeRate", "maxProbeRate"), a.MaxProbeRate, between(1, maxMaxProbeRate))
	case a.MaxConcurrentProbes < 1 || a.MaxConcurrentProbes > maxMaxConcurrent:
		return cfgerr.New(name("MaxConcurrentProbes", "maxConcurrentProbes"), a.MaxConcurrentProbes, between(1, maxMaxConcurrent))
	case a.PoolSize < 1 || a.PoolSize > maxPoolSize:
		return cfgerr.New(name("PoolSize", "poolSize"), a.PoolSize, between(1, maxPoolSize))
	case a.MaxReuse < 1 || a.MaxReuse > maxMaxReuse:
		return cfgerr.New(name("MaxReuse", "maxReuse"), a.MaxReuse, between(1, maxMaxReuse))
	case a.MaxAge < minPrequalDuration || a.MaxAge > maxPrequalDuration:
		return cfgerr.New(name("MaxAge", "maxAge"), a.MaxAge, "must be 1ms-1m")
	case a.ProbeTimeout < minPrequalDuration || a.ProbeTimeout > maxPrequalDuration:
		return cfgerr.New(name("ProbeTimeout", "probeTimeout"), a.ProbeTimeout, "must be 1ms-1m")
	case !(a.HotQuantile > 0 && a.HotQuantile <= 1):
		return cfgerr.New(name("HotQuantile", "hotQuantile"), a.HotQuantile, "must be more than 0 and at most 1")
	}
	return nil
}

// prequalOptions are Prequal's options in JSON.
type prequalOptions struct {
	Path                string          `json:"path"`
	ProbesPerPick       float64         `json:"probesPerPick"`
	MaxProbeRate        float64         `json:"maxProbeRate"`
	MaxConcurrentProbes int             `json:"maxConcurrentProbes"`
	PoolSize            int             `json:"poolSize"`
	MaxReuse            int             `json:"maxReuse"`
	MaxAge              cfgerr.Duration `json:"maxAge"`
	ProbeTimeout        cfgerr.Duration `json:"probeTimeout"`
	HotQuantile         float64         `json:"hotQuantile"`
}

// ParseConfig reads the options {"path": "/elb/load", "probesPerPick": 2,
// "maxProbeRate": 1000, "maxConcurrentProbes": 16, "poolSize": 16,
// "maxReuse": 2, "maxAge": "1s", "probeTimeout": "500ms",
// "hotQuantile": 0.84} over a's settings, each missing one being a's, or
// its default where a's is 0. The result is validated after the defaults
// are filled in, so an explicit 0 is an error ("poolSize: 0 must be
// 1-256"). Probe, Now and Rand are set in Go only.
func (a Prequal) ParseConfig(js json.RawMessage) (Algorithm, error) {
	d := a.withDefaults()
	o := prequalOptions{
		Path: d.Path, ProbesPerPick: d.ProbesPerPick, MaxProbeRate: d.MaxProbeRate,
		MaxConcurrentProbes: d.MaxConcurrentProbes, PoolSize: d.PoolSize, MaxReuse: d.MaxReuse,
		MaxAge: cfgerr.Duration(d.MaxAge), ProbeTimeout: cfgerr.Duration(d.ProbeTimeout), HotQuantile: d.HotQuantile,
	}
	if err := cfgerr.DecodeJSON(js, &o); err != nil {
		return nil, err
	}
	a.Path, a.ProbesPerPick, a.MaxProbeRate = o.Path, o.ProbesPerPick, o.MaxProbeRate
	a.MaxConcurrentProbes, a.PoolSize, a.MaxReuse = o.MaxConcurrentProbes, o.PoolSize, o.MaxReuse
	a.MaxAge, a.ProbeTimeout, a.HotQuantile = time.Duration(o.MaxAge), time.Duration(o.ProbeTimeout), o.HotQuantile
	if err := a.check(func(_, jsonName string) string { return jsonName }); err != nil {
		return nil, err
	}
	return a, nil
}

// Build returns a prequal picker over endpoints. Settings out of range
// are clamped into range (Validate rejects them).
func (a Prequal) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	c := a.withDefaults()
	p := &pqPicker{
		eps:        endpoints,
		fallback:   LeastRequest{Rand: c.Rand}.Build(endpoints),
		probe:      c.Probe,
		now:        c.Now,
		rand:       c.Rand,
		perPick:    uint64(min(max(math.Round(c.ProbesPerPick*256), 1), maxProbesPerPick*256)),
		timeout:    min(max(c.ProbeTimeout, minPrequalDuration), maxPrequalDuration),
		maxAge:     int64(min(max(c.MaxAge, minPrequalDuration), maxPrequalDuration)),
		maxReuse:   int32(min(max(c.MaxReuse, 1), maxMaxReuse)),
		maxWorkers: int32(min(max(c.MaxConcurrentProbes, 1), maxMaxConcurrent)),
		quantile:   c.HotQuantile,
	}
	if !(p.quantile > 0 && p.quantile <= 1) {
		p.quantile = defaultHotQuantile
	}
	if p.probe == nil {
		p.probe = HTTPProbe(c.Path, nil)
	}
	if p.now == nil {
		p.epoch = time.Now()
	} else {
		p.epoch = p.now()
	}
	p.base = int64(p.epoch.Sub(epoch))
	rate := c.MaxProbeRate
	if !(rate >= 1) {
		rate = 1
	}
	size := min(max(c.PoolSize, 1), maxPoolSize)
	p.interval = max(int64(float64(time.Second)/min(rate, maxMaxProbeRate)), 1)
	p.tolerance = int64(size-1) * p.interval
	p.queue = make(chan int32, p.maxWorkers)
	p.pool = make([]pqEntry, 0, size)
	p.hist = make([]int64, prequalHistoryPerPool*size)
	p.threshold.Store(math.MaxInt64)
	ws, _ := reducedWeights(endpoints, ^uint64(0))
	for i := range ws {
		if ws[i] != ws[0] {
			p.alias = newAliasTable(endpoints)
			break
		}
	}
	if len(endpoints) > 1 {
		p.seed()
	}
	return p
}

// pqEntry is one probe answer in the pool.
type pqEntry struct {
	idx  int32  // the endpoint's index
	uses int32  // picks it served
	tag  uint32 // the answer's tag on the endpoint's Load (see pqLatest)
	rif  int64  // requests in flight: the server's count + uses
	lat  int64  // the server's latency estimate, ns
	at   int64  // arrival, ns since the picker's epoch
}

type pqPicker struct {
	eps        []Endpoint
	fallback   Picker
	alias      aliasTable // nil when all weights are equal
	probe      ProbeFunc
	now        func() time.Time // nil: the monotonic clock
	epoch      time.Time
	base       int64 // epoch in ns since the package's epoch, on the same clock: what Loads record times in
	rand       func() uint64
	perPick    uint64 // probes per pick, in 1/256
	interval   int64  // ns between probes at MaxProbeRate
	tolerance  int64  // the rate limit's burst tolerance, ns
	timeout    time.Duration
	maxAge     int64
	maxReuse   int32
	maxWorkers int32
	quantile   float64
	queue      chan int32 // endpoints to probe

	_         cacheLinePad
	picks     atomic.Uint64
	tat       atomic.Int64 // the rate limit's theoretical arrival time (GCRA), ns since epoch
	workers   atomic.Int32
	threshold atomic.Int64 // an answer with more in flight is hot

	_    cacheLinePad
	mu   sync.Mutex
	pool []pqEntry

	_     cacheLinePad
	hmu   sync.Mutex
	hist  []int64 // in-flight counts of recent answers, a ring
	hpos  int
	hfull bool
}

// since is the clock's reading in ns since the picker's epoch. Without a
// Now it reads only the monotonic clock (time.Since: 76ns here, where
// time.Now takes 118ns).
func (p *pqPicker) since() int64 {
	if p.now == nil {
		return int64(time.Since(p.epoch))
	}
	return int64(p.now().Sub(p.epoch))
}

func (p *pqPicker) Pick(req Request) int {
	if len(p.eps) == 1 {
		return 0
	}
	now := p.since()
	p.mu.Lock()
	i, tag := p.choose(now)
	p.mu.Unlock()
	p.issue(now)
	if i < 0 {
		return p.fallback.Pick(req)
	}
	if l := p.eps[i].Load; l != nil {
		l.probe.used(tag)
	}
	return i
}

// choose drops aged answers and returns the endpoint of the pool's best
// answer by the hot-cold rule, counting the use, and the answer's tag; or
// -1 if the pool holds fewer than two answers (with PoolSize 1: none).
// The caller holds p.mu.
func (p *pqPicker) choose(now int64) (int, uint32) {
	for j := 0; j < len(p.pool); {
		if now-p.pool[j].at > p.maxAge {
			p.remove(j)
			continue
		}
		j++
	}
	if len(p.pool) < min(2, cap(p.pool)) {
		return -1, 0 // one answer is no choice: left for when another arrives
	}
	thr := p.threshold.Load()
	best := 0
	for j := 1; j < len(p.pool); j++ {
		if pqBetter(&p.pool[j], &p.pool[best], thr) {
			best = j
		}
	}
	e := &p.pool[best]
	e.uses++
	e.rif++
	i, tag := int(e.idx), e.tag
	if e.uses >= p.maxReuse {
		p.remove(best)
	}
	return i, tag
}

// pqBetter reports whether answer a wins over b by the hot-cold rule with
// hot threshold thr.
func pqBetter(a, b *pqEntry, thr int64) bool {
	aHot, bHot := a.rif > thr, b.rif > thr
	switch {
	case aHot != bHot:
		return bHot
	case aHot: // both hot: fewest in flight
		if a.rif != b.rif {
			return a.rif < b.rif
		}
		if a.lat != b.lat {
			return a.lat < b.lat
		}
	default: // both cold: lowest latency
		if a.lat != b.lat {
			return a.lat < b.lat
		}
		if a.rif != b.rif {
			return a.rif < b.rif
		}
	}
	return a.idx < b.idx
}

// remove removes the pool's answer j. The caller holds p.mu.
func (p *pqPicker) remove(j int) {
	last := len(p.pool) - 1
	p.pool[j] = p.pool[last]
	p.pool = p.pool[:last]
}

// insert puts an answer into the pool: over that of the same endpoint,
// else in a free place, else over the oldest. The caller holds p.mu.
func (p *pqPicker) insert(e pqEntry) {
	for j := range p.pool {
		if p.pool[j].idx == e.idx {
			p.pool[j] = e
			return
		}
	}
	if len(p.pool) < cap(p.pool) {
		p.pool = append(p.pool, e)
		return
	}
	p.pool[p.oldest()] = e
}

// forget removes endpoint i's answer, if the pool holds one. The caller
// holds p.mu.
func (p *pqPicker) forget(i int32) {
	for j := range p.pool {
		if p.pool[j].idx == i {
			p.remove(j)
			return
		}
	}
}

// issue queues this pick's share of probes, within the rate limit, and
// makes sure enough goroutines run them. It never blocks.
func (p *pqPicker) issue(now int64) {
	c := (p.picks.Add(1) - 1) & 255 // the count of probes per pick repeats every 256 picks
	k := int((c+1)*p.perPick>>8 - c*p.perPick>>8)
	k = min(k, len(p.eps))
	var drawn [maxProbesPerPick]int32
	sent := 0
draw:
	for range k {
		t := p.target()
		if slices.Contains(drawn[:sent], t) {
			continue
		}
		if !p.allow(now) {
			break
		}
		select {
		case p.queue <- t:
		default: // full: the probes in hand are enough
			break draw
		}
		drawn[sent] = t
		sent++
	}
	if sent > 0 {
		p.wake()
	}
}

// target draws an endpoint to probe, in proportion to weight.
func (p *pqPicker) target() int32 {
	r := rnd(p.rand)
	if p.alias != nil {
		return int32(p.alias.pick32(uint32(r >> 32)))
	}
	return int32(range32(uint32(r>>32), uint64(len(p.eps))))
}

// allow takes one probe from the rate limit (GCRA: the probes allowed in
// any span of t ns number at most t/interval + PoolSize).
func (p *pqPicker) allow(now int64) bool {
	for {
		tat := p.tat.Load()
		t := max(tat, now)
		if t-now > p.tolerance {
			return false
		}
		if p.tat.CompareAndSwap(tat, t+p.interval) {
			return true
		}
	}
}

// wake starts probe goroutines while there are fewer than queued probes
// and than MaxConcurrentProbes.
func (p *pqPicker) wake() {
	for {
		w := p.workers.Load()
		if w >= p.maxWorkers || int(w) >= len(p.queue) {
			return
		}
		if p.workers.CompareAndSwap(w, w+1) {
			go p.work()
		}
	}
}

// work runs queued probes until the queue is empty.
func (p *pqPicker) work() {
	for {
		select {
		case i := <-p.queue:
			p.probeOne(i)
		default:
			p.workers.Add(-1)
			// A probe queued after the receive failed but while this
			// goroutine still counted may have found no one to start.
			if len(p.queue) > 0 {
				p.wake()
			}
			return
		}
	}
}

// probeOne probes endpoint i and records the answer, in the pool and on
// the endpoint's Load. A picker that was replaced meanwhile records it
// too: in a pool no pick reads any more, and on the Load as the latest
// answer, which it is.
func (p *pqPicker) probeOne(i int32) {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	r, err := p.probe(ctx, p.eps[i])
	cancel()
	at := p.since()
	if err != nil || r.InFlight < 0 || r.Latency < 0 {
		p.record(i, pqFailed, 0, at)
		p.mu.Lock()
		p.forget(i)
		p.mu.Unlock()
		return
	}
	p.observe(r.InFlight)
	e := pqEntry{idx: i, rif: r.InFlight, lat: int64(r.Latency), at: at}
	e.tag = p.record(i, e.rif, e.lat, at)
	p.mu.Lock()
	p.insert(e)
	p.mu.Unlock()
}

// record makes an answer the latest on endpoint i's Load and returns its
// tag there (pqNoTag without a Load).
func (p *pqPicker) record(i int32, rif, lat, at int64) uint32 {
	if l := p.eps[i].Load; l != nil {
		return l.probe.record(rif, lat, at+p.base)
	}
	return pqNoTag
}

// observe adds answers' in-flight counts to the recent ones and sets the
// hot threshold from them: their HotQuantile quantile, nearest rank.
func (p *pqPicker) observe(rifs ...int64) {
	var buf [prequalHistoryPerPool * maxPoolSize]int64
	p.hmu.Lock()
	for _, rif := range rifs {
		p.hist[p.hpos] = rif
		p.hpos++
		if p.hpos == len(p.hist) {
			p.hpos, p.hfull = 0, true
		}
	}
	n := p.hpos
	if p.hfull {
		n = len(p.hist)
	}
	v := buf[:copy(buf[:], p.hist[:n])]
	p.hmu.Unlock()
	p.threshold.Store(nearestRank(v, p.quantile))
}

// nearestRank returns the q quantile of v (0 < q <= 1), by nearest rank:
// the ceil(q x len(v))-th smallest value. It sorts v.
func nearestRank(v []int64, q float64) int64 {
	slices.Sort(v)
	rank := int(math.Ceil(q*float64(len(v)) - 1e-9))
	return v[min(max(rank, 1), len(v))-1]
}
