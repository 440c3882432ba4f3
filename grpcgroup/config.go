package grpcgroup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/serviceconfig"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/internal/adapterhook"
	"github.com/go-elb/elb/internal/cfgerr"
	"github.com/go-elb/elb/sticky"
)

// Config is the "elb" policy's configuration: the value of
// {"loadBalancingConfig": [{"elb": {...}}]} in a service config. Field
// names are JSON's; the zero value of every field selects its default, so
// {} balances with the group's algorithm and nothing else on.
type Config struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	// Algorithm is the algorithm, as balancer.ParseConfig reads it: in
	// JSON, a name in elb's balancer registry ("least_request",
	// "weighted_round_robin", ...) or an object of one name and the
	// algorithm's options, as a child of gRPC's loadBalancingConfig:
	// {"least_request": {"choiceCount": 3}}. ParseConfig sets it to the
	// name, or to the object's compact JSON text. Empty means the
	// algorithm of the group behind an elb:/// target, or
	// group.DefaultAlgorithm under other resolvers.
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
	// Window is how long the ramp lasts, 30s-1200s. 0 (or absent) means
	// health.DefaultSlowStartWindow (60s).
	Window Duration `json:"window"`
	// MinWeightPercent is where the ramp starts, 1-100. 0 means 10.
	MinWeightPercent int `json:"minWeightPercent,omitempty"`
}

// Duration is a time.Duration written in JSON as a Go duration string,
// such as "1.5s" or "5m".
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error { return (*cfgerr.Duration)(d).UnmarshalJSON(b) }

// MarshalJSON writes a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// codeSet is a set of status codes, one bit each.
type codeSet uint32

func (s codeSet) has(c codes.Code) bool { return c < 32 && s&(1<<c) != 0 }

var defaultFailures = codeSet(1<<codes.Unavailable | 1<<codes.DeadlineExceeded)

// ParseConfig parses and validates the policy's JSON config, as gRPC does
// when a channel is created. Every error is an *elb.ConfigError
// (errors.Is elb.ErrInvalidConfig) whose Field is the JSON path of the
// member at fault, at every level of nesting ("health.interval",
// "health.intervl" for an unknown member, "algorithm.least_request.choiceCount"),
// and whose Err keeps the cause where there is one, such as
// balancer.ErrUnknownAlgorithm.
func ParseConfig(js []byte) (*Config, error) {
	var doc configJSON
	if err := cfgerr.DecodeJSON(js, &doc); err != nil {
		return nil, err
	}
	c := doc.Config
	if err := c.setAlgorithm(doc.Algorithm); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// configJSON is Config as decoded: its algorithm is a name or an object.
type configJSON struct {
	Config
	Algorithm json.RawMessage `json:"algorithm"`
}

// setAlgorithm validates the algorithm member js and sets c.Algorithm to
// the name (a JSON string) or the compact text (an object).
func (c *Config) setAlgorithm(js json.RawMessage) error {
	js = bytes.TrimSpace(js)
	var err error
	switch {
	case len(js) == 0 || string(js) == "null":
		return nil
	case js[0] == '"':
		if err = json.Unmarshal(js, &c.Algorithm); err == nil {
			// A name, never an object in a string.
			_, _, err = balancer.ParseConfig(strconv.Quote(c.Algorithm))
		}
	case js[0] == '{':
		var b bytes.Buffer
		if err = json.Compact(&b, js); err == nil {
			c.Algorithm = b.String()
			_, _, err = balancer.ParseConfig(c.Algorithm)
		}
	default:
		err = cfgerr.New("", js, `must be an algorithm's name, such as "least_request", or an object of one name and its options, such as {"least_request": {"choiceCount": 3}}`)
	}
	return cfgerr.Nest("algorithm", err)
}

// validate checks every field by building what it configures.
func (c *Config) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"localZoneMinHealthy", c.LocalZoneMinHealthy}, {"panicThreshold", c.PanicThreshold}} {
		if f.v < 0 || f.v > 100 {
			return cfgerr.New(f.name, f.v, "must be a percentage 0-100")
		}
	}
	if c.DrainTimeout < 0 {
		return cfgerr.New("drainTimeout", time.Duration(c.DrainTimeout), "must not be negative")
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
		for i, name := range c.FailureCodes {
			field := fmt.Sprintf("failureCodes[%d]", i)
			var code codes.Code
			if err := code.UnmarshalJSON([]byte(`"` + strings.ToUpper(name) + `"`)); err != nil || name == "" {
				return cfgerr.New(field, name, `is not a status code name such as "UNAVAILABLE"`)
			}
			if code == codes.OK {
				return cfgerr.New(field, name, "cannot be a failure")
			}
			c.failures |= 1 << code
		}
	}
	return nil
}

// nested is err, the error of a health or sticky config built from the
// JSON object called object, with its Go field path turned into the JSON
// one: "Interval" -> "health.interval".
func nested(object string, err error) error {
	var ce *elb.ConfigError
	if !errors.As(err, &ce) {
		return cfgerr.Nest(object, err)
	}
	c := *ce
	c.Field = ""
	for f := range strings.SplitSeq(ce.Field, ".") {
		c.Field = cfgerr.Join(c.Field, jsonName(f))
	}
	return cfgerr.Nest(object, &c)
}

// jsonName is the JSON name of a Go field of the configs this package
// builds: "MaxEntries" -> "maxEntries".
func jsonName(f string) string {
	switch f {
	case "TTL":
		return "ttl"
	case "Header": // sticky.Config's, from StickyConfig.MetadataKey
		return "metadataKey"
	case "":
		return f
	}
	return strings.ToLower(f[:1]) + f[1:]
}

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
	}
	adapterhook.AwaitReady(&gc) // the channel reports which members it reaches
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
