package loadreport

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/go-elb/elb/balancer"
)

// Header is the response header that carries a server's load report, in
// one of three encodings, as Envoy reads it:
//
//	Endpoint-Load-Metrics: TEXT cpu_utilization=0.3, mem_utilization=0.8, rps_fractional=10, named_metrics.foo=123
//	Endpoint-Load-Metrics: JSON {"cpuUtilization": 0.3, "rpsFractional": 10}
//	Endpoint-Load-Metrics: BIN <base64 of a serialized xds.data.orca.v3.OrcaLoadReport>
const Header = "Endpoint-Load-Metrics"

// HeaderBin is the header that carries a report as base64 of the
// serialized OrcaLoadReport alone, with no encoding prefix: the HTTP form
// of gRPC's endpoint-load-metrics-bin trailer.
const HeaderBin = "Endpoint-Load-Metrics-Bin"

// MaxHeaderLen is the longest header value [Parse] reads, in bytes: a
// report of every field with a few named metrics takes a few hundred.
const MaxHeaderLen = 4096

// MaxNamedMetrics is the largest number of named metrics (named_metrics,
// utilization and request_cost entries together) a report may carry.
const MaxNamedMetrics = 64

// ErrMalformed is the error, usable with [errors.Is], of a header value
// that is not a well-formed report within the limits: too long, of an
// unknown encoding, with a value that is not a number from 0 to
// balancer.MaxServerLoadValue, an unknown or repeated field, or more than
// MaxNamedMetrics named metrics.
var ErrMalformed = errors.New("malformed load report")

// Encoding is how a report is written in the [Header]. The zero value is
// Text.
type Encoding int

// The encodings of the Header.
const (
	// Text is "TEXT key=value, ...", with ORCA's field names.
	Text Encoding = iota
	// JSON is "JSON {...}", OrcaLoadReport in proto3 JSON.
	JSON
	// Binary is "BIN base64", the serialized OrcaLoadReport.
	Binary
)

// String returns the encoding's prefix in the header: TEXT, JSON or BIN.
func (e Encoding) String() string {
	switch e {
	case Text:
		return "TEXT"
	case JSON:
		return "JSON"
	case Binary:
		return "BIN"
	}
	return "Encoding(" + strconv.Itoa(int(e)) + ")"
}

// Report is a report as the server writes it: the load and, optionally,
// named metrics (ORCA's named_metrics), such as "in_flight".
type Report struct {
	balancer.ServerLoad
	// Named are named metrics, sent in order; nil means none. Names must
	// be non-empty, without white space, '=', ',' or '"'.
	Named []Metric
}

// Metric is a named metric.
type Metric struct {
	Name  string
	Value float64
}

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Parse reads a [Header] value in any of its encodings and returns the
// report's load; named metrics are checked and dropped. Received is left
// zero. A value that is not a well-formed report returns an error
// wrapping ErrMalformed, and no load. Parse allocates nothing for the
// Text and Binary encodings of a valid report.
func Parse(v string) (balancer.ServerLoad, error) {
	if len(v) > MaxHeaderLen {
		return balancer.ServerLoad{}, malformed("%d bytes, more than %d", len(v), MaxHeaderLen)
	}
	v = strings.TrimSpace(v)
	enc, rest, _ := strings.Cut(v, " ")
	rest = strings.TrimSpace(rest)
	var (
		r   balancer.ServerLoad
		err error
	)
	switch enc {
	case "TEXT":
		r, err = parseText(rest)
	case "JSON":
		r, err = parseJSON(rest)
	case "BIN":
		r, err = ParseBin(rest)
	default:
		return r, malformed("unknown encoding %.16q: want TEXT, JSON or BIN", enc)
	}
	if err != nil {
		return balancer.ServerLoad{}, err
	}
	return r, nil
}

// check returns an error unless v is a number a report may carry.
func check(name string, v float64) error {
	if !(v >= 0 && v <= balancer.MaxServerLoadValue) {
		return malformed("%.64s: %v is not a number from 0 to %g", name, v, balancer.MaxServerLoadValue)
	}
	return nil
}

// fields are a report's five numbers by ORCA field number order of
// ServerLoad: the index set records which are present.
const (
	fCPU = iota
	fApp
	fMem
	fQPS
	fEPS
	nFields
)

