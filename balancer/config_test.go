package balancer

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-elb/elb"
)

func TestParseConfigForms(t *testing.T) {
	for _, tc := range []struct {
		config string
		name   string
		want   Algorithm
	}{
		{"least_request", NameLeastRequest, LeastRequest{}},
		{" least_request\n", NameLeastRequest, LeastRequest{}},
		{`"least_request"`, NameLeastRequest, LeastRequest{}},
		{`{"least_request": {}}`, NameLeastRequest, LeastRequest{ChoiceCount: 2}},
		{`{"least_request": null}`, NameLeastRequest, LeastRequest{ChoiceCount: 2}},
		{`{"least_request": {"choiceCount": 3}}`, NameLeastRequest, LeastRequest{ChoiceCount: 3}},
		{`{"least_request": {"choiceCount": 10}}`, NameLeastRequest, LeastRequest{ChoiceCount: 10}},
		{`{"peak_ewma": {}}`, NamePeakEWMA, PeakEWMA{ChoiceCount: 3, Decay: DefaultDecay, FailurePenalty: DefaultFailurePenalty}},
		{`{"peak_ewma": {"choiceCount": 3, "decay": "2s", "failurePenalty": "250ms"}}`, NamePeakEWMA, PeakEWMA{ChoiceCount: 3, Decay: 2 * time.Second, FailurePenalty: 250 * time.Millisecond}},
		{`{"peak_ewma": {"decay": "10m"}}`, NamePeakEWMA, PeakEWMA{ChoiceCount: 3, Decay: 10 * time.Minute, FailurePenalty: DefaultFailurePenalty}},
		{`{"source_ip_hash": {}}`, NameSourceIPHash, ConsistentHash{SourceIP: true}},
		{`{"consistent_hash": {}}`, NameConsistentHash, ConsistentHash{}},
		{`{"round_robin": {}}`, NameRoundRobin, RoundRobin{}},
	} {
		name, a, err := ParseConfig(tc.config)
		if err != nil || name != tc.name || !reflect.DeepEqual(a, tc.want) {
			t.Errorf("ParseConfig(%q) = %q, %#v, %v; want %q, %#v", tc.config, name, a, err, tc.name, tc.want)
		}
	}
	// Every registered name parses in every form, to its registered value
	// (the same type, and for value types without options the same value).
	for _, n := range Names() {
		if strings.HasPrefix(n, "test_") {
			continue // registered by TestParseConfigCustom, with options that must be set
		}
		reg, _ := Get(n)
		for _, c := range []string{n, `"` + n + `"`, `{"` + n + `": {}}`, `{"` + n + `": null}`} {
			name, a, err := ParseConfig(c)
			if err != nil || name != n || a == nil {
				t.Errorf("ParseConfig(%q) = %q, %v, %v", c, name, a, err)
				continue
			}
			_, lr := reg.(LeastRequest)
			_, pe := reg.(PeakEWMA)
			_, pq := reg.(Prequal) // these fill in their defaults
			if !lr && !pe && !pq && !reflect.DeepEqual(a, reg) {
				t.Errorf("ParseConfig(%q) = %#v, want the registered %#v", c, a, reg)
			}
		}
	}
}

// TestParseConfigChoiceCountPicks: the parsed option reaches the picker.
func TestParseConfigChoiceCountPicks(t *testing.T) {
	_, a, err := ParseConfig(`{"least_request": {"choiceCount": 5}}`)
	if err != nil {
		t.Fatal(err)
	}
	p := a.Build(testEndpoints(10)).(*lrPicker)
	if p.k != 5 || p.ewma {
		t.Fatalf("picker k=%d ewma=%v, want 5 and false", p.k, p.ewma)
	}
	_, a, err = ParseConfig(`{"peak_ewma": {"choiceCount": 4, "decay": "2s"}}`)
	if err != nil {
		t.Fatal(err)
	}
	p = a.Build(testEndpoints(10)).(*lrPicker)
	if p.k != 4 || !p.ewma || p.ticksPerDecay != 1.0/2000 {
		t.Fatalf("picker k=%d ewma=%v ticksPerDecay=%v, want 4, true, 1/2000", p.k, p.ewma, p.ticksPerDecay)
	}
}

