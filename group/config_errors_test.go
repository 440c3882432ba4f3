package group_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// TestEveryConfigErrorKeepsItsCause walks every Config field error that
// group.New can return. Each is a *GroupError naming the group that wraps
// group.ErrInvalidConfig and the cause: the other package's sentinel
// (balancer.ErrUnknownAlgorithm, health.ErrInvalidConfig,
// sticky.ErrInvalidConfig) and, where there is one, the specific sentinel
// (sticky.ErrInvalidTTL, sticky.ErrInvalidKey); a health or sticky error is
// its package's *ConfigError naming the field. The message names the
// Config field and the value.
func TestEveryConfigErrorKeepsItsCause(t *testing.T) {
	key := []byte(strings.Repeat("k", sticky.MinKeyLen))
	probe := health.TCPProbe()
	hc := func(c health.Config) group.Config {
		if c.Probe == nil {
			c.Probe = probe
		}
		return group.Config{Health: &c}
	}
	sc := func(c sticky.Config) group.Config { return group.Config{Sticky: &c} }
	none := error(nil) // no cause beyond group.ErrInvalidConfig
	for _, tc := range []struct {
		name   string
		cfg    group.Config
		causes []error // besides group.ErrInvalidConfig
		field  string  // the *health.ConfigError's or *sticky.ConfigError's Field
		says   []string
	}{
		{"algorithm", group.Config{Algorithm: "no_such_algorithm"}, []error{balancer.ErrUnknownAlgorithm}, "", []string{"Algorithm", `"no_such_algorithm"`}},
		{"drain timeout", group.Config{DrainTimeout: -time.Second}, []error{none}, "", []string{"DrainTimeout", "-1s"}},
		{"zone min healthy low", group.Config{LocalZone: "az1", LocalZoneMinHealthy: -1}, []error{none}, "", []string{"LocalZoneMinHealthy", "-1"}},
		{"zone min healthy high", group.Config{LocalZoneMinHealthy: 101}, []error{none}, "", []string{"LocalZoneMinHealthy", "101"}},
		{"panic threshold low", group.Config{PanicThreshold: -1}, []error{none}, "", []string{"PanicThreshold", "-1"}},
		{"panic threshold high", group.Config{PanicThreshold: 101}, []error{none}, "", []string{"PanicThreshold", "101"}},

		{"sticky mode", sc(sticky.Config{}), []error{sticky.ErrInvalidConfig}, "Mode", []string{"Sticky:", "Mode"}},
		{"sticky mode unknown", sc(sticky.Config{Mode: 9}), []error{sticky.ErrInvalidConfig}, "Mode", []string{"Sticky:", "Mode", "mode(9)"}},
		{"sticky ttl short", sc(sticky.Config{Mode: sticky.SourceIP, TTL: time.Second}), []error{sticky.ErrInvalidConfig, sticky.ErrInvalidTTL}, "TTL", []string{"Sticky:", "TTL", "1s"}},
		{"sticky ttl long", sc(sticky.Config{Mode: sticky.Header, Header: "X", TTL: 25 * time.Hour}), []error{sticky.ErrInvalidConfig, sticky.ErrInvalidTTL}, "TTL", []string{"Sticky:", "TTL", "25h0m0s"}},
		{"sticky ttl negative", sc(sticky.Config{Mode: sticky.AppCookie, CookieName: "s", TTL: -time.Minute}), []error{sticky.ErrInvalidConfig, sticky.ErrInvalidTTL}, "TTL", []string{"Sticky:", "TTL", "-1m0s"}},
		{"sticky cookie ttl", sc(sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{key}, TTL: 30 * time.Second}), []error{sticky.ErrInvalidConfig, sticky.ErrInvalidTTL}, "TTL", []string{"Sticky:", "TTL", "30s"}},
		{"sticky no keys", sc(sticky.Config{Mode: sticky.Cookie}), []error{sticky.ErrInvalidConfig, sticky.ErrInvalidKey}, "Keys", []string{"Sticky:", "Keys", "no keys"}},
		{"sticky short key", sc(sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{key, []byte("short")}}), []error{sticky.ErrInvalidConfig, sticky.ErrInvalidKey}, "Keys", []string{"Sticky:", "Keys[1]", "5 bytes"}},
		{"sticky cookie name", sc(sticky.Config{Mode: sticky.AppCookie}), []error{sticky.ErrInvalidConfig}, "CookieName", []string{"Sticky:", "CookieName"}},
		{"sticky header", sc(sticky.Config{Mode: sticky.Header}), []error{sticky.ErrInvalidConfig}, "Header", []string{"Sticky:", "Header"}},
		{"sticky max entries low", sc(sticky.Config{Mode: sticky.Header, Header: "X", MaxEntries: -1}), []error{sticky.ErrInvalidConfig}, "MaxEntries", []string{"Sticky:", "MaxEntries", "-1"}},
		{"sticky max entries high", sc(sticky.Config{Mode: sticky.AppCookie, CookieName: "s", MaxEntries: sticky.MaxMaxEntries + 1}), []error{sticky.ErrInvalidConfig}, "MaxEntries", []string{"Sticky:", "MaxEntries", "16777217"}},

		{"health probe", group.Config{Health: &health.Config{}}, []error{health.ErrInvalidConfig}, "Probe", []string{"Health:", "Probe"}},
		{"health interval short", hc(health.Config{Interval: 500 * time.Millisecond}), []error{health.ErrInvalidConfig}, "Interval", []string{"Health:", "Interval", "500ms"}},
		{"health interval long", hc(health.Config{Interval: time.Minute}), []error{health.ErrInvalidConfig}, "Interval", []string{"Health:", "Interval", "1m0s"}},
		{"health timeout short", hc(health.Config{Timeout: 100 * time.Millisecond}), []error{health.ErrInvalidConfig}, "Timeout", []string{"Health:", "Timeout", "100ms"}},
		{"health timeout over interval", hc(health.Config{Interval: 2 * time.Second, Timeout: 3 * time.Second}), []error{health.ErrInvalidConfig}, "Timeout", []string{"Health:", "Timeout", "3s"}},
		{"health healthy threshold", hc(health.Config{HealthyThreshold: 11}), []error{health.ErrInvalidConfig}, "HealthyThreshold", []string{"Health:", "HealthyThreshold", "11"}},
		{"health unhealthy threshold", hc(health.Config{UnhealthyThreshold: -1}), []error{health.ErrInvalidConfig}, "UnhealthyThreshold", []string{"Health:", "UnhealthyThreshold", "-1"}},
		{"health jitter", hc(health.Config{Interval: time.Second, Timeout: time.Second, Jitter: 2 * time.Second}), []error{health.ErrInvalidConfig}, "Jitter", []string{"Health:", "Jitter", "2s"}},
		{"health jitter negative", hc(health.Config{Jitter: -5}), []error{health.ErrInvalidConfig}, "Jitter", []string{"Health:", "Jitter", "-5ns"}},
		{"health concurrency", hc(health.Config{Concurrency: 5000}), []error{health.ErrInvalidConfig}, "Concurrency", []string{"Health:", "Concurrency", "5000"}},
		{"health tcp port", hc(health.Config{Probe: &health.TCPCheck{Port: 70000}}), []error{health.ErrInvalidConfig}, "Probe.Port", []string{"Health:", "Probe.Port", "70000"}},
		{"health http scheme", hc(health.Config{Probe: &health.HTTPCheck{Scheme: "ftp"}}), []error{health.ErrInvalidConfig}, "Probe.Scheme", []string{"Health:", "Probe.Scheme", "ftp"}},
		{"health http method", hc(health.Config{Probe: &health.HTTPCheck{Method: "PUT"}}), []error{health.ErrInvalidConfig}, "Probe.Method", []string{"Health:", "Probe.Method", "PUT"}},
		{"health http path", hc(health.Config{Probe: &health.HTTPCheck{Path: "healthz"}}), []error{health.ErrInvalidConfig}, "Probe.Path", []string{"Health:", "Probe.Path", "healthz"}},
		{"health http codes", hc(health.Config{Probe: &health.HTTPCheck{ExpectedCodes: "2xx"}}), []error{health.ErrInvalidConfig}, "Probe.ExpectedCodes", []string{"Health:", "Probe.ExpectedCodes", "2xx"}},
		{"health grpc service", hc(health.Config{Probe: &health.GRPCCheck{Service: "\xff"}}), []error{health.ErrInvalidConfig}, "Probe.Service", []string{"Health:", "Probe.Service", `\xff`}},

		{"outlier failures", group.Config{Outlier: &health.OutlierConfig{ConsecutiveFailures: 1001}}, []error{health.ErrInvalidConfig}, "Outlier.ConsecutiveFailures", []string{"Outlier.ConsecutiveFailures", "1001"}},
		{"outlier base ejection", group.Config{Outlier: &health.OutlierConfig{BaseEjectionTime: time.Millisecond}}, []error{health.ErrInvalidConfig}, "Outlier.BaseEjectionTime", []string{"Outlier.BaseEjectionTime", "1ms"}},
		{"outlier max ejection", group.Config{Outlier: &health.OutlierConfig{BaseEjectionTime: time.Minute, MaxEjectionTime: time.Second}}, []error{health.ErrInvalidConfig}, "Outlier.MaxEjectionTime", []string{"Outlier.MaxEjectionTime", "1s"}},
		{"outlier max percent", group.Config{Outlier: &health.OutlierConfig{MaxEjectionPercent: 101}}, []error{health.ErrInvalidConfig}, "Outlier.MaxEjectionPercent", []string{"Outlier.MaxEjectionPercent", "101"}},

		{"slow start window", group.Config{SlowStart: &health.SlowStart{Window: 10 * time.Second}}, []error{health.ErrInvalidConfig}, "SlowStart.Window", []string{"SlowStart.Window", "10s"}},
		{"slow start min weight", group.Config{SlowStart: &health.SlowStart{Window: time.Minute, MinWeightPercent: 101}}, []error{health.ErrInvalidConfig}, "SlowStart.MinWeightPercent", []string{"SlowStart.MinWeightPercent", "101"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name = "orders"
			g, err := group.New(tc.cfg)
			if g != nil {
				_ = g.Close(ctx)
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, group.ErrInvalidConfig)
			for _, cause := range tc.causes {
				if cause != nil {
					assert.ErrorIs(t, err, cause)
				}
			}
			var ge *group.GroupError
			if assert.ErrorAs(t, err, &ge) {
				assert.Equal(t, "orders", ge.Group)
			}
			var hce *health.ConfigError
			var sce *sticky.ConfigError
			switch {
			case errors.Is(err, health.ErrInvalidConfig):
				if assert.ErrorAs(t, err, &hce) {
					assert.Equal(t, tc.field, hce.Field)
				}
			case errors.Is(err, sticky.ErrInvalidConfig):
				if assert.ErrorAs(t, err, &sce) {
					assert.Equal(t, tc.field, sce.Field)
				}
			default:
				assert.Empty(t, tc.field, "no other package's error")
			}
			msg := err.Error()
			assert.Contains(t, msg, `"orders"`)
			for _, s := range tc.says {
				assert.Contains(t, msg, s)
			}
			assert.NotContains(t, msg, string(key), "no key bytes in errors")
		})
	}
}