// reportOf returns the load of the five values.
func reportOf(v *[nFields]float64) balancer.ServerLoad {
	return balancer.ServerLoad{CPUUtilization: v[fCPU], ApplicationUtilization: v[fApp], MemUtilization: v[fMem], QPS: v[fQPS], EPS: v[fEPS]}
}

// textField returns the field index of a Text key, -1 for a named one, or
// -2 for an unknown one.
func textField(key string) int {
	switch key {
	case "cpu_utilization":
		return fCPU
	case "application_utilization":
		return fApp
	case "mem_utilization":
		return fMem
	case "rps_fractional":
		return fQPS
	case "eps":
		return fEPS
	}
	for _, p := range [...]string{"named_metrics.", "utilization.", "request_cost."} {
		if name, ok := strings.CutPrefix(key, p); ok && name != "" {
			return -1
		}
	}
	return -2
}

func parseText(s string) (balancer.ServerLoad, error) {
	var v [nFields]float64
	var seen [nFields]bool
	named := 0
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, ",")
		key, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return balancer.ServerLoad{}, malformed("TEXT: %.64q is not key=value", kv)
		}
		key = strings.TrimSpace(key)
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return balancer.ServerLoad{}, malformed("TEXT: %.64s: %.32q is not a number", key, val)
		}
		if err := check(key, f); err != nil {
			return balancer.ServerLoad{}, err
		}
		switch i := textField(key); i {
		case -2:
			return balancer.ServerLoad{}, malformed("TEXT: unknown field %.64q", key)
		case -1:
			if named++; named > MaxNamedMetrics {
				return balancer.ServerLoad{}, malformed("more than %d named metrics", MaxNamedMetrics)
			}
		default:
			if seen[i] {
				return balancer.ServerLoad{}, malformed("TEXT: %s repeated", key)
			}
			seen[i], v[i] = true, f
		}
	}
	return reportOf(&v), nil
}

// jsonReport is OrcaLoadReport in proto3 JSON: its lowerCamelCase names,
// and the original ones, as protojson accepts both. Numbers only
// (protojson also takes strings such as "NaN", which a report must not
// carry).
type jsonReport struct {
	CPU       *float64           `json:"cpuUtilization"`
	CPU2      *float64           `json:"cpu_utilization"`
	App       *float64           `json:"applicationUtilization"`
	App2      *float64           `json:"application_utilization"`
	Mem       *float64           `json:"memUtilization"`
	Mem2      *float64           `json:"mem_utilization"`
	QPS       *float64           `json:"rpsFractional"`
	QPS2      *float64           `json:"rps_fractional"`
	EPS       *float64           `json:"eps"`
	Named     map[string]float64 `json:"namedMetrics"`
	Named2    map[string]float64 `json:"named_metrics"`
	Util      map[string]float64 `json:"utilization"`
	Cost      map[string]float64 `json:"requestCost"`
	Cost2     map[string]float64 `json:"request_cost"`
	RPSLegacy *json.Number       `json:"rps"`
}

func parseJSON(s string) (balancer.ServerLoad, error) {
	var j jsonReport
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return balancer.ServerLoad{}, malformed("JSON: %v", err)
	}
	if dec.More() {
		return balancer.ServerLoad{}, malformed("JSON: data after the object")
	}
	var v [nFields]float64
	for i, f := range [nFields][2]*float64{{j.CPU, j.CPU2}, {j.App, j.App2}, {j.Mem, j.Mem2}, {j.QPS, j.QPS2}, {j.EPS}} {
		if f[0] != nil && f[1] != nil {
			return balancer.ServerLoad{}, malformed("JSON: a field given under both its names")
		}
		for _, p := range f {
			if p != nil {
				v[i] = *p
			}
		}
	}
	for i, x := range v {
		if err := check(jsonNames[i], x); err != nil {
			return balancer.ServerLoad{}, err
		}
	}
	named := 0
	for _, m := range []map[string]float64{j.Named, j.Named2, j.Util, j.Cost, j.Cost2} {
		for k, x := range m {
			if named++; named > MaxNamedMetrics {
				return balancer.ServerLoad{}, malformed("more than %d named metrics", MaxNamedMetrics)
			}
			if err := check(k, x); err != nil {
				return balancer.ServerLoad{}, err
			}
		}
	}
	return reportOf(&v), nil
}

