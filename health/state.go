package health

import (
	"errors"
	"fmt"
	"strconv"
)

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

// ErrUnknownState is wrapped by the error of UnmarshalText for a name that
// is not a state's.
var ErrUnknownState = errors.New("unknown health state")

// UnmarshalText decodes a state's name, as MarshalText writes it, so that
// a Go client can read a group's Stats back from JSON.
func (s *State) UnmarshalText(b []byte) error {
	for i, name := range stateNames {
		if string(b) == name {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("%w %q", ErrUnknownState, b)
}
