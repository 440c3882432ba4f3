package group

import (
	"time"

	"github.com/go-elb/elb/health"
)

// Stats is a point-in-time view of a group, for dashboards and for seeing
// how requests were spread.
type Stats struct {
	Name      string `json:"name"`
	Algorithm string `json:"algorithm"`
	Closed    bool   `json:"closed,omitempty"`

	// Backends lists the members in the order they were added, then the
	// backends still draining.
	Backends []BackendStats `json:"backends"`

	// Available is the number of backends in the pick set: the ones that
	// take new requests now.
	Available int `json:"available"`

	// Requests, Failures and InFlight are the group's totals, including
	// backends that have left it.
	Requests uint64 `json:"requests"`
	Failures uint64 `json:"failures"`
	InFlight int64  `json:"in_flight"`

	// NoBackend counts the picks that failed because no backend could take
	// the request.
	NoBackend uint64 `json:"no_backend"`
}

// BackendStats is one backend's part of Stats.
type BackendStats struct {
	Backend
	State           health.State  `json:"state"`
	EffectiveWeight int           `json:"effective_weight"` // the weight balanced with, 0-100
	InFlight        int64         `json:"in_flight"`
	Requests        uint64        `json:"requests"` // picks of this backend
	Failures        uint64        `json:"failures"` // Dones with an error
	Latency         time.Duration `json:"latency_ns"`
}

// Stats returns the group's statistics. Counters are read one by one while
// requests go on, so totals may lag a request or two behind each other.
func (g *Group) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := Stats{
		Name:      g.cfg.Name,
		Algorithm: g.cfg.Algorithm,
		Closed:    g.closed,
		Backends:  make([]BackendStats, 0, len(g.members)+len(g.draining)),
		Available: len(g.snap.Load().members),
		Requests:  g.gone.requests,
		Failures:  g.gone.failures,
		NoBackend: g.noBackend.Load(),
	}
	add := func(m *member) {
		bs := m.stats()
		st.Backends = append(st.Backends, bs)
		st.Requests += bs.Requests
		st.Failures += bs.Failures
		st.InFlight += bs.InFlight
	}
	for _, m := range g.members {
		add(m)
	}
	for _, m := range g.draining {
		add(m)
	}
	return st
}

// stats reads m's counters. The caller holds the group's lock.
func (m *member) stats() BackendStats {
	return BackendStats{
		Backend:         m.desc.Load().clone(),
		State:           m.state,
		EffectiveWeight: m.weight,
		InFlight:        m.load.InFlight(),
		Requests:        m.requests.Load(),
		Failures:        m.failures.Load(),
		Latency:         m.load.Latency(),
	}
}
