package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"testing"

	"github.com/go-elb/elb/group"
)

func TestParseEntry(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  group.Backend
	}{
		{`{"Op":0,"Addr":"10.0.1.5:8080","Metadata":null}`, group.Backend{Addr: "10.0.1.5:8080"}},
		{`{"Addr":"10.0.1.5:8080"}`, group.Backend{Addr: "10.0.1.5:8080"}},
		{`{"addr":"10.0.1.5:8080","unknown":1}`, group.Backend{Addr: "10.0.1.5:8080"}}, // as etcd's reader reads it
		{`{"Addr":"[::1]:1","Metadata":{"weight":0,"zone":"az1"}}`, group.Backend{Addr: "[::1]:1", Weight: group.Weight(0), Zone: "az1"}},
		{`{"Addr":"db.internal:5432","Metadata":{"weight":100,"zone":"","v":"2","n":1.5,"b":true,"o":{"a": [1, 2]},"nil":null}}`,
			group.Backend{Addr: "db.internal:5432", Weight: group.Weight(100), Metadata: map[string]string{"v": "2", "n": "1.5", "b": "true", "o": `{"a":[1,2]}`, "nil": "null"}}},
		{`{"Addr":"h:1","Metadata":{"Weight":"x"}}`, group.Backend{Addr: "h:1", Metadata: map[string]string{"Weight": "x"}}}, // keys are exact
	} {
		tc.want.ID = "id"
		got, err := parseEntry("p/id", "id", []byte(tc.value))
		if err != nil || !same(got, tc.want) {
			t.Errorf("%s: %+v, %v; want %+v", tc.value, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ id, value, want string }{
		{"", `{"Addr":"h:1"}`, `elb: discovery/etcd: key "p/": has no backend ID after the prefix and its "/"`},
		{"id", ``, `elb: discovery/etcd: key "p/id": is not endpoint JSON ({"Addr": "host:port", "Metadata": {...}}): unexpected end of JSON input`},
		{"id", `[1]`, `elb: discovery/etcd: key "p/id": is not endpoint JSON ({"Addr": "host:port", "Metadata": {...}}): json: cannot unmarshal array into Go value of type etcd.wireEndpoint`},
		{"id", `{"Op":1,"Addr":"h:1"}`, `elb: discovery/etcd: key "p/id": Op: 1 must be 0 (endpoints.Add)`},
		{"id", `{"Op":256,"Addr":"h:1"}`, `elb: discovery/etcd: key "p/id": is not endpoint JSON ({"Addr": "host:port", "Metadata": {...}}): json: cannot unmarshal number 256 into Go struct field wireEndpoint.Op of type uint8`},
		{"id", `{}`, `elb: discovery/etcd: key "p/id": Addr: is required`},
		{"id", `{"Addr":"h"}`, `elb: discovery/etcd: key "p/id": Addr: "h" is not host:port`},
		{"id", `{"Addr":"h:0"}`, `elb: discovery/etcd: key "p/id": Addr: "h:0" has port "0", want 1-65535 without leading zeros`},
		{"id", `{"Addr":"h:1","Metadata":"x"}`, `elb: discovery/etcd: key "p/id": Metadata: "\"x\"" must be a JSON object or null`},
		{"id", `{"Addr":"h:1","Metadata":{"weight":101}}`, `elb: discovery/etcd: key "p/id": Metadata.weight: "101" must be a JSON integer 0-100`},
		{"id", `{"Addr":"h:1","Metadata":{"weight":-1}}`, `elb: discovery/etcd: key "p/id": Metadata.weight: "-1" must be a JSON integer 0-100`},
		{"id", `{"Addr":"h:1","Metadata":{"weight":5.5}}`, `elb: discovery/etcd: key "p/id": Metadata.weight: "5.5" must be a JSON integer 0-100`},
		{"id", `{"Addr":"h:1","Metadata":{"weight":"5"}}`, `elb: discovery/etcd: key "p/id": Metadata.weight: "\"5\"" must be a JSON integer 0-100`},
		{"id", `{"Addr":"h:1","Metadata":{"weight":null}}`, `elb: discovery/etcd: key "p/id": Metadata.weight: "null" must be a JSON integer 0-100`},
		{"id", `{"Addr":"h:1","Metadata":{"zone":["az1"]}}`, `elb: discovery/etcd: key "p/id": Metadata.zone: "[\"az1\"]" must be a JSON string`},
	} {
		_, err := parseEntry("p/"+tc.id, tc.id, []byte(tc.value))
		var ee *EntryError
		if !errors.As(err, &ee) || !errors.Is(err, ErrInvalidEntry) || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.value, err, tc.want)
		}
	}
}

// What Register writes reads back as the same backend.
func TestEndpointRoundTrip(t *testing.T) {
	for _, b := range []group.Backend{
		{ID: "a", Addr: "10.0.0.1:80"},
		{ID: "b", Addr: "10.0.0.1:81", Weight: group.Weight(0)},
		{ID: "c", Addr: "[2001:db8::1]:443", Weight: group.Weight(100), Zone: "az1", Metadata: map[string]string{"v": "2", "x": `{"a":1}`}},
	} {
		js, err := json.Marshal(map[string]any{"Op": 0, "Addr": endpoint(b).Addr, "Metadata": endpoint(b).Metadata})
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseEntry("p/"+b.ID, b.ID, js)
		if err != nil || !same(got, b) {
			t.Errorf("%s: %+v, %v; want %+v", js, got, err, b)
		}
	}
}

// FuzzParseEntry: any value either is refused with an *EntryError, or
// gives a backend that a group accepts and that Register writes back to
// the same backend.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{
		`{"Op":0,"Addr":"10.0.1.5:8080","Metadata":{"weight":5,"zone":"az1","version":"v2"}}`,
		`{"Addr":"[fe80::1%eth0]:1","Metadata":null}`,
		`{"addr":"h:1","metadata":{"weight":0,"o":{"a":[1,"x"]}}}`,
		`{"Addr":"h:1","Metadata":{"weight":1e2}}`,
		`{"Addr":"h:1","Metadata":{"zone":"\u00e9"}}`,
		`{"Addr":"h:1","Metadata":"x"}`,
		`{"Addr":" h:1"}`, `{"Op":1}`, `[]`, `null`, ``, `{`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		b, err := parseEntry("p/id", "id", []byte(value))
		if err != nil {
			var ee *EntryError
			if !errors.As(err, &ee) || !errors.Is(err, ErrInvalidEntry) || ee.Key != "p/id" {
				t.Fatalf("%q: %v is not an *EntryError", value, err)
			}
			return
		}
		g, err := group.New(group.Config{Name: "fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close(context.Background())
		if err := g.Add(b); err != nil {
			t.Fatalf("%q: parsed %+v, which the group refuses: %v", value, b, err)
		}
		ep := endpoint(b)
		js, err := json.Marshal(map[string]any{"Op": 0, "Addr": ep.Addr, "Metadata": ep.Metadata})
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseEntry("p/id", "id", js)
		if err != nil || !same(again, b) || !maps.Equal(again.Metadata, b.Metadata) {
			t.Fatalf("%q: %+v written as %s reads back as %+v, %v", value, b, js, again, err)
		}
	})
}
