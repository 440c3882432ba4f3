package grpcgroup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/serviceconfig"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// ErrInvalidConfig is wrapped by every error of ParseConfig: the policy's
// JSON is malformed, has an unknown field, names an unknown algorithm or
// holds a value out of range. grpc.NewClient fails with it when the
// config comes from grpc.WithDefaultServiceConfig.
var ErrInvalidConfig = errors.New("invalid elb config")

// ConfigError is the error of ParseConfig: Field is the JSON field at
// fault ("" when the document as a whole is), Err what is wrong with it.
type ConfigError struct {
	Field string // the JSON path, such as "health.interval"; "" for the document
	Err   error  // what is wrong
}

// Error is "elb: FIELD: PROBLEM".
func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "elb: " + e.Err.Error()
	}
	return "elb: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns ErrInvalidConfig and the cause, such as
// balancer.ErrUnknownAlgorithm or health.ErrInvalidConfig.
func (e *ConfigError) Unwrap() []error { return []error{ErrInvalidConfig, e.Err} }

// Config is the "elb" policy's configuration: the value of
// {"loadBalancingConfig": [{"elb": {...}}]} in a service config. Field
// names are JSON's; the zero value of every field selects its default, so
// {} balances with the group's algorithm and nothing else on.
type Config struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	// Algorithm is a name in elb's balancer registry ("least_request",
	// "weighted_round_robin", ...). Empty means the algorithm of the
	// group behind an elb:/// target, or group.DefaultAlgorithm under
	// other resolvers.
	Algorithm string `json:"algorithm,omitempty"`

	// HashKey is a metadata key whose value keys consistent_hash (the
	// request's group.Request.Key), such as "x-user-id". Empty means none.
	// A call that carries the key costs one small allocation, gRPC's copy
	// of the value; the picker allocates nothing else.
	HashKey string `json:"hashKey,omitempty"`

	// Sticky binds calls to backends by a metadata value (session
	// affinity). nil means off.
	Sticky *StickyConfig `json:"sticky,omitempty"`

	// LocalZone, LocalZoneMinHealthy and PanicThreshold are the group's
	// (see group.Config): prefer one zone's endpoints, and route to every
	// connected endpoint when too few are healthy.
	LocalZone           string `json:"localZone,omitempty"`
	LocalZoneMinHealthy int    `json:"localZoneMinHealthy,omitempty"`
	PanicThreshold      int    `json:"panicThreshold,omitempty"`

	// Health turns on active checks with the gRPC health service
	// (grpc.health.v1), sent over the channel's own connections. nil means
	// off: an endpoint takes calls once connected.
	Health *HealthConfig `json:"health,omitempty"`

	// Outlier turns on passive outlier detection from the calls' status
	// codes (see FailureCodes). nil means off.
	Outlier *OutlierConfig `json:"outlier,omitempty"`

	// SlowStart ramps up the weight of a newly healthy endpoint. nil means
	// off.
	SlowStart *SlowStartConfig `json:"slowStart,omitempty"`

	// FailureCodes are the status codes that count as a failure of the
	// backend, for outlier detection and statistics, by name
	// ("UNAVAILABLE"). Empty means UNAVAILABLE and DEADLINE_EXCEEDED;
	// transport errors reach the policy as UNAVAILABLE.
	FailureCodes []string `json:"failureCodes,omitempty"`

	// DrainTimeout bounds how long an endpoint that leaves keeps its calls
	// in flight in the statistics, as a Go duration string ("30s").
	// Empty means group.DefaultDrainTimeout.
	DrainTimeout Duration `json:"drainTimeout,omitzero"`

	failures codeSet // FailureCodes, parsed
}

// StickyConfig binds calls to backends by the value of a metadata key
// (sticky.Header mode): the first call with a value is balanced, later
// ones go to the same backend while it can take them. Reading the value
// costs one small allocation per call that carries it (gRPC's copy), and
// making a binding one more.
type StickyConfig struct {
	// MetadataKey is the key, such as "x-session-id"; required. Metadata
	// keys are case-insensitive: it is lowercased.
	MetadataKey string `json:"metadataKey"`
	// TTL is how long an unused binding is kept, 1m-24h. Empty means
	// sticky.DefaultTTL.
	TTL Duration `json:"ttl,omitzero"`
	// MaxEntries bounds the binding table. 0 means sticky.DefaultMaxEntries.
	MaxEntries int `json:"maxEntries,omitempty"`
}

