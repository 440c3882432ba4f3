// Package cfgerr builds and nests elb.ConfigError values, the one error
// type of every configuration check in elb.
package cfgerr

import (
	"errors"
	"strings"
	"time"

	"github.com/go-elb/elb"
)

// New returns the error of field's value v: problem says what is wrong.
// For a time.Duration under a microsecond it adds NanosHint: such a value
// is almost always a bare number meant as seconds (Interval: 5).
func New(field string, v any, problem string) *elb.ConfigError {
	if d, ok := v.(time.Duration); ok && d > 0 && d < time.Microsecond {
		problem += NanosHint
	}
	return &elb.ConfigError{Field: field, Value: v, Problem: problem}
}

// NanosHint is what New adds to the problem of a time.Duration under a
// microsecond.
const NanosHint = " (a time.Duration counts nanoseconds: write 5 * time.Second, not 5)"

// Nest returns err as seen from the configuration that holds the one that
// was checked, under prefix: a *elb.ConfigError (err or one it wraps) is
// copied with prefix put before its Field; any other error becomes the
// cause of a *elb.ConfigError for prefix. err's own value is never
// modified (it may be shared), and nil stays nil.
func Nest(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var ce *elb.ConfigError
	if !errors.As(err, &ce) {
		return &elb.ConfigError{Field: prefix, Err: err}
	}
	c := *ce
	c.Field = Join(prefix, ce.Field)
	return &c
}

// Join joins two parts of a field path: "health" and "interval" give
// "health.interval", "backends" and "[2].weight" give "backends[2].weight".
func Join(prefix, field string) string {
	switch {
	case prefix == "":
		return field
	case field == "":
		return prefix
	case strings.HasPrefix(field, "["):
		return prefix + field
	}
	return prefix + "." + field
}

// Text returns an error's text without elb's leading "elb: ", for an error
// that shows another's.
func Text(err error) string { return strings.TrimPrefix(err.Error(), "elb: ") }

// Quiet returns err with the text of Text(err), for an error that shows
// it after its own "elb: ": errors.Is and errors.As see err.
func Quiet(err error) error { return quiet{err} }

type quiet struct{ err error }

func (q quiet) Error() string { return Text(q.err) }
func (q quiet) Unwrap() error { return q.err }
