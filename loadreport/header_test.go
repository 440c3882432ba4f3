package loadreport

import (
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/go-elb/elb/balancer"
)

var sampleReport = Report{
	ServerLoad: balancer.ServerLoad{CPUUtilization: 0.3, ApplicationUtilization: 0.45, MemUtilization: 0.8, QPS: 10.5, EPS: 0.25},
	Named:      []Metric{{"foo", 123}, {"in_flight", 3}},
}

func TestRoundTrip(t *testing.T) {
	for _, r := range []Report{sampleReport, {}, {ServerLoad: balancer.ServerLoad{QPS: 1e-9, CPUUtilization: 1e11}}} {
		for _, enc := range []Encoding{Text, JSON, Binary} {
			h := string(AppendHeader(nil, r, enc))
			if !strings.HasPrefix(h, enc.String()+" ") {
				t.Errorf("%v header %q lacks its prefix", enc, h)
			}
			got, err := Parse(h)
			if err != nil || got != r.ServerLoad {
				t.Errorf("Parse(%q) = %+v, %v; want %+v", h, got, err, r.ServerLoad)
			}
		}
		bin := base64.StdEncoding.EncodeToString(appendProto(nil, r))
		if got, err := ParseBin(bin); err != nil || got != r.ServerLoad {
			t.Errorf("ParseBin(%q) = %+v, %v", bin, got, err)
		}
	}
}

// Envoy's examples, and the forms other servers write.
func TestParseForms(t *testing.T) {
	want := balancer.ServerLoad{CPUUtilization: 0.3, MemUtilization: 0.8, QPS: 10}
	for _, h := range []string{
		"TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10, named_metrics.foo=123",
		"TEXT cpu_utilization=0.3,mem_utilization=0.8,rps_fractional=10",
		"  TEXT  cpu_utilization = 0.3 , mem_utilization=0.8, rps_fractional=1e1, utilization.disk=0.5, request_cost.db=3 ",
		`JSON {"cpuUtilization": 0.3, "memUtilization": 0.8, "rpsFractional": 10, "namedMetrics": {"foo": 123}}`,
		`JSON {"cpu_utilization": 0.3, "mem_utilization": 0.8, "rps_fractional": 10, "utilization": {"x": 0.1}, "rps": 7}`,
		// cpu 0.3 (fixed64 field 1), mem 0.8 (2), rps_fractional 10 (6),
		// named_metrics {foo: 123} (8), an unknown varint field 20.
		"BIN " + base64.StdEncoding.EncodeToString(appendProto(nil, Report{ServerLoad: want, Named: []Metric{{"foo", 123}}})) + "",
		"BIN " + base64.RawStdEncoding.EncodeToString(append(appendProto(nil, Report{ServerLoad: want}), 0xa0, 0x01, 0x05)),
	} {
		got, err := Parse(h)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", h, got, err, want)
		}
	}
	// The deprecated integer rps stands in for rps_fractional.
	if got, err := ParseProto([]byte{0x18, 0x07}); err != nil || got.QPS != 7 {
		t.Errorf("rps 7: %+v, %v", got, err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, h := range []string{
		"", "text cpu_utilization=1", "XML <a/>",
		"TEXT cpu_utilization=NaN", "TEXT cpu_utilization=-0.1", "TEXT cpu_utilization=+Inf",
		"TEXT cpu_utilization=1e13", "TEXT rps_fractional=0x10p", "TEXT eps", "TEXT bogus=1",
		"TEXT cpu_utilization=1, cpu_utilization=2", "TEXT named_metrics.=1", "TEXT named_metrics.a=-1",
		"TEXT " + strings.Repeat("named_metrics.a=1,", MaxNamedMetrics+1),
		"TEXT cpu_utilization=" + strings.Repeat("1", MaxHeaderLen),
		`JSON {"cpuUtilization": -1}`, `JSON {"cpuUtilization": "NaN"}`, `JSON {"cpuUtilization": 1e400}`,
		`JSON {"cpuUtilization": 1, "cpu_utilization": 1}`, `JSON {"bogus": 1}`, `JSON {} {}`, `JSON [`,
		`JSON {"namedMetrics": {"a": -1}}`,
		"BIN !!!!", "BIN " + base64.StdEncoding.EncodeToString([]byte{0x09, 1, 2}), // truncated double
		"BIN " + base64.StdEncoding.EncodeToString([]byte{0x08, 1}), // cpu as a varint
		"BIN " + base64.StdEncoding.EncodeToString(appendProto(nil, Report{ServerLoad: balancer.ServerLoad{EPS: math.NaN()}})),
		"BIN " + base64.StdEncoding.EncodeToString(appendProto(nil, Report{Named: []Metric{{"a", math.Inf(1)}}})),
	} {
		got, err := Parse(h)
		if !errors.Is(err, ErrMalformed) || got != (balancer.ServerLoad{}) {
			t.Errorf("Parse(%.80q) = %+v, %v; want an error wrapping ErrMalformed", h, got, err)
		}
	}
	for _, h := range []string{"TEXT", "TEXT ", "JSON {}", "BIN "} {
		if got, err := Parse(h); err != nil || got != (balancer.ServerLoad{}) {
			t.Errorf("Parse(%q) = %+v, %v: want an empty report", h, got, err)
		}
	}
}

func TestParseAllocs(t *testing.T) {
	for _, enc := range []Encoding{Text, Binary} {
		h := string(AppendHeader(nil, sampleReport, enc))
		if n := testing.AllocsPerRun(100, func() { _, _ = Parse(h) }); n != 0 {
			t.Errorf("Parse(%q) allocates %v times", h, n)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, enc := range []Encoding{Text, JSON, Binary} {
		f.Add(string(AppendHeader(nil, sampleReport, enc)))
	}
	f.Add("TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10, named_metrics.foo=123")
	f.Add(`JSON {"cpuUtilization": 0.3}`)
	f.Add("BIN CQAAAAAAAPA/")
	f.Fuzz(func(t *testing.T, h string) {
		r, err := Parse(h)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || r != (balancer.ServerLoad{}) {
				t.Fatalf("Parse(%q) = %+v, %v", h, r, err)
			}
			return
		}
		if !r.Valid() {
			t.Fatalf("Parse(%q) = %+v: not a valid report", h, r)
		}
		// What parses writes back and parses to the same load.
		for _, enc := range []Encoding{Text, JSON, Binary} {
			if got, err := Parse(string(AppendHeader(nil, Report{ServerLoad: r}, enc))); err != nil || got != r {
				t.Fatalf("%v round trip of %+v: %+v, %v", enc, r, got, err)
			}
		}
	})
}