// HealthConfig configures active checks with grpc.health.v1 Check calls.
// Ranges and defaults are health.Config's (interval 5s, timeout 3s,
// unhealthy threshold 3), but for HealthyThreshold.
type HealthConfig struct {
	// Service is the service name asked about; "" means the server as a
	// whole.
	Service string `json:"service,omitempty"`
	// Interval is the time between two checks of an endpoint, 1s-50s.
	// 0 means 5s.
	Interval Duration `json:"interval,omitzero"`
	// Timeout bounds a check, 1s-50s and at most Interval. 0 means 3s.
	Timeout Duration `json:"timeout,omitzero"`
	// HealthyThreshold is the number of passed checks in a row that admit
	// an endpoint, 1-10. 0 means 1, as with gRPC's own health checking
	// (one SERVING answer admits an endpoint): a channel is rebuilt after
	// every idle period, and its calls wait for the first checks.
	HealthyThreshold int `json:"healthyThreshold,omitempty"`
	// UnhealthyThreshold is the number of failed checks in a row that take
	// an endpoint out, 1-10. 0 means 3.
	UnhealthyThreshold int `json:"unhealthyThreshold,omitempty"`
}

// OutlierConfig is health.OutlierConfig in JSON: an endpoint whose calls
// fail ConsecutiveFailures times in a row is ejected.
type OutlierConfig struct {
	// ConsecutiveFailures is the run of failed calls that ejects, 1-1000.
	// 0 means 5.
	ConsecutiveFailures int `json:"consecutiveFailures,omitempty"`
	// BaseEjectionTime is the first ejection's length, 1s-1h; the n-th in
	// a row lasts n times as long. 0 means 30s.
	BaseEjectionTime Duration `json:"baseEjectionTime,omitzero"`
	// MaxEjectionTime caps an ejection. 0 means 300s.
	MaxEjectionTime Duration `json:"maxEjectionTime,omitzero"`
	// MaxEjectionPercent is the largest share of the endpoints ejected at
	// once, 1-100 (one may always be). 0 means 10.
	MaxEjectionPercent int `json:"maxEjectionPercent,omitempty"`
}

// SlowStartConfig is health.SlowStart in JSON: a newly healthy endpoint's
// weight ramps up from MinWeightPercent over Window.
type SlowStartConfig struct {
	// Window is how long the ramp lasts, 30s-1200s; required.
	Window Duration `json:"window"`
	// MinWeightPercent is where the ramp starts, 1-100. 0 means 10.
	MinWeightPercent int `json:"minWeightPercent,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string,
// such as "1.5s" or "5m".
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	err := json.Unmarshal(b, &s)
	v, perr := time.ParseDuration(s)
	if err != nil || perr != nil {
		// The decoder adds the field's name to this error.
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// codeSet is a set of status codes, one bit each.
type codeSet uint32

func (s codeSet) has(c codes.Code) bool { return c < 32 && s&(1<<c) != 0 }

var defaultFailures = codeSet(1<<codes.Unavailable | 1<<codes.DeadlineExceeded)

// ParseConfig parses and validates the policy's JSON config, as gRPC does
// when a channel is created: every error wraps ErrInvalidConfig and names
// the field at fault.
func ParseConfig(js []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, jsonError(err)
	}
	if dec.More() {
		return nil, &ConfigError{Err: errors.New("trailing data after the JSON object")}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// jsonError names the field of a decoding error.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Type == reflect.TypeFor[Duration]() {
			return &ConfigError{Field: te.Field, Err: fmt.Errorf("%s is not a duration such as \"5s\"", te.Value)}
		}
		return &ConfigError{Field: te.Field, Err: fmt.Errorf("a JSON %s cannot be a %v", te.Value, te.Type)}
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return &ConfigError{Field: strings.Trim(f, `"`), Err: errors.New("unknown field")}
	}
	return &ConfigError{Err: err}
}

