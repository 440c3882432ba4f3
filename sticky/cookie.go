package sticky

import (
	"errors"
	"time"
)

// Cookie lifetimes and table TTLs: Config.TTL must lie in [MinTTL,
// MaxTTL]; zero means DefaultTTL.
const (
	MinTTL     = time.Minute
	MaxTTL     = 24 * time.Hour
	DefaultTTL = 24 * time.Hour // as AWS ALB's load-balancer cookie (1 day)
)

// MinKeyLen is the least number of bytes a cookie key may have.
const MinKeyLen = 32

// The errors of Config.Normalized (and so of group.New with
// group.Config.Sticky), usable with [errors.Is]: the cause of the
// *elb.ConfigError it returns, which names the offending field and value
// (never a key's bytes).
var (
	// ErrInvalidTTL: a Config.TTL outside MinTTL-MaxTTL that is not 0.
	ErrInvalidTTL = errors.New("invalid cookie TTL")
	// ErrInvalidKey: no keys, or a key shorter than MinKeyLen.
	ErrInvalidKey = errors.New("invalid cookie key")
)
