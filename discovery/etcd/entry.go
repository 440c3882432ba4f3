package etcd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.etcd.io/etcd/client/v3/naming/endpoints"

	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/internal/hostport"
)

// The metadata keys the source maps onto group.Backend fields. Register
// writes them; every other metadata key is Backend.Metadata.
const (
	// MetadataWeight is the endpoint metadata key of the backend's
	// weight: a JSON integer 0-100 (group.Backend.Weight; absent means
	// group.DefaultWeight, 1).
	MetadataWeight = "weight"
	// MetadataZone is the endpoint metadata key of the backend's zone: a
	// JSON string (group.Backend.Zone; absent or "" means none).
	MetadataZone = "zone"
)

// ErrInvalidEntry is the error, usable with [errors.Is], of a key under
// the prefix whose value is not a backend: not endpoint JSON, no valid
// Addr, a bad weight or zone. The error is an [*EntryError] naming the key,
// the field and the value; the source skips the entry.
var ErrInvalidEntry = errors.New("invalid endpoint entry")

// EntryError reports a key under the prefix that the source skips: its
// value is not a backend (Err is ErrInvalidEntry), or its address is
// already the address of another key's backend (Err is
// group.ErrDuplicateAddress).
type EntryError struct {
	// Key is the etcd key, such as "services/orders/a".
	Key string
	// Field is the offending part of the value: "Addr", "Metadata",
	// "Metadata.weight", "Metadata.zone"; "" for the value as a whole or
	// the key.
	Field string
	// Value is the offending value (a JSON value as its text); nil when
	// there is none to show, such as a missing Addr.
	Value any
	// Problem says what is wrong.
	Problem string
	// Err is ErrInvalidEntry or group.ErrDuplicateAddress.
	Err error
}

// Error reads `elb: discovery/etcd: key "K": FIELD: VALUE PROBLEM`,
// leaving out the parts that are empty.
func (e *EntryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "elb: discovery/etcd: key %q: ", e.Key)
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	if e.Value != nil {
		if s, ok := e.Value.(string); ok {
			fmt.Fprintf(&b, "%q ", s)
		} else {
			fmt.Fprintf(&b, "%v ", e.Value)
		}
	}
	b.WriteString(e.Problem)
	if e.Err != nil && !errors.Is(e.Err, ErrInvalidEntry) {
		b.WriteString(" (")
		b.WriteString(e.Err.Error())
		b.WriteByte(')')
	}
	return b.String()
}

// Unwrap returns Err.
func (e *EntryError) Unwrap() error { return e.Err }

// wireEndpoint is the value endpoints.Manager writes: the JSON of its
// internal Update, {"Op": 0, "Addr": "host:port", "Metadata": ...}. It
// is read as etcd's own reader reads it, with encoding/json: member names
// in any case, unknown members ignored, a repeated member's last value.
type wireEndpoint struct {
	Op       uint8
	Addr     string
	Metadata json.RawMessage
}

// parseEntry returns the backend that an etcd key's value describes, ID
// id, or an *EntryError naming key. value is untrusted.
func parseEntry(key, id string, value []byte) (group.Backend, error) {
	bad := func(field string, v any, problem string) (group.Backend, error) {
		return group.Backend{}, &EntryError{Key: key, Field: field, Value: v, Problem: problem, Err: ErrInvalidEntry}
	}
	if id == "" {
		return bad("", nil, "has no backend ID after the prefix and its \"/\"")
	}
	var w wireEndpoint
	if err := json.Unmarshal(value, &w); err != nil {
		return bad("", nil, "is not endpoint JSON ({\"Addr\": \"host:port\", \"Metadata\": {...}}): "+err.Error())
	}
	if w.Op != uint8(endpoints.Add) {
		return bad("Op", int(w.Op), "must be 0 (endpoints.Add)")
	}
	if w.Addr == "" {
		return bad("Addr", nil, "is required")
	}
	if problem := hostport.Check(w.Addr, false); problem != "" {
		return bad("Addr", w.Addr, strings.TrimPrefix(problem, strconv.Quote(w.Addr)+" "))
	}
	b := group.Backend{ID: id, Addr: w.Addr}
	md := bytes.TrimSpace(w.Metadata)
	if len(md) == 0 || string(md) == "null" {
		return b, nil
	}
	if md[0] != '{' {
		return bad("Metadata", string(md), "must be a JSON object or null")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(md, &fields); err != nil {
		return bad("Metadata", nil, "is not a JSON object: "+err.Error())
	}
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		v := bytes.TrimSpace(fields[k])
		switch k {
		case MetadataWeight:
			n, err := strconv.Atoi(string(v))
			if err != nil || n < 0 || n > group.MaxWeight {
				return bad("Metadata."+k, string(v), fmt.Sprintf("must be a JSON integer 0-%d", group.MaxWeight))
			}
			b.Weight = group.Weight(n)
		case MetadataZone:
			if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &b.Zone) != nil {
				return bad("Metadata."+k, string(v), "must be a JSON string")
			}
		default:
			var s string
			if len(v) == 0 || v[0] != '"' || json.Unmarshal(v, &s) != nil {
				var c bytes.Buffer
				if err := json.Compact(&c, v); err != nil {
					return bad("Metadata."+k, nil, "is not JSON: "+err.Error())
				}
				s = c.String()
			}
			if b.Metadata == nil {
				b.Metadata = make(map[string]string, len(fields))
			}
			b.Metadata[k] = s
		}
	}
	return b, nil
}

// endpoint returns b as the endpoint Register writes, the inverse of
// parseEntry.
func endpoint(b group.Backend) endpoints.Endpoint {
	ep := endpoints.Endpoint{Addr: b.Addr}
	if b.Weight == nil && b.Zone == "" && len(b.Metadata) == 0 {
		return ep
	}
	md := make(map[string]any, len(b.Metadata)+2)
	for k, v := range b.Metadata {
		md[k] = v
	}
	if b.Weight != nil {
		md[MetadataWeight] = *b.Weight
	}
	if b.Zone != "" {
		md[MetadataZone] = b.Zone
	}
	ep.Metadata = md
	return ep
}