// jsonNames are the fields' proto3 JSON names.
var jsonNames = [nFields]string{"cpuUtilization", "applicationUtilization", "memUtilization", "rpsFractional", "eps"}

// OrcaLoadReport's field numbers.
const (
	pbCPU         = 1
	pbMem         = 2
	pbRPS         = 3 // deprecated uint64 rps
	pbRequestCost = 4
	pbUtilization = 5
	pbQPS         = 6
	pbEPS         = 7
	pbNamed       = 8
	pbApp         = 9
)

// pbField maps a double field's number to its index, -1 if none.
func pbField(num protowire.Number) int {
	switch num {
	case pbCPU:
		return fCPU
	case pbMem:
		return fMem
	case pbQPS:
		return fQPS
	case pbEPS:
		return fEPS
	case pbApp:
		return fApp
	}
	return -1
}

// ParseBin reads base64 (standard, padded or not) of a serialized
// xds.data.orca.v3.OrcaLoadReport: a [HeaderBin] value, or a Header's
// after "BIN ". Its errors wrap ErrMalformed. It allocates nothing for a
// valid report.
func ParseBin(s string) (balancer.ServerLoad, error) {
	if len(s) > MaxHeaderLen {
		return balancer.ServerLoad{}, malformed("%d bytes, more than %d", len(s), MaxHeaderLen)
	}
	var src [MaxHeaderLen]byte
	var dst [MaxHeaderLen / 4 * 3]byte
	in := src[:copy(src[:], strings.TrimRight(s, "="))]
	n, err := base64.RawStdEncoding.Decode(dst[:], in)
	if err != nil {
		return balancer.ServerLoad{}, malformed("BIN: not base64")
	}
	return ParseProto(dst[:n])
}

// ParseProto reads a serialized xds.data.orca.v3.OrcaLoadReport, as in
// gRPC's endpoint-load-metrics-bin trailer. Unknown fields are skipped, as
// protobuf does; a known field of the wrong wire type, a value out of
// range, more than MaxNamedMetrics map entries and truncated data are
// errors wrapping ErrMalformed. rps (deprecated) is read only in the
// absence of rps_fractional. It allocates nothing.
func ParseProto(b []byte) (balancer.ServerLoad, error) {
	var v [nFields]float64
	var rps uint64
	named := 0
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return balancer.ServerLoad{}, malformed("BIN: bad tag")
		}
		b = b[n:]
		switch i := pbField(num); {
		case i >= 0:
			if typ != protowire.Fixed64Type {
				return balancer.ServerLoad{}, malformed("BIN: field %d is not a double", num)
			}
			x, n := protowire.ConsumeFixed64(b)
			if n < 0 {
				return balancer.ServerLoad{}, malformed("BIN: field %d truncated", num)
			}
			v[i] = math.Float64frombits(x)
			if err := check(jsonNames[i], v[i]); err != nil {
				return balancer.ServerLoad{}, err
			}
			b = b[n:]
		case num == pbRPS:
			if typ != protowire.VarintType {
				return balancer.ServerLoad{}, malformed("BIN: field rps is not a varint")
			}
			x, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return balancer.ServerLoad{}, malformed("BIN: rps truncated")
			}
			rps, b = x, b[n:]
		case num == pbRequestCost || num == pbUtilization || num == pbNamed:
			if typ != protowire.BytesType {
				return balancer.ServerLoad{}, malformed("BIN: field %d is not a map", num)
			}
			e, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return balancer.ServerLoad{}, malformed("BIN: field %d truncated", num)
			}
			if named++; named > MaxNamedMetrics {
				return balancer.ServerLoad{}, malformed("more than %d named metrics", MaxNamedMetrics)
			}
			if err := checkEntry(e); err != nil {
				return balancer.ServerLoad{}, err
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return balancer.ServerLoad{}, malformed("BIN: field %d truncated", num)
			}
			b = b[n:]
		}
	}
	if v[fQPS] == 0 && rps > 0 {
		v[fQPS] = float64(rps)
		if err := check("rps", v[fQPS]); err != nil {
			return balancer.ServerLoad{}, err
		}
	}
	return reportOf(&v), nil
}

