// Package backoff reads the backoff hints servers send (HTTP's
// Retry-After delta-seconds, gRPC's grpc-retry-pushback-ms): untrusted
// decimal numbers of a time unit, bounded.
package backoff

import "time"

// Digits reads s, one or more ASCII decimal digits and nothing else, as a
// count of unit, capped at limit (which must be positive). It reports
// false for anything else: empty, a sign, a space, a fraction, a suffix.
// However long s is, it neither overflows nor allocates.
func Digits(s string, unit, limit time.Duration) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	var d time.Duration
	capped := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if !capped {
			if d = d*10 + time.Duration(c-'0'); d > limit/unit {
				capped = true
			}
		}
	}
	if capped {
		return limit, true
	}
	return min(d*unit, limit), true
}
