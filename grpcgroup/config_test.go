package grpcgroup_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/grpcgroup"
)

// TestParseConfigUnknownFieldPaths: an unknown member is named by its
// whole path, at every level of nesting.
func TestParseConfigUnknownFieldPaths(t *testing.T) {
	for js, field := range map[string]string{
		`{"algoritm": "round_robin"}`:                                "algoritm",
		`{"health": {"intervl": "1s"}}`:                              "health.intervl",
		`{"HEALTH": {"intervl": "1s"}}`:                              "HEALTH.intervl",
		`{"health": {"interval": "2s", "x": {"y": 1}}}`:              "health.x",
		`{"sticky": {"metadataKey": "k", "tll": "1h"}}`:              "sticky.tll",
		`{"outlier": {"consecutiveFailure": 3}}`:                     "outlier.consecutiveFailure",
		`{"slowStart": {"window": "60s", "minWeight": 5}}`:           "slowStart.minWeight",
		`{"localZone": "az1", "health": {}, "outlier": {"z": null}}`: "outlier.z",
		`{"algorithm": {"least_request": {"choiceCnt": 3}}}`:         "algorithm.least_request.choiceCnt",
		`{"algorithm": {"round_robin": {"weights": true}}}`:          "algorithm.round_robin.weights",
	} {
		_, err := grpcgroup.ParseConfig([]byte(js))
		var ce *elb.ConfigError
		if assert.ErrorAs(t, err, &ce, js) {
			assert.Equal(t, field, ce.Field, js)
			assert.EqualError(t, err, "elb: "+field+": unknown field", js)
		}
		assert.ErrorIs(t, err, elb.ErrInvalidConfig, js)
	}
	// Names are exact: a member that differs from a field's name in case
	// only (which encoding/json alone would take) is an unknown field that
	// names the field, at any depth.
	_, err := grpcgroup.ParseConfig([]byte(`{"Health": {"interval": "2s"}}`))
	require.EqualError(t, err, `elb: Health: unknown field (names are exact: did you mean "health"?)`)
	_, err = grpcgroup.ParseConfig([]byte(`{"algorithm": {"least_request": {"ChoiceCount": 3}}}`))
	require.ErrorIs(t, err, elb.ErrInvalidConfig)
	assert.Contains(t, err.Error(), `ChoiceCount: unknown field (names are exact: did you mean "choiceCount"?)`)
}

// TestParseConfigAlgorithm: the algorithm is a name or an object of a name
// and its options, validated with the options' paths, and what is
// accepted configures the channel's group.
func TestParseConfigAlgorithm(t *testing.T) {
	for js, want := range map[string]string{
		`{}`:                             "",
		`{"algorithm": null}`:            "",
		`{"algorithm": "least_request"}`: "least_request",
		`{"algorithm": {"least_request": {"choiceCount": 3}}}`:              `{"least_request":{"choiceCount":3}}`,
		`{"algorithm": {"peak_ewma": { "choiceCount": 4, "decay": "5s" }}}`: `{"peak_ewma":{"choiceCount":4,"decay":"5s"}}`,
		`{"algorithm": {"source_ip_hash": {}}}`:                             `{"source_ip_hash":{}}`,
	} {
		c, err := grpcgroup.ParseConfig([]byte(js))
		require.NoError(t, err, js)
		assert.Equal(t, want, c.Algorithm, js)
	}
	for js, text := range map[string]string{
		`{"algorithm": {"least_request": {"choiceCount": 1}}}`:  "elb: algorithm.least_request.choiceCount: 1 must be 2-10",
		`{"algorithm": {"least_request": {"choiceCount": 11}}}`: "elb: algorithm.least_request.choiceCount: 11 must be 2-10",
		`{"algorithm": {"least_request": 2}}`:                   "elb: algorithm.least_request: must be a JSON object of the algorithm's options, such as {}",
		`{"algorithm": {}}`:                                     `elb: algorithm: must name one algorithm, such as {"least_request": {"choiceCount": 3}}; it names 0`,
		`{"algorithm": 1}`:                                      `elb: algorithm: 1 must be an algorithm's name, such as "least_request", or an object of one name and its options, such as {"least_request": {"choiceCount": 3}}`,
		`{"algorithm": "{\"round_robin\": {}}"}`:                `elb: algorithm: unknown load-balancing algorithm "{\"round_robin\": {}}" (registered: `,
	} {
		_, err := grpcgroup.ParseConfig([]byte(js))
		var ce *elb.ConfigError
		require.ErrorAs(t, err, &ce, js)
		assert.Contains(t, err.Error(), text, js)
	}
	_, err := grpcgroup.ParseConfig([]byte(`{"algorithm": {"no_such": {}}}`))
	assert.ErrorIs(t, err, balancer.ErrUnknownAlgorithm)
	var ue *balancer.UnknownAlgorithmError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "no_such", ue.Name)
}

// TestParseConfigOneErrorShape: every error, whichever part of the config
// it concerns, is an *elb.ConfigError with the JSON path, the value and
// no stutter.
func TestParseConfigOneErrorShape(t *testing.T) {
	for js, text := range map[string]string{
		`{"health": {"interval": "100ms"}}`:                  "elb: health.interval: 100ms must be 1s-50s",
		`{"health": {"healthyThreshold": 11}}`:               "elb: health.healthyThreshold: 11 must be 1-10",
		`{"sticky": {"metadataKey": "k", "ttl": "1s"}}`:      "elb: sticky.ttl: 1s must be 1m-24h",
		`{"sticky": {}}`:                                     "elb: sticky.metadataKey: a header or metadata key is required in Header mode",
		`{"sticky": {"metadataKey": "k", "maxEntries": -1}}`: "elb: sticky.maxEntries: -1 must be 1-16777216",
		`{"outlier": {"maxEjectionPercent": 101}}`:           "elb: outlier.maxEjectionPercent: 101 must be 1-100",
		`{"slowStart": {"window": "1s"}}`:                    "elb: slowStart.window: 1s must be 30s-1200s",
		`{"slowStart": {"window": 1}}`:                       `elb: slowStart.window: 1 is not a duration such as "5s"`,
		`{"localZoneMinHealthy": -1}`:                        "elb: localZoneMinHealthy: -1 must be a percentage 0-100",
		`{"drainTimeout": "-1s"}`:                            "elb: drainTimeout: -1s must not be negative",
		`{"failureCodes": ["UNAVAILABLE", "OK"]}`:            `elb: failureCodes[1]: "OK" cannot be a failure`,
		`{"panicThreshold": "50"}`:                           "elb: panicThreshold: a JSON string cannot be a int",
		`{"health": []}`:                                     "elb: health: must be a JSON object, not a JSON array",
		`{"health": `:                                        "elb: is not valid JSON: unexpected EOF",
	} {
		_, err := grpcgroup.ParseConfig([]byte(js))
		var ce *elb.ConfigError
		require.ErrorAs(t, err, &ce, js)
		assert.True(t, errors.Is(err, elb.ErrInvalidConfig), js)
		assert.EqualError(t, err, text, js)
	}
}
