package httpgroup

import (
	"net/http"
	"time"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/internal/backoff"
)

// MaxRetryAfter is the longest Retry-After a Transport honours: a longer
// one benches its backend for MaxRetryAfter (balancer.MaxBench, 1 minute).
const MaxRetryAfter = balancer.MaxBench

// retryAfter returns how long the Retry-After header of resp asks the
// client to wait, for a 429 or 503 (RFC 9110, section 10.2.3): 0 for other
// statuses, no header, or one that is neither delta-seconds nor an
// HTTP-date in the future; at most MaxRetryAfter. The header comes from
// the backend, so any value is possible: garbage is ignored, never an
// error.
func retryAfter(resp *http.Response, now func() time.Time) time.Duration {
	if resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return 0
	}
	v, ok := resp.Header["Retry-After"]
	if !ok || len(v) == 0 {
		return 0
	}
	return parseRetryAfter(v[0], now)
}

// parseRetryAfter reads a Retry-After value: delta-seconds (1*DIGIT) or an
// HTTP-date (the three forms http.ParseTime reads), taken relative to
// now(), which it calls only for a date. It returns 0 for anything else
// or a time not in the future, and caps the result at MaxRetryAfter.
func parseRetryAfter(s string, now func() time.Time) time.Duration {
	if s == "" {
		return 0
	}
	if s[0] >= '0' && s[0] <= '9' {
		d, _ := backoff.Digits(s, time.Second, MaxRetryAfter)
		return d
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return 0
	}
	d := t.Sub(now())
	if d <= 0 {
		return 0
	}
	return min(d, MaxRetryAfter)
}
