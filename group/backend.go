package group

import (
	"fmt"
	"maps"

	"github.com/go-elb/elb/internal/hostport"
)

// Weights. A Backend's Weight field says how large a share of the requests
// it receives, relative to the other backends of its group.
const (
	// DefaultWeight is the weight of a Backend whose Weight field is 0, the
	// zero value, so that a struct literal that leaves Weight out still
	// gets traffic.
	DefaultWeight = 1
	// MaxWeight is the largest weight.
	MaxWeight = 100
	// ZeroWeight keeps a backend a member of its group while it receives no
	// new requests: a cloud load balancer's "weight 0". Requests already in
	// flight are not disturbed. (The literal 0 cannot say this: it is the
	// zero value and selects DefaultWeight.)
	ZeroWeight = -1
)

// Backend is one member of a group.
type Backend struct {
	// ID identifies the backend within its group. Empty means Addr.
	ID string `json:"id"`
	// Addr is where the backend listens: "host:port", host an IPv4
	// address ("10.0.0.5"), an IPv6 address in brackets, possibly with a
	// zone ("[2001:db8::1]", "[fe80::1%eth0]"), or a DNS name
	// ("db.internal", "db.internal." fully qualified; labels of letters,
	// digits, '-' and '_', as Go's resolver takes them), and port 1-65535
	// without leading zeros. Anything else, white space and control
	// characters included, is refused with ErrInvalidAddress. With
	// Config.AwaitReady it need not be host:port (see there).
	Addr string `json:"addr"`
	// Weight is 1-100, larger meaning a larger share of the requests;
	// 0 selects DefaultWeight and ZeroWeight sends no new requests.
	Weight int `json:"weight"`
	// Zone is the availability zone the backend runs in, possibly empty.
	Zone string `json:"zone,omitempty"`
	// Metadata is free-form data for the application; the group copies it.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// EffectiveWeight returns the weight the backend is balanced with: 0-100,
// with the zero value resolved to DefaultWeight and ZeroWeight to 0. It is
// only meaningful for a valid Weight.
func (b Backend) EffectiveWeight() int {
	switch b.Weight {
	case 0:
		return DefaultWeight
	case ZeroWeight:
		return 0
	}
	return b.Weight
}

// normalize validates b and returns it in the form the group keeps: ID set,
// Weight never 0 (so that it round-trips through Update), Metadata copied.
// With opaque (Config.AwaitReady), Addr need not be host:port.
func (b Backend) normalize(group string, opaque bool) (Backend, error) {
	if b.ID == "" {
		b.ID = b.Addr
	}
	if err := hostport.Check(b.Addr, opaque); err != "" {
		return b, &BackendError{Group: group, ID: b.ID, Err: ErrInvalidAddress, Problem: err}
	}
	switch {
	case b.Weight == 0:
		b.Weight = DefaultWeight
	case b.Weight == ZeroWeight, b.Weight >= 1 && b.Weight <= MaxWeight:
	default:
		return b, &BackendError{Group: group, ID: b.ID, Err: ErrInvalidWeight,
			Problem: fmt.Sprintf("%d is outside 1-%d (0 means the default, %d; ZeroWeight, %d, means no new requests)", b.Weight, MaxWeight, DefaultWeight, ZeroWeight)}
	}
	b.Metadata = maps.Clone(b.Metadata)
	return b, nil
}
