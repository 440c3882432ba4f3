package group

import (
	"fmt"
	"maps"

	"github.com/go-elb/elb/internal/hostport"
)

// Weights. A Backend's Weight says how large a share of the requests it
// receives, relative to the other backends of its group: see the package
// documentation's "Weights".
const (
	// DefaultWeight is the weight of a Backend whose Weight is nil (left
	// out of a struct literal, absent from JSON).
	DefaultWeight = 1
	// MaxWeight is the largest weight.
	MaxWeight = 100
)

// Weight returns a pointer to a new int holding n, for Backend.Weight:
// Backend{Addr: a, Weight: group.Weight(0)} is a member that receives no
// new requests, Backend{Addr: a, Weight: group.Weight(5)} one of weight
// 5. (Like proto.Int32 or aws.Int.) It does not check n; Add, Update and
// Set do.
func Weight(n int) *int { return &n }

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
	// an adapter that awaits readiness it need not be host:port (see there).
	Addr string `json:"addr"`
	// Weight is 0-100: nil means DefaultWeight (1); 1-100 a share of the
	// requests, larger meaning larger; 0 keeps the backend a member that
	// receives no new requests. Build one with the Weight function. The
	// group keeps a copy of the value, never the caller's pointer, and
	// every Backend it returns (Backends, Stats, events, Pick.Backend)
	// has Weight set, to a pointer of its own.
	Weight *int `json:"weight,omitempty"`
	// Zone is the availability zone the backend runs in, possibly empty.
	Zone string `json:"zone,omitempty"`
	// Metadata is free-form data for the application; the group copies it.
	Metadata map[string]string `json:"metadata,omitempty"`
}

// normalize validates b and returns it in the form the group keeps: ID
// set, Weight set (DefaultWeight for nil) to a pointer of the group's own,
// Metadata copied. With opaque (an adapter that awaits readiness), Addr need not be
// host:port.
func (b Backend) normalize(group string, opaque bool) (Backend, error) {
	if b.ID == "" {
		b.ID = b.Addr
	}
	if err := hostport.Check(b.Addr, opaque); err != "" {
		return b, &BackendError{Group: group, ID: b.ID, Err: ErrInvalidAddress, Problem: err}
	}
	w := b.weight()
	if w < 0 || w > MaxWeight {
		return b, &BackendError{Group: group, ID: b.ID, Err: ErrInvalidWeight,
			Problem: fmt.Sprintf("%d is outside 0-%d (0: no new requests; nil: the default, %d)", w, MaxWeight, DefaultWeight)}
	}
	b.Weight = &w
	b.Metadata = maps.Clone(b.Metadata)
	return b, nil
}

// weight is b's weight, DefaultWeight for nil.
func (b *Backend) weight() int {
	if b.Weight == nil {
		return DefaultWeight
	}
	return *b.Weight
}
