package balancer

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/go-elb/elb/internal/cfgerr"
)

// PeakEWMA is the peak_ewma algorithm: power of k choices on a latency
// estimate that is quick to see a backend slow down and a failure as a
// slow answer (Finagle's and linkerd's peak EWMA, with failures counted).
// Each Pick draws ChoiceCount candidates, as [LeastRequest] does (distinct
// endpoints with equal weights, in proportion to weight otherwise), and
// returns the one of least cost,
//
//	cost = estimate x (in flight + 1) / weight
//
// where estimate is the endpoint's [Load] latency estimate, decayed to the
// present: a sample above it replaces it at once, one below moves it by
// 1-exp(-elapsed/Decay), and without samples it fades toward zero with the
// same time constant, so an endpoint that recovered, or that nothing was
// sent to for a while, is tried again. On a tie the first candidate drawn
// wins, so an idle group gets the weighted shares. Pick is O(ChoiceCount)
// and reads no clock (two decayed estimates compare by their sample
// times alone); [Load.ObserveLatency] and [Load.ObserveFailure], called by
// the group's Done, read it once.
//
// A failure counts as a sample of the largest of its latency,
// FailurePenalty and twice the current estimate: a backend that answers
// errors fast looks slow, and gets few requests, until its successes have
// brought its estimate down again.
//
// An endpoint with no sample yet (new, or in a group whose requests end
// with Done rather than DoneWith and a latency) costs 0 while it has
// nothing in flight, so that it is tried at once; with requests in flight
// it is taken to be as fast as the candidate it is compared with, so it
// competes on in-flight requests per weight (two such endpoints compare
// so too): tried, not flooded.
//
// Benched endpoints ([Load.Bench]) are avoided as [LeastRequest] avoids
// them.
//
// Build sets Decay and FailurePenalty on the endpoints' Loads, where the
// group's Done reads them: the Loads of a group follow the last peak_ewma
// picker built over them.
type PeakEWMA struct {
	// ChoiceCount is the number of candidates per pick, from 2 to 10; 0
	// means DefaultPeakEWMAChoiceCount (3: in the tail-latency lab, three
	// candidates beat two in every degraded scenario, S3's bad phase
	// 1.5x and S5's 1.7x, for one more candidate's cost per pick).
	ChoiceCount int

	// Decay is the time constant of the latency estimate, from
	// MinDecay to MaxDecay; 0 means DefaultDecay (3 s; Finagle and
	// linkerd use 10 s, which the simulated lab found to forget a
	// slowdown too slowly). Shorter forgets a slowdown, and a failure,
	// sooner; longer smooths more.
	Decay time.Duration

	// FailurePenalty is the least latency a failure counts as, from
	// MinFailurePenalty to MaxFailurePenalty; 0 means
	// DefaultFailurePenalty (1 s). Set it to a few times the latency of a
	// slow success.
	FailurePenalty time.Duration

	// Rand, if not nil, is the source of random numbers; it is called
	// concurrently from every goroutine that picks, so it must be safe
	// for concurrent use. Nil means math/rand/v2's top-level Uint64.
	Rand func() uint64
}

// DefaultPeakEWMAChoiceCount is [PeakEWMA.ChoiceCount]'s default.
const DefaultPeakEWMAChoiceCount = 3

// The ranges of [PeakEWMA.Decay] and [PeakEWMA.FailurePenalty].
const (
	MinDecay          = 100 * time.Millisecond
	MaxDecay          = 10 * time.Minute
	MinFailurePenalty = time.Millisecond
	MaxFailurePenalty = time.Minute
)

// Validate returns an *elb.ConfigError for the first field out of range
// (0 is in range: the default). [Register] calls it.
func (a PeakEWMA) Validate() error {
	switch {
	case a.ChoiceCount != 0 && (a.ChoiceCount < minChoiceCount || a.ChoiceCount > maxChoiceCount):
		return cfgerr.New("ChoiceCount", a.ChoiceCount,
			fmt.Sprintf("must be %d-%d, or 0 for %d", minChoiceCount, maxChoiceCount, DefaultPeakEWMAChoiceCount))
	case a.Decay != 0 && (a.Decay < MinDecay || a.Decay > MaxDecay):
		return cfgerr.New("Decay", a.Decay, fmt.Sprintf("must be %v-%v, or 0 for %v", MinDecay, MaxDecay, DefaultDecay))
	case a.FailurePenalty != 0 && (a.FailurePenalty < MinFailurePenalty || a.FailurePenalty > MaxFailurePenalty):
		return cfgerr.New("FailurePenalty", a.FailurePenalty,
			fmt.Sprintf("must be %v-%v, or 0 for %v", MinFailurePenalty, MaxFailurePenalty, DefaultFailurePenalty))
	}
	return nil
}

