package main

// A Scenario is one experiment over the cluster: how the backends misbehave,
// at what rate requests arrive and from how many clients.
type Scenario struct {
	ID    string
	Title string

	// Load is the arrival rate as a fraction of a capacity: the cluster's
	// nominal one (every backend at factor 1) or, with OfDegraded, the one it
	// has while Phase is on.
	Load       float64
	OfDegraded bool

	// Slow holds static slow factors by backend index.
	Slow map[int]float64

	// Phase, if set, slows backends for the middle of the run only.
	Phase *Phase

	// Fail holds fast-503 probabilities by backend index.
	Fail map[int]float64

	// Retries turns on httpgroup's retries of 502-504 (RetryStatus, 3
	// attempts); off, every request has one attempt (MaxAttempts 1).
	Retries bool

	// Clients is the number of independent clients (own group, own
	// Transport and connections, own arrivals), sharing the rate equally.
	Clients int

	// Baseline is the ID of the equal-backend scenario at the same rate and
	// clients whose p99 (same algorithm, same repeat) this one is compared
	// with; "" for the equal-backend scenarios themselves.
	Baseline string

	// Affected lists the backends the scenario degrades, for the "affected
	// share" column.
	Affected []int
}

// Phase slows Backends by Factor for [From, To) of the run (fractions).
type Phase struct {
	From, To float64
	Backends []int
	Factor   float64
}

// antagonist is S3's: three backends 5x slower for the middle third.
var antagonist = &Phase{From: 1.0 / 3, To: 2.0 / 3, Backends: []int{0, 1, 2}, Factor: 5}

// scenarios are the lab's, in the order they run and print. The baselines
// (S1-70, S1-90, S3-eq, S5-eq) run in the same repeat as what they anchor.
var scenarios = []*Scenario{
	{ID: "S1-70", Title: "equal backends, 70% load", Load: 0.7, Clients: 1},
	{ID: "S1-90", Title: "equal backends, 90% load", Load: 0.9, Clients: 1},
	{ID: "S2", Title: "one backend 10x slower, 70% load", Load: 0.7, Clients: 1,
		Slow: map[int]float64{0: 10}, Baseline: "S1-70", Affected: []int{0}},
	{ID: "S3-eq", Title: "equal backends at S3's rate", Load: 0.8, OfDegraded: true, Clients: 1},
	{ID: "S3", Title: "3 backends 5x slower for the middle third, 80% of the degraded capacity", Load: 0.8, OfDegraded: true, Clients: 1,
		Phase: antagonist, Baseline: "S3-eq", Affected: antagonist.Backends},
	{ID: "S4", Title: "one backend answers 503 in 1 ms half the time, 70% load, retries off", Load: 0.7, Clients: 1,
		Fail: map[int]float64{0: 0.5}, Baseline: "S1-70", Affected: []int{0}},
	{ID: "S4-retry", Title: "S4 with retries on (RetryStatus, 3 attempts)", Load: 0.7, Clients: 1,
		Fail: map[int]float64{0: 0.5}, Retries: true, Baseline: "S1-70", Affected: []int{0}},
	{ID: "S5-eq", Title: "8 independent clients, equal backends at S3's rate", Load: 0.8, OfDegraded: true, Clients: 8},
	{ID: "S5", Title: "8 independent clients, S3's antagonist", Load: 0.8, OfDegraded: true, Clients: 8,
		Phase: antagonist, Baseline: "S5-eq", Affected: antagonist.Backends},
}

// rateFactors returns the slow factors the arrival rate is computed from:
// nil (the nominal capacity) unless OfDegraded, then those of the bad
// phase of S3's antagonist. S3-eq and S5-eq, with no Phase, take S3's
// rate this way.
func (s *Scenario) rateFactors(n int) []float64 {
	if !s.OfDegraded {
		return nil
	}
	f := make([]float64, n)
	for i := range f {
		f[i] = 1
	}
	for _, i := range antagonist.Backends {
		if i < n {
			f[i] = antagonist.Factor
		}
	}
	return f
}

func findScenario(id string) *Scenario {
	for _, s := range scenarios {
		if s.ID == id {
			return s
		}
	}
	return nil
}
