package health

import "strconv"

// State is where a backend stands in the health life cycle. Only Healthy
// backends take new requests.
type State uint8

// The states, as a cloud load balancer's backend group has them.
const (
	// Unknown is the zero State, which no backend is in: a State field that
	// was never set (omitted from JSON with omitzero).
	Unknown State = iota
	// Initial: added and monitored, but not yet proven healthy. A backend in
	// this state gets no traffic until it passes HealthyThreshold checks.
	Initial
	// Healthy: takes new requests. A backend that no health check monitors
	// is Healthy from the moment it is added.
	Healthy
	// Unhealthy: failed UnhealthyThreshold consecutive checks; no new requests.
	Unhealthy
	// Ejected: taken out by passive outlier detection for a while; no new requests.
	Ejected
	// Draining: removed (or its group closed); requests already in flight
	// finish, no new ones start.
	Draining
)

var stateNames = [...]string{"unknown", "initial", "healthy", "unhealthy", "ejected", "draining"}

// String returns the state's lower-case name, such as "healthy".
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Serving reports whether a backend in state s may take new requests.
func (s State) Serving() bool { return s == Healthy }

// MarshalText encodes the state as its name, so that JSON shows "healthy".
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }
