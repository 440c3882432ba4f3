package group_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/health"
	"github.com/go-elb/elb/sticky"
)

// TestEveryConfigErrorKeepsItsCause walks every Config field error that
// group.New can return. Each is a *GroupError naming the group around an
// *elb.ConfigError: errors.Is matches the one elb.ErrInvalidConfig (which
// group.ErrInvalidConfig is) and, where there is one, the specific cause
// (balancer.ErrUnknownAlgorithm, sticky.ErrInvalidTTL,
// sticky.ErrInvalidKey); Field is the path from Config; the whole text is
// exact: the group once, then the path, the value and the problem, never
// a second "elb:" or a package's name, and never a key's bytes.
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
	lr := func(opts string) group.Config { return group.Config{Algorithm: `{"least_request": ` + opts + `}`} }
	for _, tc := range []struct {
		name  string
		cfg   group.Config
		field string // the *elb.ConfigError's Field
		cause error  // besides elb.ErrInvalidConfig; nil if none
		text  string // the error's text (its start, when it ends with ...)
	}{
		{"algorithm", group.Config{Algorithm: "no_such_algorithm"}, "Algorithm", balancer.ErrUnknownAlgorithm, `elb: group "orders": Algorithm: unknown load-balancing algorithm "no_such_algorithm" ...`},
		{"drain timeout", group.Config{DrainTimeout: -time.Second}, "DrainTimeout", nil, `elb: group "orders": DrainTimeout: -1s must not be negative`},
		{"zone min healthy low", group.Config{LocalZone: "az1", LocalZoneMinHealthy: -1}, "LocalZoneMinHealthy", nil, `elb: group "orders": LocalZoneMinHealthy: -1 must be a percentage 0-100`},
		{"zone min healthy high", group.Config{LocalZoneMinHealthy: 101}, "LocalZoneMinHealthy", nil, `elb: group "orders": LocalZoneMinHealthy: 101 must be a percentage 0-100`},
		{"panic threshold low", group.Config{PanicThreshold: -1}, "PanicThreshold", nil, `elb: group "orders": PanicThreshold: -1 must be a percentage 0-100`},
		{"panic threshold high", group.Config{PanicThreshold: 101}, "PanicThreshold", nil, `elb: group "orders": PanicThreshold: 101 must be a percentage 0-100`},

		{"sticky mode", sc(sticky.Config{}), "Sticky.Mode", nil, `elb: group "orders": Sticky.Mode: is required (Cookie, AppCookie, Header or SourceIP)`},
		{"sticky mode unknown", sc(sticky.Config{Mode: 9}), "Sticky.Mode", nil, `elb: group "orders": Sticky.Mode: "mode(9)" is not a mode (Cookie, AppCookie, Header or SourceIP)`},
		{"sticky ttl short", sc(sticky.Config{Mode: sticky.SourceIP, TTL: time.Second}), "Sticky.TTL", sticky.ErrInvalidTTL, `elb: group "orders": Sticky.TTL: 1s must be 1m-24h`},
		{"sticky ttl long", sc(sticky.Config{Mode: sticky.Header, Header: "X", TTL: 25 * time.Hour}), "Sticky.TTL", sticky.ErrInvalidTTL, `elb: group "orders": Sticky.TTL: 25h0m0s must be 1m-24h`},
		{"sticky ttl negative", sc(sticky.Config{Mode: sticky.AppCookie, CookieName: "s", TTL: -time.Minute}), "Sticky.TTL", sticky.ErrInvalidTTL, `elb: group "orders": Sticky.TTL: -1m0s must be 1m-24h`},
		{"sticky cookie ttl", sc(sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{key}, TTL: 30 * time.Second}), "Sticky.TTL", sticky.ErrInvalidTTL, `elb: group "orders": Sticky.TTL: 30s must be 1m-24h`},
		{"sticky no keys", sc(sticky.Config{Mode: sticky.Cookie}), "Sticky.Keys", sticky.ErrInvalidKey, `elb: group "orders": Sticky.Keys: no keys: at least one is required`},
		{"sticky short key", sc(sticky.Config{Mode: sticky.Cookie, Keys: [][]byte{key, []byte("short")}}), "Sticky.Keys[1]", sticky.ErrInvalidKey, `elb: group "orders": Sticky.Keys[1]: has 5 bytes, want at least 32`},
		{"sticky cookie name", sc(sticky.Config{Mode: sticky.AppCookie}), "Sticky.CookieName", nil, `elb: group "orders": Sticky.CookieName: the application's cookie name is required in AppCookie mode`},
		{"sticky header", sc(sticky.Config{Mode: sticky.Header}), "Sticky.Header", nil, `elb: group "orders": Sticky.Header: a header or metadata key is required in Header mode`},
		{"sticky max entries low", sc(sticky.Config{Mode: sticky.Header, Header: "X", MaxEntries: -1}), "Sticky.MaxEntries", nil, `elb: group "orders": Sticky.MaxEntries: -1 must be 1-16777216`},
		{"sticky max entries high", sc(sticky.Config{Mode: sticky.AppCookie, CookieName: "s", MaxEntries: sticky.MaxMaxEntries + 1}), "Sticky.MaxEntries", nil, `elb: group "orders": Sticky.MaxEntries: 16777217 must be 1-16777216`},

		{"health probe", group.Config{Health: &health.Config{}}, "Health.Probe", nil, `elb: group "orders": Health.Probe: is required`},
		{"health interval short", hc(health.Config{Interval: 500 * time.Millisecond}), "Health.Interval", nil, `elb: group "orders": Health.Interval: 500ms must be 1s-50s`},
		{"health interval a bare number", hc(health.Config{Interval: 5}), "Health.Interval", nil, `elb: group "orders": Health.Interval: 5ns must be 1s-50s (a time.Duration counts nanoseconds: write 5 * time.Second, not 5)`},
		{"health interval long", hc(health.Config{Interval: time.Minute}), "Health.Interval", nil, `elb: group "orders": Health.Interval: 1m0s must be 1s-50s`},
		{"health timeout short", hc(health.Config{Timeout: 100 * time.Millisecond}), "Health.Timeout", nil, `elb: group "orders": Health.Timeout: 100ms must be 1s-50s`},
		{"health timeout over interval", hc(health.Config{Interval: 2 * time.Second, Timeout: 3 * time.Second}), "Health.Timeout", nil, `elb: group "orders": Health.Timeout: 3s must be at most Interval (2s)`},
		{"health healthy threshold", hc(health.Config{HealthyThreshold: 11}), "Health.HealthyThreshold", nil, `elb: group "orders": Health.HealthyThreshold: 11 must be 1-10`},
		{"health unhealthy threshold", hc(health.Config{UnhealthyThreshold: -1}), "Health.UnhealthyThreshold", nil, `elb: group "orders": Health.UnhealthyThreshold: -1 must be 1-10`},
		{"health jitter", hc(health.Config{Interval: time.Second, Timeout: time.Second, Jitter: 2 * time.Second}), "Health.Jitter", nil, `elb: group "orders": Health.Jitter: 2s must be 0-1s, or NoJitter`},
		{"health jitter negative", hc(health.Config{Jitter: -5}), "Health.Jitter", nil, `elb: group "orders": Health.Jitter: -5ns must be 0-5s, or NoJitter`},
		{"health concurrency", hc(health.Config{Concurrency: 5000}), "Health.Concurrency", nil, `elb: group "orders": Health.Concurrency: 5000 must be 1-4096`},
		{"health tcp port", hc(health.Config{Probe: &health.TCPCheck{Port: 70000}}), "Health.Probe.Port", nil, `elb: group "orders": Health.Probe.Port: 70000 must be 0 (the backend's port) or 1-65535`},
		{"health http scheme", hc(health.Config{Probe: &health.HTTPCheck{Scheme: "ftp"}}), "Health.Probe.Scheme", nil, `elb: group "orders": Health.Probe.Scheme: "ftp" must be "http" or "https"`},
		{"health http method", hc(health.Config{Probe: &health.HTTPCheck{Method: "PUT"}}), "Health.Probe.Method", nil, `elb: group "orders": Health.Probe.Method: "PUT" must be "GET", "HEAD" or "POST"`},
		{"health http path", hc(health.Config{Probe: &health.HTTPCheck{Path: "healthz"}}), "Health.Probe.Path", nil, `elb: group "orders": Health.Probe.Path: "healthz" must start with "/"`},
		{"health http codes", hc(health.Config{Probe: &health.HTTPCheck{ExpectedCodes: "2xx"}}), "Health.Probe.ExpectedCodes", nil, `elb: group "orders": Health.Probe.ExpectedCodes: "2xx" is not a list of status codes: "2xx" is not a status code: want codes 100-599 and ranges such as 200-399, separated by commas`},
		{"health grpc service", hc(health.Config{Probe: &health.GRPCCheck{Service: "\xff"}}), "Health.Probe.Service", nil, "elb: group \"orders\": Health.Probe.Service: \"\\xff\" must be valid UTF-8"},

		{"outlier failures", group.Config{Outlier: &health.OutlierConfig{ConsecutiveFailures: 1001}}, "Outlier.ConsecutiveFailures", nil, `elb: group "orders": Outlier.ConsecutiveFailures: 1001 must be 1-1000`},
		{"outlier base ejection", group.Config{Outlier: &health.OutlierConfig{BaseEjectionTime: time.Millisecond}}, "Outlier.BaseEjectionTime", nil, `elb: group "orders": Outlier.BaseEjectionTime: 1ms must be 1s-1h`},
		{"outlier max ejection", group.Config{Outlier: &health.OutlierConfig{BaseEjectionTime: time.Minute, MaxEjectionTime: time.Second}}, "Outlier.MaxEjectionTime", nil, `elb: group "orders": Outlier.MaxEjectionTime: 1s must be 1m0s (BaseEjectionTime) to 24h`},
		{"outlier max percent", group.Config{Outlier: &health.OutlierConfig{MaxEjectionPercent: 101}}, "Outlier.MaxEjectionPercent", nil, `elb: group "orders": Outlier.MaxEjectionPercent: 101 must be 1-100`},

		{"slow start window", group.Config{SlowStart: &health.SlowStart{Window: 10 * time.Second}}, "SlowStart.Window", nil, `elb: group "orders": SlowStart.Window: 10s must be 30s-1200s`},
		{"slow start min weight", group.Config{SlowStart: &health.SlowStart{Window: time.Minute, MinWeightPercent: 101}}, "SlowStart.MinWeightPercent", nil, `elb: group "orders": SlowStart.MinWeightPercent: 101 must be 1-100`},

		{"subset size", group.Config{Subset: &group.SubsetConfig{Size: -1}}, "Subset.Size", nil, `elb: group "orders": Subset.Size: -1 must not be negative (0 means the default, 20)`},
		{"subset client count negative", group.Config{Subset: &group.SubsetConfig{ClientCount: -1}}, "Subset.ClientCount", nil, `elb: group "orders": Subset.ClientCount: -1 must be 0-100000`},
		{"subset client count high", group.Config{Subset: &group.SubsetConfig{ClientCount: group.MaxSubsetClients + 1}}, "Subset.ClientCount", nil, `elb: group "orders": Subset.ClientCount: 100001 must be 0-100000`},
		{"subset client index without count", group.Config{Subset: &group.SubsetConfig{ClientIndex: 2}}, "Subset.ClientIndex", nil, `elb: group "orders": Subset.ClientIndex: 2 needs ClientCount, the number of clients it counts from`},
		{"subset client index high", group.Config{Subset: &group.SubsetConfig{ClientIndex: 3, ClientCount: 3}}, "Subset.ClientIndex", nil, `elb: group "orders": Subset.ClientIndex: 3 must be 0-2 (below ClientCount)`},
		{"subset client index negative", group.Config{Subset: &group.SubsetConfig{ClientIndex: -1, ClientCount: 3}}, "Subset.ClientIndex", nil, `elb: group "orders": Subset.ClientIndex: -1 must be 0-2 (below ClientCount)`},
		{"subset client id", group.Config{Subset: &group.SubsetConfig{ClientID: "x", ClientCount: 3}}, "Subset.ClientID", nil, `elb: group "orders": Subset.ClientID: "x" must be empty with ClientCount: a client is known by its index or by its ID, not both`},
		{"subset min healthy high", group.Config{Subset: &group.SubsetConfig{Size: 4, MinHealthy: 5}}, "Subset.MinHealthy", nil, `elb: group "orders": Subset.MinHealthy: 5 must be 1-4 (Size)`},
		{"subset min healthy negative", group.Config{Subset: &group.SubsetConfig{MinHealthy: -1}}, "Subset.MinHealthy", nil, `elb: group "orders": Subset.MinHealthy: -1 must be 1-20 (Size)`},

		{"algorithm choice count", lr(`{"choiceCount": 1}`), "Algorithm.least_request.choiceCount", nil, `elb: group "orders": Algorithm.least_request.choiceCount: 1 must be 2-10`},
		{"algorithm choice count high", lr(`{"choiceCount": 11}`), "Algorithm.least_request.choiceCount", nil, `elb: group "orders": Algorithm.least_request.choiceCount: 11 must be 2-10`},
		{"algorithm unknown option", lr(`{"choiceCount": 3, "latency": true}`), "Algorithm.least_request.latency", nil, `elb: group "orders": Algorithm.least_request.latency: unknown field`},
		{"algorithm option type", lr(`{"choiceCount": "3"}`), "Algorithm.least_request.choiceCount", nil, `elb: group "orders": Algorithm.least_request.choiceCount: a JSON string cannot be a int`},
		{"algorithm duration option", group.Config{Algorithm: `{"peak_ewma": {"decay": "1ms"}}`}, "Algorithm.peak_ewma.decay", nil, `elb: group "orders": Algorithm.peak_ewma.decay: 1ms must be 100ms-10m0s`},
		{"algorithm options not an object", lr(`3`), "Algorithm.least_request", nil, `elb: group "orders": Algorithm.least_request: must be a JSON object of the algorithm's options, such as {}`},
		{"algorithm unknown in object", group.Config{Algorithm: `{"no_such_algorithm": {}}`}, "Algorithm", balancer.ErrUnknownAlgorithm, `elb: group "orders": Algorithm: unknown load-balancing algorithm "no_such_algorithm" ...`},
		{"algorithm two names", group.Config{Algorithm: `{"random": {}, "round_robin": {}}`}, "Algorithm", nil, `elb: group "orders": Algorithm: must name one algorithm, such as {"least_request": {"choiceCount": 3}}; it names 2`},
		{"algorithm malformed", group.Config{Algorithm: `{"random": {}`}, "Algorithm", nil, `elb: group "orders": Algorithm: is not valid JSON: unexpected EOF`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Name = "orders"
			g, err := group.New(tc.cfg)
			if g != nil {
				_ = g.Close(ctx)
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, group.ErrInvalidConfig)
			assert.ErrorIs(t, err, elb.ErrInvalidConfig)
			if tc.cause != nil {
				assert.ErrorIs(t, err, tc.cause)
			}
			var ge *group.GroupError
			if assert.ErrorAs(t, err, &ge) {
				assert.Equal(t, "orders", ge.Group)
			}
			var ce *elb.ConfigError
			if assert.ErrorAs(t, err, &ce) {
				assert.Equal(t, tc.field, ce.Field)
			}
			msg := err.Error()
			if prefix, ok := strings.CutSuffix(tc.text, "..."); ok {
				assert.True(t, strings.HasPrefix(msg, prefix), "%q does not start with %q", msg, prefix)
			} else {
				assert.Equal(t, tc.text, msg)
			}
			assert.Equal(t, 1, strings.Count(msg, "elb:"), "no stutter")
			assert.NotContains(t, msg, string(key), "no key bytes in errors")
		})
	}
}

