package grpcgroup_test

import (
	"errors"
	"testing"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/grpcgroup"
)

// FuzzParseConfig feeds ParseConfig arbitrary bytes: it must never panic,
// and must either accept the input or fail with an *elb.ConfigError
// (elb.ErrInvalidConfig).
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"algorithm": "least_request", "hashKey": "x-user"}`,
		`{"sticky": {"metadataKey": "x-session", "ttl": "30m", "maxEntries": 100}}`,
		`{"health": {"service": "s", "interval": "2s", "timeout": "1s", "healthyThreshold": 2, "unhealthyThreshold": 3}}`,
		`{"outlier": {"consecutiveFailures": 3, "baseEjectionTime": "10s", "maxEjectionTime": "1m", "maxEjectionPercent": 50}}`,
		`{"slowStart": {"window": "60s", "minWeightPercent": 5}, "failureCodes": ["UNAVAILABLE", "14"]}`,
		`{"localZone": "az1", "localZoneMinHealthy": 50, "panicThreshold": 50, "drainTimeout": "1s"}`,
		`{"health": {"interval": 5}}`, `[]`, `null`, `{"algorithm": 1}`, `{"a":`,
		`{"algorithm": {"least_request": {"choiceCount": 3}}}`,
		`{"algorithm": {"peak_ewma": {"choiceCount": 3, "decay": "5s", "failurePenalty": "1s"}}}`,
		`{"algorithm": {"least_request": {"choiceCount": 1}}}`, `{"health": {"intervl": "1s"}}`,
		`{"outlier": {"x": {"y": 1}}}`, `{"failureCodes": ["OK"]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, js []byte) {
		c, err := grpcgroup.ParseConfig(js)
		if err != nil {
			var ce *elb.ConfigError
			if !errors.Is(err, elb.ErrInvalidConfig) || !errors.As(err, &ce) {
				t.Fatalf("%q: error %v is not an *elb.ConfigError", js, err)
			}
			return
		}
		if c == nil {
			t.Fatalf("%q: nil config without an error", js)
		}
		// What ParseConfig accepts, the channel's group accepts too.
		if c.Algorithm != "" {
			if _, _, err := balancer.ParseConfig(c.Algorithm); err != nil {
				t.Fatalf("%q: accepted algorithm %q fails: %v", js, c.Algorithm, err)
			}
		}
	})
}
