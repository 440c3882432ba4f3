package cfgerr

import (
	"errors"
	"testing"

	"github.com/go-elb/elb"
)

func TestNestCopies(t *testing.T) {
	shared := New("Port", 70000, "must be 1-65535")
	err := Nest("Health", Nest("Probe", shared))
	var ce *elb.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Health.Probe.Port" || err.Error() != "elb: Health.Probe.Port: 70000 must be 1-65535" {
		t.Fatalf("nested: %v", err)
	}
	if shared.Field != "Port" {
		t.Fatalf("Nest modified the error it was given: %q", shared.Field)
	}
	if Nest("x", nil) != nil {
		t.Fatal("Nest(nil) is not nil")
	}
	plain := errors.New("boom")
	err = Nest("Algorithm", plain)
	if !errors.As(err, &ce) || ce.Field != "Algorithm" || !errors.Is(err, plain) || !errors.Is(err, elb.ErrInvalidConfig) {
		t.Fatalf("plain error: %v", err)
	}
	for _, tc := range [][3]string{{"", "a", "a"}, {"a", "", "a"}, {"a", "b", "a.b"}, {"backends", "[2].weight", "backends[2].weight"}} {
		if got := Join(tc[0], tc[1]); got != tc[2] {
			t.Errorf("Join(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
}

type Inner struct {
	Interval int `json:"interval"`
}

type doc struct {
	Inner         // embedded: its fields are the document's
	Health  Inner `json:"health"`
	List    []Inner
	Ptr     *Inner            `json:"ptr"`
	Free    map[string]any    `json:"free"`
	Skipped string            `json:"-"`
	Nested  map[string]*Inner `json:"nested"`
}

func TestDecodeJSONPaths(t *testing.T) {
	for js, want := range map[string]string{
		`{"x": 1}`:                            "elb: x: unknown field",
		`{"health": {"intervl": 1}}`:          "elb: health.intervl: unknown field",
		`{"ptr": {"a": {"b": 1}}}`:            "elb: ptr.a: unknown field",
		`{"List": [{}, {"y": 1}]}`:            "elb: List[1].y: unknown field",
		`{"list": [{"interval": 1, "z": 1}]}`: "elb: list[0].z: unknown field",
		`{"nested": {"k": {"x": 1}}}`:         "elb: nested.k.x: unknown field",
		`{"Skipped": "x"}`:                    "elb: Skipped: unknown field",
		`{"interval": "x"}`:                   "elb: interval: a JSON string cannot be a int",
		`{"health": {"interval": "x"}}`:       "elb: health.interval: a JSON string cannot be a int",
		`{"health": 3}`:                       "elb: health: must be a JSON object, not a JSON number",
		`[]`:                                  "elb: must be a JSON object, not a JSON array",
		`{} {}`:                               "elb: has data after its JSON value",
		`{`:                                   "elb: is not valid JSON: unexpected EOF",
		`{"health": {"interval": 1,}}`:        "elb: is not valid JSON: invalid character '}' looking for beginning of object key string",
	} {
		var d doc
		err := DecodeJSON([]byte(js), &d)
		var ce *elb.ConfigError
		if !errors.As(err, &ce) || !errors.Is(err, elb.ErrInvalidConfig) || err.Error() != want {
			t.Errorf("%s: %v, want %q", js, err, want)
		}
	}
	// Members of a map or an any are free.
	var d doc
	if err := DecodeJSON([]byte(`{"free": {"a": {"b": 1}}, "health": {"interval": 2}, "nested": {"k": {"interval": 1}}}`), &d); err != nil {
		t.Fatal(err)
	}
	if d.Health.Interval != 2 || d.Nested["k"].Interval != 1 {
		t.Fatalf("decoded %+v", d)
	}
	// Names are exact: encoding/json would take a name that differs in
	// case only, at any depth.
	for js, want := range map[string]string{
		`{"HEALTH": {"interval": 2}}`:                            `elb: HEALTH: unknown field (names are exact: did you mean "health"?)`,
		`{"health": {"Interval": 2}}`:                            `elb: health.Interval: unknown field (names are exact: did you mean "interval"?)`,
		`{"nested": {"k": {"INTERVAL": 1}}}`:                     `elb: nested.k.INTERVAL: unknown field (names are exact: did you mean "interval"?)`,
		`{"health": {"interval": 1}, "List": [{"Interval": 1}]}`: `elb: List[0].Interval: unknown field (names are exact: did you mean "interval"?)`,
	} {
		var d doc
		if err := DecodeJSON([]byte(js), &d); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", js, err, want)
		}
	}
}

// TestDecodeJSONFirstUnknownInDocumentOrder: of several unknown members
// of one name, the path is that of the one encoding/json stopped at.
func TestDecodeJSONFirstUnknownInDocumentOrder(t *testing.T) {
	for js, want := range map[string]string{
		`{"ptr": {"x": 1}, "health": {"x": 1}}`:                 "elb: ptr.x: unknown field",
		`{"health": {"x": 1}, "ptr": {"x": 1}}`:                 "elb: health.x: unknown field",
		`{"nested": {"b": {"x": 1}, "a": {"x": 1}}}`:            "elb: nested.b.x: unknown field",
		`{"List": [{"interval": 1}, {"x": 1}], "x": 1}`:         "elb: List[1].x: unknown field",
		`{"free": {"x": 1}, "health": {"interval": 1}, "x": 2}`: "elb: x: unknown field",
	} {
		var d doc
		if err := DecodeJSON([]byte(js), &d); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", js, err, want)
		}
	}
}
