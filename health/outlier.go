package health

import (
	"fmt"
	"time"

	"github.com/go-elb/elb/internal/cfgerr"
)

// Defaults of OutlierConfig, as Envoy's outlier detection has them.
const (
	DefaultConsecutiveFailures = 5
	DefaultBaseEjectionTime    = 30 * time.Second
	DefaultMaxEjectionTime     = 300 * time.Second
	DefaultMaxEjectionPercent  = 10
)

// OutlierConfig configures passive outlier detection: a backend whose
// requests fail ConsecutiveFailures times in a row, as the callers report
// them (a Pick's Done), is ejected, taking no new requests, for
// BaseEjectionTime times the number of times it has been ejected, at most
// MaxEjectionTime. The zero value of every field selects its default.
type OutlierConfig struct {
	// ConsecutiveFailures is the run of failed requests that ejects a
	// backend, 1-1000. 0 means 5.
	ConsecutiveFailures int

	// BaseEjectionTime is the first ejection's length, 1s-1h; the n-th
	// ejection in a row lasts n times as long. 0 means 30s. The count of
	// ejections falls by one for each BaseEjectionTime that passes after an
	// ejection ends without a new one.
	BaseEjectionTime time.Duration

	// MaxEjectionTime caps an ejection's length, from BaseEjectionTime to
	// 24h. 0 means 300s, or BaseEjectionTime if that is longer.
	MaxEjectionTime time.Duration

	// MaxEjectionPercent is the largest share of a group's backends that
	// may be ejected at once, 1-100; one backend may always be ejected.
	// 0 means 10.
	MaxEjectionPercent int
}

// Normalized returns c with every zero field set to its default, or a
// *elb.ConfigError for the first field out of range.
func (c OutlierConfig) Normalized() (OutlierConfig, error) {
	if c.ConsecutiveFailures == 0 {
		c.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if c.ConsecutiveFailures < 1 || c.ConsecutiveFailures > 1000 {
		return c, cfgerr.New("ConsecutiveFailures", c.ConsecutiveFailures, "must be 1-1000")
	}
	if c.BaseEjectionTime == 0 {
		c.BaseEjectionTime = DefaultBaseEjectionTime
	}
	if c.BaseEjectionTime < time.Second || c.BaseEjectionTime > time.Hour {
		return c, cfgerr.New("BaseEjectionTime", c.BaseEjectionTime, "must be 1s-1h")
	}
	if c.MaxEjectionTime == 0 {
		c.MaxEjectionTime = max(DefaultMaxEjectionTime, c.BaseEjectionTime)
	}
	if c.MaxEjectionTime < c.BaseEjectionTime || c.MaxEjectionTime > 24*time.Hour {
		return c, cfgerr.New("MaxEjectionTime", c.MaxEjectionTime,
			fmt.Sprintf("must be %v (BaseEjectionTime) to 24h", c.BaseEjectionTime))
	}
	if c.MaxEjectionPercent == 0 {
		c.MaxEjectionPercent = DefaultMaxEjectionPercent
	}
	if c.MaxEjectionPercent < 1 || c.MaxEjectionPercent > 100 {
		return c, cfgerr.New("MaxEjectionPercent", c.MaxEjectionPercent, "must be 1-100")
	}
	return c, nil
}

// EjectionTime returns how long the n-th ejection in a row lasts:
// BaseEjectionTime x n, at most MaxEjectionTime. c must be normalized.
func (c OutlierConfig) EjectionTime(n int) time.Duration {
	n = max(n, 1)
	if limit := int(c.MaxEjectionTime / c.BaseEjectionTime); n > limit {
		return c.MaxEjectionTime
	}
	return min(c.BaseEjectionTime*time.Duration(n), c.MaxEjectionTime)
}

// MaxEjected returns how many of a group's members backends may be
// ejected at once: MaxEjectionPercent of them, rounded down, and at least
// one. c must be normalized.
func (c OutlierConfig) MaxEjected(members int) int {
	return max(1, members*c.MaxEjectionPercent/100)
}

// Decay returns the ejection count n of a backend whose last ejection
// ended d ago: one less for each BaseEjectionTime.
// c must be normalized.
func (c OutlierConfig) Decay(n int, d time.Duration) int {
	if d <= 0 {
		return n
	}
	return max(0, n-int(d/c.BaseEjectionTime))
}
