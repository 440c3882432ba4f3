package sticky

import (
	"errors"
	"time"
)

// Cookie lifetimes: CookieConfig.TTL must lie in [MinTTL, MaxTTL]; zero
// means DefaultTTL.
const (
	MinTTL     = time.Minute
	MaxTTL     = 24 * time.Hour
	DefaultTTL = 24 * time.Hour // as AWS ALB's load-balancer cookie (1 day)
)

// MinKeyLen is the least number of bytes a cookie key may have.
const MinKeyLen = 32

// 55

// The errors of NewCodec, usable with [errors.Is]: the cause of the
// *elb.ConfigError of NewCodec, Config.Normalized (and NewTable, for
// ErrInvalidTTL), which names the offending field and value (never a
// key's bytes).
var (
	// ErrInvalidTTL: a TTL outside MinTTL-MaxTTL that is not 0 (a
	// Table's: under a second).
	ErrInvalidTTL = errors.New("invalid cookie TTL")
	// ErrInvalidKey: no keys, or a key shorter than MinKeyLen.
	ErrInvalidKey = errors.New("invalid cookie key")
)
