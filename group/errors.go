package group

import (
	"errors"
	"fmt"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/cfgerr"
)

// The errors of the group package, usable with [errors.Is]. The errors
// returned wrap them (or a context's error for Close) in a
// [*BackendError] or [*GroupError] that names the group, the backend and
// the offending value; a Config field that New rejects is an
// [*elb.ConfigError] inside the GroupError.
var (
	// ErrInvalidWeight: a Backend.Weight outside 0-100.
	ErrInvalidWeight = errors.New("invalid weight")
	// ErrInvalidAddress: an address that is not "host:port" with an IP
	// address or DNS name as host and a port 1-65535 (Backend.Addr), or,
	// with an adapter that awaits readiness, an empty one or one with control characters.
	ErrInvalidAddress = errors.New("invalid address")
	// ErrDuplicateID: a backend ID that the group (or the list given to Set)
	// already holds.
	ErrDuplicateID = errors.New("duplicate backend ID")
	// ErrDuplicateAddress: an address that another backend of the group
	// already has.
	ErrDuplicateAddress = errors.New("duplicate backend address")
	// ErrAddressChange: an Update that would change a backend's address.
	// An address is what a backend is; Remove it and Add the new one.
	ErrAddressChange = errors.New("backend address cannot change")
	// ErrUnknownBackend: Update or Remove of an ID the group does not hold.
	ErrUnknownBackend = errors.New("unknown backend")
	// ErrNoBackends: Pick on a group that has no members. The error
	// says when a Sync is still awaiting its source's first update, and
	// the source's last error.
	ErrNoBackends = errors.New("no backends")
	// ErrNoAvailableBackend: Pick on a group whose members all have
	// weight 0.
	ErrNoAvailableBackend = errors.New("no available backend")
	// ErrNoHealthyBackend: Pick on a group none of whose members with a
	// weight is healthy (and that is not in panic mode). The error's
	// Problem counts the members by what keeps them out: initial
	// (awaiting first health check), not ready (an adapter that awaits readiness),
	// unhealthy, ejected, weight 0. A Pick that waited for a member and
	// whose ctx ended first returns an error wrapping this one (or
	// ErrNoBackends) and ctx.Err() alike.
	ErrNoHealthyBackend = errors.New("no healthy backend")
	// ErrClosed: use of a group after Close.
	ErrClosed = errors.New("group closed")
	// ErrInvalidConfig: a Config field out of range, or a call that the
	// Config does not allow. It is elb.ErrInvalidConfig, the one value
	// that every invalid configuration in elb wraps, whichever package
	// rejects it: an error of New wraps an [*elb.ConfigError] naming the
	// field by its path from Config, such as "Health.Interval".
	ErrInvalidConfig = elb.ErrInvalidConfig
	// ErrDrainTimeout: backends still had requests in flight when the drain
	// timeout ended their drain.
	ErrDrainTimeout = errors.New("drain timeout")
	// ErrPicker: an algorithm's picker returned an index outside its
	// endpoints, a bug in that algorithm.
	ErrPicker = errors.New("picker returned an invalid index")
	// ErrNotNew: use of a Group that New did not make, such as the zero
	// Group: every method but Name and Algorithm returns an error wrapping
	// it (or the zero value, where it returns no error).
	ErrNotNew = errors.New("group not made by New")
	// ErrDuplicateGroup: a Registry already holds a group of that name.
	ErrDuplicateGroup = errors.New("duplicate group name")
)

// BackendError reports a problem with one backend: bad input to Add,
// Update, Remove or Set.
type BackendError struct {
	Group   string // the group's name
	ID      string // the backend's ID (or its address when it has no ID)
	Err     error  // one of the sentinel errors above
	Problem string // what exactly is wrong, naming the offending value
}

// Error names the group, the backend and what is wrong.
func (e *BackendError) Error() string {
	msg := fmt.Sprintf("elb: group %q: backend %q: %v", e.Group, e.ID, e.Err)
	if e.Problem != "" {
		msg += ": " + e.Problem
	}
	return msg
}

// Unwrap returns the sentinel error.
func (e *BackendError) Unwrap() error { return e.Err }

// GroupError reports a problem that concerns a whole group, such as a Pick
// that found no backend or a use after Close.
type GroupError struct {
	Group   string // the group's name
	Err     error  // one of the sentinel errors above
	Problem string // more detail, possibly empty
}

// Error names the group (when it has a name) and what is wrong:
// `elb: group "orders": Health.Interval: 100ms must be 1s-50s`.
func (e *GroupError) Error() string {
	msg := "elb: " + cfgerr.Text(e.Err)
	if e.Group != "" {
		msg = fmt.Sprintf("elb: group %q: %s", e.Group, cfgerr.Text(e.Err))
	}
	if e.Problem != "" {
		msg += ": " + e.Problem
	}
	return msg
}

// Unwrap returns the sentinel error.
func (e *GroupError) Unwrap() error { return e.Err }

// invalidConfig reports err, the error of Config.field found by another
// package (or by balancer.ParseConfig), as a GroupError around the
// *elb.ConfigError of that field: its path is put under field.
func invalidConfig(group, field string, err error) error {
	return &GroupError{Group: group, Err: cfgerr.Nest(field, err)}
}

// fieldError reports Config.field, of value v, out of range: problem says
// why.
func fieldError(group, field string, v any, problem string) error {
	return &GroupError{Group: group, Err: cfgerr.New(field, v, problem)}
}