// TestUnnamedGroupConfigError: a group without a name is not shown as
// group "".
func TestUnnamedGroupConfigError(t *testing.T) {
	_, err := group.New(group.Config{Health: &health.Config{Probe: health.TCPProbe(), Interval: 100 * time.Millisecond}})
	require.ErrorIs(t, err, elb.ErrInvalidConfig)
	assert.Equal(t, "elb: Health.Interval: 100ms must be 1s-50s", err.Error())
}

// TestConfigAlgorithmOptions: an Algorithm given as JSON configures the
// algorithm, and the group shows its name.
func TestConfigAlgorithmOptions(t *testing.T) {
	for _, tc := range []struct{ config, name string }{
		{"", group.DefaultAlgorithm},
		{"least_request", balancer.NameLeastRequest},
		{`{"least_request": {"choiceCount": 3}}`, balancer.NameLeastRequest},
		{`{"peak_ewma": {"choiceCount": 3, "decay": "5s", "failurePenalty": "200ms"}}`, balancer.NamePeakEWMA},
		{` {"source_ip_hash": {}} `, balancer.NameSourceIPHash},
	} {
		g, err := group.New(group.Config{Name: "orders", Algorithm: tc.config})
		require.NoError(t, err, tc.config)
		assert.Equal(t, tc.name, g.Algorithm(), tc.config)
		assert.Equal(t, tc.name, g.Stats().Algorithm, tc.config)
		require.NoError(t, g.Add(group.Backend{Addr: "10.0.0.1:80"}, group.Backend{Addr: "10.0.0.2:80"}, group.Backend{Addr: "10.0.0.3:80"}))
		for range 10 {
			p, err := g.Pick(ctx, group.Request{Key: "k", Source: "10.9.9.9"})
			require.NoError(t, err)
			p.Done(nil)
		}
		require.NoError(t, g.Close(ctx))
	}
}
