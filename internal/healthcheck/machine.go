package healthcheck

import "github.com/go-elb/elb/health"

// Machine is one backend's active health state machine. It starts in
// Initial (not yet proven, no traffic); HealthyThreshold consecutive
// successes make it Healthy, UnhealthyThreshold consecutive failures make
// it (or a Healthy machine) Unhealthy, and HealthyThreshold successes bring
// an Unhealthy one back. A success ends a run of failures and a failure ends
// a run of successes.
//
// A Machine is a plain value: it does no locking and keeps no time. The
// zero Machine is not usable; call NewMachine.
type Machine struct {
	healthy, unhealthy int // thresholds
	state              health.State
	successes          int // consecutive successes, up to healthy
	failures           int // consecutive failures, up to unhealthy
}

// NewMachine returns a machine in state Initial with the thresholds of cfg
// (a zero threshold selects its default; a value out of 1-10 is clamped
// into it, so validate cfg with Normalized first).
func NewMachine(cfg health.Config) Machine {
	h := clampThreshold(cfg.HealthyThreshold, health.DefaultHealthyThreshold)
	u := clampThreshold(cfg.UnhealthyThreshold, health.DefaultUnhealthyThreshold)
	return Machine{healthy: h, unhealthy: u, state: health.Initial}
}

func clampThreshold(v, def int) int {
	if v == 0 {
		return def
	}
	return min(max(v, 1), health.MaxThreshold)
}

// Observe records one check's outcome and reports whether the state
// changed.
func (m *Machine) Observe(ok bool) (changed bool) {
	if ok {
		m.failures = 0
		if m.successes < m.healthy {
			m.successes++
		}
		if m.state != health.Healthy && m.successes >= m.healthy {
			m.state = health.Healthy
			return true
		}
		return false
	}
	m.successes = 0
	if m.failures < m.unhealthy {
		m.failures++
	}
	if m.state != health.Unhealthy && m.failures >= m.unhealthy {
		m.state = health.Unhealthy
		return true
	}
	return false
}

// Fail makes the machine Unhealthy at once, with no run of successes:
// HealthyThreshold successes are needed to bring it back. It reports
// whether the state changed.
func (m *Machine) Fail() (changed bool) {
	m.successes, m.failures = 0, m.unhealthy
	changed = m.state != health.Unhealthy
	m.state = health.Unhealthy
	return changed
}

// Admit makes an Initial machine Healthy at once, keeping its run of
// successes: a group admits a backend of its cold start (see the package
// documentation) on its first passed probe. It does nothing, and reports
// false, in any other state.
func (m *Machine) Admit() (changed bool) {
	if m.state != health.Initial {
		return false
	}
	m.state = health.Healthy
	m.failures = 0
	return true
}

// State returns Initial, Healthy or Unhealthy.
func (m *Machine) State() health.State { return m.state }

// Successes returns the number of consecutive successful checks, counted
// up to HealthyThreshold.
func (m *Machine) Successes() int { return m.successes }

// Failures returns the number of consecutive failed checks, counted up to
// UnhealthyThreshold.
func (m *Machine) Failures() int { return m.failures }
