package health

import (
	"time"

	"github.com/go-elb/elb/internal/cfgerr"
)

// Limits and defaults of SlowStart, as cloud load balancers and Envoy have
// them.
const (
	MinSlowStartWindow      = 30 * time.Second
	MaxSlowStartWindow      = 1200 * time.Second
	DefaultSlowStartWindow  = 60 * time.Second
	DefaultMinWeightPercent = 10
)

// SlowStart ramps up the traffic of a backend that has just become
// healthy (added to a group without health checks, passed its health
// checks, or returned from an ejection), so that a cold cache or a JIT
// still warming is not flooded: its weight grows linearly from
// MinWeightPercent of its weight to all of it over Window.
type SlowStart struct {
	// Window is how long the ramp lasts, 30s-1200s. 0 means
	// DefaultSlowStartWindow (60s), so that &SlowStart{} turns slow start
	// on with every default, as &OutlierConfig{} does outlier detection.
	Window time.Duration

	// MinWeightPercent is where the ramp starts, 1-100 percent of the
	// backend's weight (never below 1). 0 means 10.
	MinWeightPercent int
}

// Normalized returns s with defaults set, or an *elb.ConfigError for a field out
// of range.
func (s SlowStart) Normalized() (SlowStart, error) {
	if s.Window == 0 {
		s.Window = DefaultSlowStartWindow
	}
	if s.Window < MinSlowStartWindow || s.Window > MaxSlowStartWindow {
		return s, cfgerr.New("Window", s.Window, "must be 30s-1200s")
	}
	if s.MinWeightPercent == 0 {
		s.MinWeightPercent = DefaultMinWeightPercent
	}
	if s.MinWeightPercent < 1 || s.MinWeightPercent > 100 {
		return s, cfgerr.New("MinWeightPercent", s.MinWeightPercent, "must be 1-100")
	}
	return s, nil
}

// Percent returns the share of its weight, in percent, that a backend
// balances with elapsed after it became healthy: MinWeightPercent at
// first, growing linearly to 100 at the end of the Window (rounded down to
// a whole percent, never below MinWeightPercent). s must be normalized.
func (s SlowStart) Percent(elapsed time.Duration) int {
	if elapsed >= s.Window {
		return 100
	}
	p := int(100 * int64(max(elapsed, 0)) / int64(s.Window)) // < 100; 1e2 x 1.2e12 fits
	return max(p, s.MinWeightPercent)
}