// peakEWMAOptions are PeakEWMA's options in JSON.
type peakEWMAOptions struct {
	ChoiceCount    int             `json:"choiceCount"`
	Decay          cfgerr.Duration `json:"decay"`
	FailurePenalty cfgerr.Duration `json:"failurePenalty"`
}

// ParseConfig reads the options {"choiceCount": 2-10, "decay": "100ms" to
// "10m", "failurePenalty": "1ms" to "1m"} over a's settings, a missing
// option being a's, or its default if a's is 0 (3, "3s", "1s"), then
// validates them: an explicit 0 or a value out of range is an error
// ("decay: 10ms must be 100ms-10m0s").
func (a PeakEWMA) ParseConfig(js json.RawMessage) (Algorithm, error) {
	a = a.withDefaults()
	o := peakEWMAOptions{ChoiceCount: a.ChoiceCount, Decay: cfgerr.Duration(a.Decay), FailurePenalty: cfgerr.Duration(a.FailurePenalty)}
	if err := cfgerr.DecodeJSON(js, &o); err != nil {
		return nil, err
	}
	switch {
	case o.ChoiceCount < minChoiceCount || o.ChoiceCount > maxChoiceCount:
		return nil, cfgerr.New("choiceCount", o.ChoiceCount, fmt.Sprintf("must be %d-%d", minChoiceCount, maxChoiceCount))
	case time.Duration(o.Decay) < MinDecay || time.Duration(o.Decay) > MaxDecay:
		return nil, cfgerr.New("decay", time.Duration(o.Decay), fmt.Sprintf("must be %v-%v", MinDecay, MaxDecay))
	case time.Duration(o.FailurePenalty) < MinFailurePenalty || time.Duration(o.FailurePenalty) > MaxFailurePenalty:
		return nil, cfgerr.New("failurePenalty", time.Duration(o.FailurePenalty), fmt.Sprintf("must be %v-%v", MinFailurePenalty, MaxFailurePenalty))
	}
	a.ChoiceCount, a.Decay, a.FailurePenalty = o.ChoiceCount, time.Duration(o.Decay), time.Duration(o.FailurePenalty)
	return a, nil
}

// withDefaults returns a with every zero field set to its default and
// every other clamped into range.
func (a PeakEWMA) withDefaults() PeakEWMA {
	if a.ChoiceCount == 0 {
		a.ChoiceCount = DefaultPeakEWMAChoiceCount
	}
	if a.Decay == 0 {
		a.Decay = DefaultDecay
	}
	if a.FailurePenalty == 0 {
		a.FailurePenalty = DefaultFailurePenalty
	}
	a.ChoiceCount = min(max(a.ChoiceCount, minChoiceCount), maxChoiceCount)
	a.Decay = min(max(a.Decay, MinDecay), MaxDecay)
	a.FailurePenalty = min(max(a.FailurePenalty, MinFailurePenalty), MaxFailurePenalty)
	return a
}

// Build returns a peak_ewma picker over endpoints, and sets Decay and
// FailurePenalty (defaults filled in, values out of range clamped) on
// their Loads.
func (a PeakEWMA) Build(endpoints []Endpoint) Picker {
	if len(endpoints) == 0 {
		return noEndpoints{}
	}
	a = a.withDefaults()
	p := newLRPicker(endpoints, a.ChoiceCount, a.Rand, true)
	p.ticksPerDecay = float64(time.Millisecond) / float64(a.Decay)
	for i := range p.eps {
		p.eps[i].load.configure(a.Decay, a.FailurePenalty)
	}
	return p
}

// ewmaLess reports whether a costs strictly less than b (see PeakEWMA).
func (p *lrPicker) ewmaLess(a, b *loadWeight) bool {
	va, vb := a.load.est.Load(), b.load.est.Load()
	ia, ib := inFlight(a.load), inFlight(b.load)
	if va == 0 || vb == 0 {
		switch {
		case va == 0 && ia == 0: // costs 0
			return vb != 0 || ib != 0
		case vb == 0 && ib == 0:
			return false
		}
		// (ia+1)/wa < (ib+1)/wb: the estimates taken to be equal.
		return mulLess(ia+1, b.w, ib+1, a.w)
	}
	ea, sa := unpackEstimate(va)
	eb, sb := unpackEstimate(vb)
	// ea*exp(-(now-sa)/decay)*(ia+1)/wa < eb*exp(-(now-sb)/decay)*(ib+1)/wb,
	// with now cancelled out. float64 keeps the products in range; its
	// rounding is immaterial here.
	lhs := ea * float64(ia+1) * float64(b.w)
	rhs := eb * float64(ib+1) * float64(a.w)
	dt := tickDiff(sa, sb)
	switch {
	case dt == 0:
		return lhs < rhs
	case dt > 0 && lhs >= rhs: // a's estimate is the fresher: it decayed less
		return false
	case dt < 0 && lhs < rhs:
		return true
	}
	return lhs*math.Exp(float64(dt)*p.ticksPerDecay) < rhs
}
