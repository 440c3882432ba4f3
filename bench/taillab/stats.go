package main

import (
	"math"
	"slices"
	"time"
)

// Stats summarizes the requests of one window of one run. Latencies are
// in milliseconds, from each request's scheduled send time, over the
// requests answered 2xx and those that ran out of time (counted at the
// time they gave up, a lower bound); requests answered with an error
// status or failing otherwise count in ErrPct only.
type Stats struct {
	N          int       `json:"n"`
	P50        float64   `json:"p50_ms"`
	P90        float64   `json:"p90_ms"`
	P99        float64   `json:"p99_ms"`
	P999       float64   `json:"p99_9_ms"`
	ErrPct     float64   `json:"err_pct"`     // not answered 2xx, timeouts included
	Pct503     float64   `json:"503_pct"`     // answered 503
	TimeoutPct float64   `json:"timeout_pct"` // ran out of the request timeout
	Shares     []float64 `json:"shares_pct"`  // answers per backend, % of the answered
	Affected   float64   `json:"affected_pct"`
	LagP50     float64   `json:"lag_p50_ms"` // scheduled to actual send
	LagP99     float64   `json:"lag_p99_ms"`
	LagMax     float64   `json:"lag_max_ms"`
	OverMean   float64   `json:"service_overshoot_mean_ms"` // backends' timers: service time beyond the nominal
	OverP99    float64   `json:"service_overshoot_p99_ms"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile returns the nearest-rank q-quantile of sorted (0 if empty).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// summarize returns the Stats of the samples scheduled in [from, to).
func summarize(samples []sample, from, to time.Duration, backends int, affected []int, overshoot []time.Duration) Stats {
	var lat, lag []time.Duration
	counts := make([]int, backends)
	var n, errs, s503, timeouts, answered int
	for _, s := range samples {
		if s.sched < from || s.sched >= to {
			continue
		}
		n++
		lag = append(lag, s.lag)
		ok := s.status >= 200 && s.status < 300
		if !ok {
			errs++
		}
		if s.status == 503 {
			s503++
		}
		if s.timedOut {
			timeouts++
		}
		if ok || s.timedOut {
			lat = append(lat, s.lat)
		}
		if s.backend >= 0 {
			counts[s.backend]++
			answered++
		}
	}
	slices.Sort(lat)
	slices.Sort(lag)
	st := Stats{
		N: n, P50: ms(quantile(lat, .5)), P90: ms(quantile(lat, .9)), P99: ms(quantile(lat, .99)), P999: ms(quantile(lat, .999)),
		LagP50: ms(quantile(lag, .5)), LagP99: ms(quantile(lag, .99)), LagMax: ms(quantile(lag, 1)),
		Shares: make([]float64, backends),
	}
	if n > 0 {
		st.ErrPct = 100 * float64(errs) / float64(n)
		st.Pct503 = 100 * float64(s503) / float64(n)
		st.TimeoutPct = 100 * float64(timeouts) / float64(n)
	}
	if answered > 0 {
		for i, c := range counts {
			st.Shares[i] = 100 * float64(c) / float64(answered)
		}
		for _, i := range affected {
			st.Affected += st.Shares[i]
		}
	}
	if len(overshoot) > 0 {
		o := slices.Clone(overshoot)
		slices.Sort(o)
		st.OverP99 = ms(quantile(o, .99))
		var sum time.Duration
		for _, d := range o {
			sum += d
		}
		st.OverMean = ms(sum / time.Duration(len(o)))
	}
	return st
}

// median returns the median of xs (the mean of the middle two for an even
// count); 0 if empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// medianStats returns the field-by-field median of runs.
func medianStats(runs []Stats) Stats {
	if len(runs) == 0 {
		return Stats{}
	}
	m := Stats{Shares: make([]float64, len(runs[0].Shares))}
	fields := func(s *Stats) []*float64 {
		f := []*float64{&s.P50, &s.P90, &s.P99, &s.P999, &s.ErrPct, &s.Pct503, &s.TimeoutPct, &s.Affected,
			&s.LagP50, &s.LagP99, &s.LagMax, &s.OverMean, &s.OverP99}
		for i := range s.Shares {
			f = append(f, &s.Shares[i])
		}
		return f
	}
	xs := make([]float64, len(runs))
	for i, dst := range fields(&m) {
		for j := range runs {
			xs[j] = *fields(&runs[j])[i]
		}
		*dst = median(xs)
	}
	ns := make([]float64, len(runs))
	for j, r := range runs {
		ns[j] = float64(r.N)
	}
	m.N = int(median(ns))
	return m
}
