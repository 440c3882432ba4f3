package balancer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-elb/elb/internal/cfgerr"
)

// ErrUnknownAlgorithm is the error, usable with [errors.Is], for a name
// that no algorithm is registered under. The error itself is an
// [*UnknownAlgorithmError] naming it.
var ErrUnknownAlgorithm = errors.New("unknown load-balancing algorithm")

// ErrInvalidRegistration is the error, usable with [errors.Is], that
// [Register] returns for an empty name, a nil algorithm, a name that is
// taken or an algorithm whose Validate method fails.
var ErrInvalidRegistration = errors.New("invalid algorithm registration")

// UnknownAlgorithmError reports a lookup of a name no algorithm is
// registered under.
type UnknownAlgorithmError struct {
	Name  string   // the name looked up
	Known []string // the registered names, sorted
}

// Error names the algorithm and the registered ones.
func (e *UnknownAlgorithmError) Error() string {
	return fmt.Sprintf("unknown load-balancing algorithm %q (registered: %v)", e.Name, e.Known)
}

// Is reports whether target is [ErrUnknownAlgorithm].
func (e *UnknownAlgorithmError) Is(target error) bool { return target == ErrUnknownAlgorithm }

// The names of the built-in algorithms, registered at init.
const (
	NameRoundRobin               = "round_robin"
	NameWeightedRoundRobin       = "weighted_round_robin"
	NameWeightedRandom           = "weighted_random"
	NameRandom                   = "random"
	NameWeightedLeastConnections = "weighted_least_connections"
	NameLeastRequest             = "least_request"
	NamePeakEWMA                 = "peak_ewma"
	NameConsistentHash           = "consistent_hash"
	NameSourceIPHash             = "source_ip_hash"
)

var registry = struct {
	sync.RWMutex
	m map[string]Algorithm
}{m: map[string]Algorithm{
	NameRoundRobin:               RoundRobin{},
	NameWeightedRoundRobin:       WeightedRoundRobin{},
	NameWeightedRandom:           WeightedRandom{},
	NameRandom:                   Random{},
	NameWeightedLeastConnections: WeightedLeastConnections{},
	NameLeastRequest:             LeastRequest{},
	NamePeakEWMA:                 PeakEWMA{},
	NameConsistentHash:           ConsistentHash{},
	NameSourceIPHash:             ConsistentHash{SourceIP: true},
	NameLoadReportWRR:            LoadReportWRR{},
}}

// Register makes a under name available to every part of elb that selects
// algorithms by name (group.Config.Algorithm, service configs). It returns
// an error wrapping [ErrInvalidRegistration] if name is empty or one that
// [ParseConfig] could not tell from JSON (starting with { or ", or with a
// space at either end), a is nil,
// name is already registered (a registration never silently replaces
// another, built-ins included) or a has a method Validate() error that
// returns an error, which the returned error then wraps as well. It is safe
// for concurrent use, but is usually called from an init function.
func Register(name string, a Algorithm) error {
	if name == "" || a == nil {
		return fmt.Errorf("elb: register algorithm %q: %w: empty name or nil algorithm", name, ErrInvalidRegistration)
	}
	if strings.TrimSpace(name) != name || strings.ContainsAny(name[:1], `{"`) {
		return fmt.Errorf("elb: register algorithm %q: %w: a name cannot start with { or \" or a space, or end with a space (ParseConfig could not select it)", name, ErrInvalidRegistration)
	}
	if v, ok := a.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return fmt.Errorf("elb: register algorithm %q: %w: %w", name, ErrInvalidRegistration, cfgerr.Quiet(err))
		}
	}
	registry.Lock()
	defer registry.Unlock()
	if _, ok := registry.m[name]; ok {
		return fmt.Errorf("elb: register algorithm %q: %w: name already registered", name, ErrInvalidRegistration)
	}
	registry.m[name] = a
	return nil
}

// Get returns the algorithm registered under name, or an
// [*UnknownAlgorithmError].
func Get(name string) (Algorithm, error) {
	registry.RLock()
	a, ok := registry.m[name]
	registry.RUnlock()
	if !ok {
		return nil, &UnknownAlgorithmError{Name: name, Known: Names()}
	}
	return a, nil
}

// Names returns the registered algorithm names, sorted.
func Names() []string {
	registry.RLock()
	defer registry.RUnlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