// checkEntry checks a map<string, double> entry: key 1, value 2.
func checkEntry(e []byte) error {
	for len(e) > 0 {
		num, typ, n := protowire.ConsumeTag(e)
		if n < 0 {
			return malformed("BIN: bad map entry")
		}
		e = e[n:]
		switch {
		case num == 2 && typ == protowire.Fixed64Type:
			x, n := protowire.ConsumeFixed64(e)
			if n < 0 {
				return malformed("BIN: map entry truncated")
			}
			if err := check("named metric", math.Float64frombits(x)); err != nil {
				return err
			}
			e = e[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, e)
			if n < 0 {
				return malformed("BIN: map entry truncated")
			}
			e = e[n:]
		}
	}
	return nil
}

// AppendHeader appends r in encoding enc, as a [Header] value, to dst.
// Zero values are left out (they are proto3's defaults); named metrics
// follow the fields, in order. Values are not checked: a server
// reports what it measures.
func AppendHeader(dst []byte, r Report, enc Encoding) []byte {
	v := [nFields]float64{r.CPUUtilization, r.ApplicationUtilization, r.MemUtilization, r.QPS, r.EPS}
	switch enc {
	case JSON:
		dst = append(dst, "JSON {"...)
		first := true
		sep := func() {
			if !first {
				dst = append(dst, ',')
			}
			first = false
		}
		for i, x := range v {
			if x != 0 {
				sep()
				dst = strconv.AppendQuote(dst, jsonNames[i])
				dst = append(dst, ':')
				dst = appendJSONFloat(dst, x)
			}
		}
		if len(r.Named) > 0 {
			sep()
			dst = append(dst, `"namedMetrics":{`...)
			for k, m := range r.Named {
				if k > 0 {
					dst = append(dst, ',')
				}
				dst = strconv.AppendQuote(dst, m.Name)
				dst = append(dst, ':')
				dst = appendJSONFloat(dst, m.Value)
			}
			dst = append(dst, '}')
		}
		return append(dst, '}')
	case Binary:
		dst = append(dst, "BIN "...)
		pb := appendProto(nil, r)
		return base64.StdEncoding.AppendEncode(dst, pb)
	}
	dst = append(dst, "TEXT "...)
	first := true
	for i, x := range v {
		if x != 0 {
			if !first {
				dst = append(dst, ", "...)
			}
			first = false
			dst = append(dst, textNames[i]...)
			dst = append(dst, '=')
			dst = strconv.AppendFloat(dst, x, 'g', -1, 64)
		}
	}
	for _, m := range r.Named {
		if !first {
			dst = append(dst, ", "...)
		}
		first = false
		dst = append(dst, "named_metrics."...)
		dst = append(dst, m.Name...)
		dst = append(dst, '=')
		dst = strconv.AppendFloat(dst, m.Value, 'g', -1, 64)
	}
	return dst
}

// appendJSONFloat appends x as a JSON number (NaN and infinities, which
// JSON has no number for, as 0).
func appendJSONFloat(dst []byte, x float64) []byte {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		x = 0
	}
	return strconv.AppendFloat(dst, x, 'g', -1, 64)
}

// textNames are the fields' Text (and proto) names.
var textNames = [nFields]string{"cpu_utilization", "application_utilization", "mem_utilization", "rps_fractional", "eps"}

// appendProto appends r serialized as an xds.data.orca.v3.OrcaLoadReport
// to dst: the form of gRPC's endpoint-load-metrics-bin trailer.
func appendProto(dst []byte, r Report) []byte {
	for _, f := range [...]struct {
		num protowire.Number
		v   float64
	}{{pbCPU, r.CPUUtilization}, {pbMem, r.MemUtilization}, {pbQPS, r.QPS}, {pbEPS, r.EPS}, {pbApp, r.ApplicationUtilization}} {
		if f.v != 0 {
			dst = protowire.AppendTag(dst, f.num, protowire.Fixed64Type)
			dst = protowire.AppendFixed64(dst, math.Float64bits(f.v))
		}
	}
	for _, m := range r.Named {
		// The entry: key (1, string) and value (2, double).
		dst = protowire.AppendTag(dst, pbNamed, protowire.BytesType)
		dst = protowire.AppendVarint(dst, uint64(1+protowire.SizeBytes(len(m.Name))+1+8))
		dst = protowire.AppendTag(dst, 1, protowire.BytesType)
		dst = protowire.AppendString(dst, m.Name)
		dst = protowire.AppendTag(dst, 2, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, math.Float64bits(m.Value))
	}
	return dst
}
