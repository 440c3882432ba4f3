package elb

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrInvalidConfig is the error, usable with [errors.Is], of every
// configuration value that elb rejects, whichever package rejects it:
// group.New, health, sticky and discovery configs, balancer.ParseConfig and
// the gRPC policy's JSON all return a [*ConfigError], which wraps it.
// group.ErrInvalidConfig is the same value.
var ErrInvalidConfig = errors.New("invalid config")

// ConfigError reports one configuration value that elb rejects: where it
// is (Field), what it is (Value), what is wrong with it (Problem) and, if
// another error is the reason, that error (Err). It is the one error type
// of every configuration check in elb, and an algorithm of your own may
// return it too (see balancer.ConfigParser). The zero value is a valid
// error for the configuration as a whole: "elb: invalid config".
//
// Its text is "elb: FIELD: VALUE PROBLEM", such as
// "elb: Health.Interval: 100ms must be 1s-50s", leaving out the parts that
// are empty; an error that names a group, such as group.New's, puts the
// group first: `elb: group "orders": Health.Interval: 100ms must be 1s-50s`.
type ConfigError struct {
	// Field is the path of the value from the configuration that was
	// checked, dot-separated, in the names of that configuration: Go field
	// names for a Go struct ("Health.Interval", "Outlier.MaxEjectionTime"),
	// JSON member names for JSON ("health.interval",
	// "algorithm.least_request.choiceCount"), with [i] for the i-th element
	// of a list ("backends[2].weight"). "" means the configuration as a
	// whole.
	Field string

	// Value is the offending value, shown in the text (a string or a
	// fmt.Stringer quoted, a json.RawMessage as the JSON text it is); nil
	// when there is none to show, such as a missing value or a secret key,
	// whose bytes are never shown.
	Value any

	// Problem says what is wrong with Value, such as "must be 1s-50s" or
	// "unknown field". When it is empty the text shows Err's instead.
	Problem string

	// Err is the cause, such as balancer.ErrUnknownAlgorithm or
	// sticky.ErrInvalidTTL; nil when there is none. errors.Is and
	// errors.As see it.
	Err error
}

// Error reads "elb: FIELD: VALUE PROBLEM", leaving out the parts that are
// empty.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("elb: ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	problem := e.Problem
	if problem == "" && e.Err != nil {
		problem = strings.TrimPrefix(e.Err.Error(), "elb: ")
	}
	if e.Value != nil {
		b.WriteString(formatValue(e.Value))
		if problem != "" {
			b.WriteByte(' ')
		}
	}
	if problem == "" && e.Value == nil {
		problem = ErrInvalidConfig.Error()
	}
	b.WriteString(problem)
	return b.String()
}

// Unwrap returns ErrInvalidConfig and, if there is one, Err.
func (e *ConfigError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidConfig}
	}
	return []error{ErrInvalidConfig, e.Err}
}

// formatValue shows v: a string (or a fmt.Stringer other than a duration)
// quoted, JSON text as it is, anything else as %v.
func formatValue(v any) string {
	switch v := v.(type) {
	case json.RawMessage:
		return string(v)
	case string:
		return fmt.Sprintf("%q", v)
	case time.Duration:
		return v.String()
	case fmt.Stringer:
		return fmt.Sprintf("%q", v.String())
	}
	return fmt.Sprint(v)
}
