package elb_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/go-elb/elb"
)

func TestConfigErrorText(t *testing.T) {
	cause := errors.New("elb: the cause")
	for _, tc := range []struct {
		err  *elb.ConfigError
		want string
	}{
		{&elb.ConfigError{Field: "Health.Interval", Value: 100 * time.Millisecond, Problem: "must be 1s-50s"}, "elb: Health.Interval: 100ms must be 1s-50s"},
		{&elb.ConfigError{Field: "Path", Problem: "is required"}, "elb: Path: is required"},
		{&elb.ConfigError{Field: "Name", Value: "a b", Problem: "is not a name"}, `elb: Name: "a b" is not a name`},
		{&elb.ConfigError{Field: "x", Value: json.RawMessage(`{"a":1}`), Problem: "is wrong"}, `elb: x: {"a":1} is wrong`},
		{&elb.ConfigError{Field: "Algorithm", Err: cause}, "elb: Algorithm: the cause"},
		{&elb.ConfigError{Field: "Keys", Problem: "no keys", Err: cause}, "elb: Keys: no keys"},
		{&elb.ConfigError{Field: "N", Value: 7}, "elb: N: 7"},
		{&elb.ConfigError{Problem: "is not valid JSON"}, "elb: is not valid JSON"},
		{&elb.ConfigError{}, "elb: invalid config"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", *tc.err, got, tc.want)
		}
		if !errors.Is(tc.err, elb.ErrInvalidConfig) {
			t.Errorf("%+v does not wrap ErrInvalidConfig", *tc.err)
		}
		if tc.err.Err != nil && !errors.Is(tc.err, cause) {
			t.Errorf("%+v does not wrap its cause", *tc.err)
		}
	}
}