// validate checks every field by building what it configures.
func (c *Config) validate() error {
	if c.Algorithm != "" {
		if _, err := balancer.Get(c.Algorithm); err != nil {
			return &ConfigError{Field: "algorithm", Err: err}
		}
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"localZoneMinHealthy", c.LocalZoneMinHealthy}, {"panicThreshold", c.PanicThreshold}} {
		if f.v < 0 || f.v > 100 {
			return &ConfigError{Field: f.name, Err: fmt.Errorf("%d is not a percentage 0-100", f.v)}
		}
	}
	if c.DrainTimeout < 0 {
		return &ConfigError{Field: "drainTimeout", Err: fmt.Errorf("%v is negative", time.Duration(c.DrainTimeout))}
	}
	c.HashKey = strings.ToLower(c.HashKey)
	if s := c.Sticky; s != nil {
		s.MetadataKey = strings.ToLower(s.MetadataKey)
		if _, err := s.config().Normalized(); err != nil {
			return nested("sticky", err)
		}
	}
	if h := c.Health; h != nil {
		if _, err := h.config(health.ProbeFunc(nil)).Normalized(); err != nil {
			return nested("health", err)
		}
	}
	if o := c.Outlier; o != nil {
		if _, err := o.config().Normalized(); err != nil {
			return nested("outlier", err)
		}
	}
	if s := c.SlowStart; s != nil {
		if _, err := s.config().Normalized(); err != nil {
			return nested("slowStart", err)
		}
	}
	c.failures = defaultFailures
	if len(c.FailureCodes) > 0 {
		c.failures = 0
		for _, name := range c.FailureCodes {
			var code codes.Code
			if err := code.UnmarshalJSON([]byte(`"` + strings.ToUpper(name) + `"`)); err != nil || name == "" {
				return &ConfigError{Field: "failureCodes", Err: fmt.Errorf("%q is not a status code name such as \"UNAVAILABLE\"", name)}
			}
			if code == codes.OK {
				return &ConfigError{Field: "failureCodes", Err: errors.New("OK cannot be a failure")}
			}
			c.failures |= 1 << code
		}
	}
	return nil
}

// nested names the JSON field of a health or sticky config error.
func nested(object string, err error) error {
	var he *health.ConfigError
	var se *sticky.ConfigError
	switch {
	case errors.As(err, &he):
		_, f, _ := strings.Cut(he.Field, ".") // "Outlier.MaxEjectionPercent"
		if f == "" {
			f = he.Field
		}
		return &ConfigError{Field: object + "." + jsonName(f), Err: &cause{fmt.Sprintf("%v %s", he.Value, he.Problem), err}}
	case errors.As(err, &se):
		f := se.Field
		if f == "Header" {
			f = "MetadataKey"
		}
		return &ConfigError{Field: object + "." + jsonName(f), Err: &cause{se.Problem, err}}
	}
	return &ConfigError{Field: object, Err: err}
}

// jsonName is the JSON name of a Go field: "MaxEntries" -> "maxEntries".
func jsonName(f string) string {
	switch f {
	case "TTL":
		return "ttl"
	case "":
		return f
	}
	return strings.ToLower(f[:1]) + f[1:]
}

// cause is an error with its own message that wraps another.
type cause struct {
	msg string
	err error
}

func (c *cause) Error() string { return c.msg }
func (c *cause) Unwrap() error { return c.err }

func (s *StickyConfig) config() sticky.Config {
	return sticky.Config{Mode: sticky.Header, Header: s.MetadataKey, TTL: time.Duration(s.TTL), MaxEntries: s.MaxEntries}
}

func (h *HealthConfig) config(p health.Prober) health.Config {
	c := health.Config{Probe: p, Interval: time.Duration(h.Interval), Timeout: time.Duration(h.Timeout),
		HealthyThreshold: h.HealthyThreshold, UnhealthyThreshold: h.UnhealthyThreshold}
	if c.HealthyThreshold == 0 {
		c.HealthyThreshold = 1
	}
	return c
}

func (o *OutlierConfig) config() health.OutlierConfig {
	return health.OutlierConfig{ConsecutiveFailures: o.ConsecutiveFailures, BaseEjectionTime: time.Duration(o.BaseEjectionTime),
		MaxEjectionTime: time.Duration(o.MaxEjectionTime), MaxEjectionPercent: o.MaxEjectionPercent}
}

func (s *SlowStartConfig) config() health.SlowStart {
	return health.SlowStart{Window: time.Duration(s.Window), MinWeightPercent: s.MinWeightPercent}
}

// groupConfig is the configuration of a channel's group.
func (c *Config) groupConfig(name, algorithm string, probe health.Prober) group.Config {
	gc := group.Config{
		Name:                name,
		Algorithm:           c.Algorithm,
		LocalZone:           c.LocalZone,
		LocalZoneMinHealthy: c.LocalZoneMinHealthy,
		PanicThreshold:      c.PanicThreshold,
		DrainTimeout:        time.Duration(c.DrainTimeout),
		AwaitReady:          true,
	}
	if gc.Algorithm == "" {
		gc.Algorithm = algorithm
	}
	if c.Sticky != nil {
		s := c.Sticky.config()
		gc.Sticky = &s
	}
	if c.Health != nil {
		h := c.Health.config(probe)
		gc.Health = &h
	}
	if c.Outlier != nil {
		o := c.Outlier.config()
		gc.Outlier = &o
	}
	if c.SlowStart != nil {
		s := c.SlowStart.config()
		gc.SlowStart = &s
	}
	return gc
}
