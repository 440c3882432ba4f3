package health

import (
	"context"
	"fmt"
	"time"

	"github.com/go-elb/elb/internal/cfgerr"
)

// Defaults and limits of Config, as cloud load balancers' health checks
// have them.
const (
	DefaultInterval           = 5 * time.Second
	DefaultTimeout            = 3 * time.Second
	DefaultHealthyThreshold   = 3
	DefaultUnhealthyThreshold = 3
	// DefaultInitialInterval is Config.InitialInterval when it is 0: a new
	// backend is probed every second until it is judged.
	DefaultInitialInterval = time.Second
	// MinInitialInterval is the shortest Config.InitialInterval; the
	// longest is the Config's Interval.
	MinInitialInterval = 100 * time.Millisecond
	// DefaultConcurrency is the number of probes of one group that may
	// run at once when Config.Concurrency is 0.
	DefaultConcurrency = 32

	MinInterval  = time.Second      // shortest Interval and Timeout
	MaxInterval  = 50 * time.Second // longest Interval and Timeout
	MaxThreshold = 10               // largest threshold; the smallest is 1
	// MaxConcurrency is the largest Config.Concurrency.
	MaxConcurrency = 4096
)

// NoJitter, as Config.Jitter, probes at exactly Interval.
const NoJitter time.Duration = -1

// Timer is a pending call made by a Clock's AfterFunc. *time.Timer is one.
type Timer = interface{ Stop() bool }

// Clock is the source of time for probing, ejections and slow start. Tests
// use a fake clock; nil means the real one. AfterFunc must call f later,
// on another goroutine or from a call that moves the clock, never from
// within AfterFunc itself.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// RealClock is the Clock of the time package.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// AfterFunc calls time.AfterFunc.
func (RealClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// A Prober checks whether the backend at addr ("host:port") can serve. It
// returns nil if it can and an error saying why not otherwise. ctx carries
// the probe's timeout: a Prober must return soon after ctx is done. Probe
// is called concurrently for different backends, never for the same one
// twice at once.
type Prober interface {
	Probe(ctx context.Context, addr string) error
}

// ProbeFunc is a custom Prober: a function.
type ProbeFunc func(ctx context.Context, addr string) error

// Probe calls f(ctx, addr).
func (f ProbeFunc) Probe(ctx context.Context, addr string) error { return f(ctx, addr) }

// Config configures active health checking: every Interval (plus jitter)
// each backend is probed (a new one at once, then every InitialInterval
// until it is judged), and its State follows the results. The zero
// value of every field but Probe selects the default.
type Config struct {
	// Probe checks one backend: TCPProbe, HTTPProbe, GRPCProbe or a
	// ProbeFunc. It is required: a group without active checks has no
	// health Config at all (its backends are Healthy as soon as they are
	// added, a cloud product's "no monitor").
	Probe Prober

	// Interval is the time between two probes of a backend, 1s-50s.
	// 0 means DefaultInterval (5s).
	Interval time.Duration

	// InitialInterval is the time between the probes of a new backend
	// while it is not yet judged: its first probe runs at once when it
	// is added, and the next ones follow InitialInterval apart (no
	// jitter) until HealthyThreshold of them have passed in a row or
	// UnhealthyThreshold have failed in a row; then probes are Interval
	// (plus jitter) apart. So a new backend is admitted about
	// (HealthyThreshold-1) x InitialInterval after it is added, not
	// HealthyThreshold x Interval. 100ms up to Interval; 0 means
	// DefaultInitialInterval (1s). InitialInterval equal to Interval
	// probes a new backend at the normal pace after its first probe.
	InitialInterval time.Duration

	// Timeout is how long a probe may take before it counts as a failure,
	// 1s-50s and at most Interval. 0 means DefaultTimeout (3s), or Interval
	// if that is shorter.
	Timeout time.Duration

	// HealthyThreshold is the number of consecutive successful probes that
	// make a new or unhealthy backend healthy, 1-10. 0 means 3.
	HealthyThreshold int

	// UnhealthyThreshold is the number of consecutive failed probes that
	// make a healthy backend unhealthy, 1-10. 0 means 3.
	UnhealthyThreshold int

	// Jitter spreads probes out so that many clients (and many backends)
	// are not probed in step: once a backend is judged, each wait between
	// its probes is Interval plus a random time in [0, Jitter). (The probes
	// of a new backend are not jittered: see InitialInterval.) 0 means
	// Interval/10; NoJitter means none; at most Interval.
	Jitter time.Duration

	// Concurrency bounds the probes of one group that run at once, 1-4096;
	// the rest wait their turn. 0 means DefaultConcurrency (32).
	Concurrency int
}

// Normalized returns c with every zero field set to its default, or an
// *elb.ConfigError (wrapping elb.ErrInvalidConfig) naming the first field
// out of range, such as "Interval". A Probe with a Validate() error method,
// such as an *HTTPCheck, is validated too: its errors are under "Probe",
// such as "Probe.Port".
func (c Config) Normalized() (Config, error) {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Interval < MinInterval || c.Interval > MaxInterval {
		return c, cfgerr.New("Interval", c.Interval, "must be 1s-50s")
	}
	if c.Timeout == 0 {
		c.Timeout = min(DefaultTimeout, c.Interval)
	}
	if c.Timeout < MinInterval || c.Timeout > MaxInterval {
		return c, cfgerr.New("Timeout", c.Timeout, "must be 1s-50s")
	}
	if c.Timeout > c.Interval {
		return c, cfgerr.New("Timeout", c.Timeout, fmt.Sprintf("must be at most Interval (%v)", c.Interval))
	}
	if c.InitialInterval == 0 {
		c.InitialInterval = min(DefaultInitialInterval, c.Interval)
	}
	if c.InitialInterval < MinInitialInterval || c.InitialInterval > c.Interval {
		return c, cfgerr.New("InitialInterval", c.InitialInterval, fmt.Sprintf("must be %v-%v (Interval)", MinInitialInterval, c.Interval))
	}
	var err error
	if c.HealthyThreshold, err = threshold("HealthyThreshold", c.HealthyThreshold, DefaultHealthyThreshold); err != nil {
		return c, err
	}
	if c.UnhealthyThreshold, err = threshold("UnhealthyThreshold", c.UnhealthyThreshold, DefaultUnhealthyThreshold); err != nil {
		return c, err
	}
	switch {
	case c.Jitter == 0:
		c.Jitter = c.Interval / 10
	case c.Jitter == NoJitter:
	case c.Jitter < 0 || c.Jitter > c.Interval:
		return c, cfgerr.New("Jitter", c.Jitter, fmt.Sprintf("must be 0-%v, or NoJitter", c.Interval))
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
		return c, cfgerr.New("Concurrency", c.Concurrency, "must be 1-4096")
	}
	if v, ok := c.Probe.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return c, cfgerr.Nest("Probe", err)
		}
	}
	return c, nil
}

func threshold(field string, v, def int) (int, error) {
	if v == 0 {
		return def, nil
	}
	if v < 1 || v > MaxThreshold {
		return v, cfgerr.New(field, v, "must be 1-10")
	}
	return v, nil
}