func testEndpoints(n int) []Endpoint {
	eps := make([]Endpoint, n)
	for i := range eps {
		eps[i] = Endpoint{ID: string(rune('a' + i)), Weight: 1}
	}
	return eps
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		config string
		field  string
		text   string // the whole error text, or a part of it after "..."
		cause  error
	}{
		{`{"least_request": {"choiceCount": 1}}`, "least_request.choiceCount", "elb: least_request.choiceCount: 1 must be 2-10", nil},
		{`{"least_request": {"choiceCount": 0}}`, "least_request.choiceCount", "elb: least_request.choiceCount: 0 must be 2-10", nil},
		{`{"least_request": {"choiceCount": 11}}`, "least_request.choiceCount", "elb: least_request.choiceCount: 11 must be 2-10", nil},
		{`{"least_request": {"choiceCount": -3}}`, "least_request.choiceCount", "elb: least_request.choiceCount: -3 must be 2-10", nil},
		{`{"least_request": {"choiceCnt": 3}}`, "least_request.choiceCnt", "elb: least_request.choiceCnt: unknown field", nil},
		{`{"least_request": {"choiceCount": "3"}}`, "least_request.choiceCount", "...cannot be a int", nil},
		{`{"least_request": {"useLatency": true}}`, "least_request.useLatency", "elb: least_request.useLatency: unknown field", nil},
		{`{"peak_ewma": {"choiceCount": 1}}`, "peak_ewma.choiceCount", "elb: peak_ewma.choiceCount: 1 must be 2-10", nil},
		{`{"peak_ewma": {"decay": "10ms"}}`, "peak_ewma.decay", "elb: peak_ewma.decay: 10ms must be 100ms-10m0s", nil},
		{`{"peak_ewma": {"decay": "0s"}}`, "peak_ewma.decay", "elb: peak_ewma.decay: 0s must be 100ms-10m0s", nil},
		{`{"peak_ewma": {"decay": "1h"}}`, "peak_ewma.decay", "elb: peak_ewma.decay: 1h0m0s must be 100ms-10m0s", nil},
		{`{"peak_ewma": {"decay": 10}}`, "peak_ewma.decay", "...is not a duration", nil},
		{`{"peak_ewma": {"decay": "soon"}}`, "peak_ewma.decay", "...is not a duration", nil},
		{`{"peak_ewma": {"failurePenalty": "2m"}}`, "peak_ewma.failurePenalty", "elb: peak_ewma.failurePenalty: 2m0s must be 1ms-1m0s", nil},
		{`{"peak_ewma": {"failurePenalty": "-1s"}}`, "peak_ewma.failurePenalty", "elb: peak_ewma.failurePenalty: -1s must be 1ms-1m0s", nil},
		{`{"peak_ewma": {"failurePenalty": "1µs"}}`, "peak_ewma.failurePenalty", "elb: peak_ewma.failurePenalty: 1µs must be 1ms-1m0s", nil},
		{`{"peak_ewma": {"Decay": "1s"}}`, "peak_ewma.Decay", "...did you mean \"decay\"", nil},
		{`{"least_request": 3}`, "least_request", "elb: least_request: must be a JSON object of the algorithm's options, such as {}", nil},
		{`{"least_request": []}`, "least_request", "...must be a JSON object", nil},
		{`{"round_robin": {"x": 1}}`, "round_robin.x", "elb: round_robin.x: unknown field", nil},
		{`{"consistent_hash": {"sourceIP": true}}`, "consistent_hash.sourceIP", "elb: consistent_hash.sourceIP: unknown field", nil},
		{`{"no_such": {}}`, "", `...unknown load-balancing algorithm "no_such"`, ErrUnknownAlgorithm},
		{`no_such`, "", `...unknown load-balancing algorithm "no_such"`, ErrUnknownAlgorithm},
		{`"no_such"`, "", `...unknown load-balancing algorithm "no_such"`, ErrUnknownAlgorithm},
		{``, "", "elb: names no algorithm", nil},
		{`  `, "", "elb: names no algorithm", nil},
		{`{}`, "", "...it names 0", nil},
		{`{"round_robin": {}, "random": {}}`, "", "...it names 2", nil},
		{`{"round_robin": {}} x`, "", "elb: has data after its JSON value", nil},
		{`{"round_robin":`, "", "...is not valid JSON", nil},
		{`"round_robin`, "", "...is not valid JSON", nil},
		{`{"least_request": {"choiceCount": 3}, }`, "", "...is not valid JSON", nil},
	} {
		_, a, err := ParseConfig(tc.config)
		var ce *elb.ConfigError
		if a != nil || !errors.As(err, &ce) || !errors.Is(err, elb.ErrInvalidConfig) {
			t.Errorf("ParseConfig(%q) = %v, %v; want an *elb.ConfigError", tc.config, a, err)
			continue
		}
		if ce.Field != tc.field {
			t.Errorf("ParseConfig(%q): Field %q, want %q (%v)", tc.config, ce.Field, tc.field, err)
		}
		if part, ok := strings.CutPrefix(tc.text, "..."); ok {
			if !strings.Contains(err.Error(), part) {
				t.Errorf("ParseConfig(%q): %q does not say %q", tc.config, err, part)
			}
		} else if err.Error() != tc.text {
			t.Errorf("ParseConfig(%q): %q, want %q", tc.config, err, tc.text)
		}
		if tc.cause != nil && !errors.Is(err, tc.cause) {
			t.Errorf("ParseConfig(%q): %v does not wrap %v", tc.config, err, tc.cause)
		}
	}
}

// zoneFirst is a registered algorithm with an option of its own.
type zoneFirst struct {
	Zone string
	RoundRobin
}

func (a zoneFirst) ParseConfig(js json.RawMessage) (Algorithm, error) {
	var o struct {
		Zone string `json:"zone"`
	}
	if err := json.Unmarshal(js, &o); err != nil {
		return nil, err
	}
	if o.Zone == "" {
		return nil, &elb.ConfigError{Field: "zone", Problem: "is required"}
	}
	a.Zone = o.Zone
	return a, nil
}

// zoneFirstNoOptions is a registered algorithm without ConfigParser (not
// embedding a built-in, whose ParseConfig would be promoted).
type zoneFirstNoOptions struct{}

func (zoneFirstNoOptions) Build(eps []Endpoint) Picker { return RoundRobin{}.Build(eps) }

// registerCustom registers the custom algorithms of TestParseConfigCustom
// once per test binary (-count runs the test again).
var registerCustom = sync.OnceValue(func() error {
	if err := Register("test_zone_first", zoneFirst{}); err != nil {
		return err
	}
	return Register("test_plain", zoneFirstNoOptions{})
})

func TestParseConfigCustom(t *testing.T) {
	if err := registerCustom(); err != nil {
		t.Fatal(err)
	}
	_, a, err := ParseConfig(`{"test_zone_first": {"zone": "az1"}}`)
	if err != nil || a != (zoneFirst{Zone: "az1"}) {
		t.Fatalf("custom: %#v, %v", a, err)
	}
	_, _, err = ParseConfig(`{"test_zone_first": {}}`)
	var ce *elb.ConfigError
	if !errors.As(err, &ce) || ce.Field != "test_zone_first.zone" || err.Error() != "elb: test_zone_first.zone: is required" {
		t.Errorf("custom error: %v", err)
	}
	_, _, err = ParseConfig(`{"test_zone_first": {"zone": 1}}`)
	if !errors.As(err, &ce) || ce.Field != "test_zone_first" || !errors.Is(err, elb.ErrInvalidConfig) {
		t.Errorf("custom error that is not a ConfigError: %v", err)
	}
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Errorf("the custom error is not kept as the cause: %v", err)
	}
	if _, a, err := ParseConfig(`{"test_plain": {}}`); err != nil || a != (zoneFirstNoOptions{}) {
		t.Errorf("no options: %v, %v", a, err)
	}
	if _, _, err := ParseConfig(`{"test_plain": {"zone": "x"}}`); !errors.As(err, &ce) || ce.Field != "test_plain.zone" {
		t.Errorf("no options, one given: %v", err)
	}
}

// FuzzParseConfig: any input is an algorithm or an *elb.ConfigError, never
// a panic.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{"least_request", `"random"`, `{"least_request": {"choiceCount": 3}}`, `{"peak_ewma": {"choiceCount": 3, "decay": "5s", "failurePenalty": "100ms"}}`,
		`{"round_robin": null}`, `{"least_request": {"choiceCount": 1}}`, `{}`, `{"a": 1, "b": 2}`, `[]`, `null`, `{"x":`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, a, err := ParseConfig(s)
		if err != nil {
			var ce *elb.ConfigError
			if a != nil || !errors.As(err, &ce) || !errors.Is(err, elb.ErrInvalidConfig) {
				t.Fatalf("%q: %v, %v", s, a, err)
			}
			return
		}
		if reg, gerr := Get(name); gerr != nil || a == nil || (reg == nil) {
			t.Fatalf("%q: %q %v without an error", s, name, a)
		}
	})
}

// TestRegisterRefusesNamesParseConfigCannotSelect: a name that looks like
// JSON or has spaces around it is refused.
func TestRegisterRefusesNamesParseConfigCannotSelect(t *testing.T) {
	for _, name := range []string{"{x}", `"x"`, " x", "x ", "\tx"} {
		if err := Register(name, RoundRobin{}); !errors.Is(err, ErrInvalidRegistration) {
			t.Errorf("Register(%q) = %v, want ErrInvalidRegistration", name, err)
		}
	}
}
