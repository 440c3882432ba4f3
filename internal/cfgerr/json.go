package cfgerr

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/go-elb/elb"
)

// DecodeJSON decodes the JSON value js into v, a pointer, strictly: an
// unknown object member, a value of the wrong type, malformed JSON and
// trailing data are errors, and so is a member whose name matches a field
// only when case is ignored (encoding/json would take "ChoiceCount" for
// "choiceCount"): names are exact. Every error is an *elb.ConfigError whose
// Field is the path, from js's top, of the member at fault, at every
// nesting level ("health.intervl"; "" for the document as a whole). A
// JSON value that a type named Duration rejects (with a
// *json.UnmarshalTypeError, as a duration string type does) is reported
// as not a duration.
func DecodeJSON(js []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(js, reflect.TypeOf(v), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return New("", nil, "has data after its JSON value")
	}
	if doc, err := readJSON(json.NewDecoder(bytes.NewReader(js))); err == nil {
		if field, want, ok := inexact(doc, reflect.TypeOf(v), ""); ok {
			return New(field, nil, fmt.Sprintf("unknown field (names are exact: did you mean %q?)", want))
		}
	}
	return nil
}

// inexact finds, in doc read as a value of type t, the path of the first
// object member whose name matches t's field only when case is ignored,
// and that field's exact name.
func inexact(doc jsonValue, t reflect.Type, path string) (field, want string, found bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		return "", "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		for _, m := range doc.obj {
			ft, name, known := jsonField(t, m.key)
			if !known {
				continue
			}
			if name != m.key {
				return Join(path, m.key), name, true
			}
			if f, w, ok := inexact(m.val, ft, Join(path, m.key)); ok {
				return f, w, true
			}
		}
	case reflect.Map:
		for _, m := range doc.obj {
			if f, w, ok := inexact(m.val, t.Elem(), Join(path, m.key)); ok {
				return f, w, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i, e := range doc.arr {
			if f, w, ok := inexact(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); ok {
				return f, w, true
			}
		}
	}
	return "", "", false
}

// jsonError is err, an error of decoding js into a value of type t, as an
// *elb.ConfigError naming the member at fault.
func jsonError(js []byte, t reflect.Type, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		te.Field = memberPath(t, te.Field)
		switch {
		case te.Type == nil:
		case te.Type.Name() == "Duration":
			return &elb.ConfigError{Field: te.Field, Value: json.RawMessage(te.Value), Problem: `is not a duration such as "5s"`}
		case te.Type.Kind() == reflect.Struct || te.Type.Kind() == reflect.Map:
			return &elb.ConfigError{Field: te.Field, Problem: fmt.Sprintf("must be a JSON object, not a JSON %s", te.Value)}
		}
		return &elb.ConfigError{Field: te.Field, Problem: fmt.Sprintf("a JSON %s cannot be a %v", te.Value, te.Type)}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		field := name
		if doc, err := readJSON(json.NewDecoder(bytes.NewReader(js))); err == nil {
			if p, ok := unknownPath(doc, t, name, ""); ok {
				field = p
			}
		}
		return New(field, nil, "unknown field")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return &elb.ConfigError{Problem: "is not valid JSON: " + strings.TrimPrefix(err.Error(), "json: "), Err: err}
	}
	return &elb.ConfigError{Err: err}
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// memberPath is the path of encoding/json's field of a type error in a
// value of type t, without the names of embedded structs that
// encoding/json puts in it ("Config.health.interval" -> "health.interval").
func memberPath(t reflect.Type, field string) string {
	var path string
	for part := range strings.SplitSeq(field, ".") {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			path, t = Join(path, part), nil
			continue
		}
		if f, ok := t.FieldByName(part); ok && f.Anonymous {
			t = f.Type
			continue
		}
		ft, _, _ := jsonField(t, part)
		path, t = Join(path, part), ft
	}
	return path
}

// unknownPath finds, in doc read as a value of type t, the path of the
// first object member, in document order as encoding/json reads them,
// called name that t has no field for.
func unknownPath(doc jsonValue, t reflect.Type, name, path string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		return "", false
	}
	switch t.Kind() {
	case reflect.Struct:
		for _, m := range doc.obj {
			ft, _, known := jsonField(t, m.key)
			if !known {
				if m.key == name {
					return Join(path, m.key), true
				}
				continue
			}
			if p, ok := unknownPath(m.val, ft, name, Join(path, m.key)); ok {
				return p, true
			}
		}
	case reflect.Map:
		for _, m := range doc.obj {
			if p, ok := unknownPath(m.val, t.Elem(), name, Join(path, m.key)); ok {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		for i, e := range doc.arr {
			if p, ok := unknownPath(e, t.Elem(), name, fmt.Sprintf("%s[%d]", path, i)); ok {
				return p, true
			}
		}
	}
	return "", false
}

// jsonValue is a JSON value with the members of its objects in document
// order: an object's members, an array's elements, or neither for a
// scalar.
type jsonValue struct {
	obj []member
	arr []jsonValue
}

// member is one member of a JSON object.
type member struct {
	key string
	val jsonValue
}

// readJSON reads the next JSON value from dec.
func readJSON(dec *json.Decoder) (jsonValue, error) {
	var v jsonValue
	tok, err := dec.Token()
	if err != nil {
		return v, err
	}
	switch tok {
	case json.Delim('{'):
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return v, err
			}
			val, err := readJSON(dec)
			if err != nil {
				return v, err
			}
			k, _ := key.(string)
			v.obj = append(v.obj, member{k, val})
		}
	case json.Delim('['):
		for dec.More() {
			val, err := readJSON(dec)
			if err != nil {
				return v, err
			}
			v.arr = append(v.arr, val)
		}
	default:
		return v, nil
	}
	_, err = dec.Token() // the closing delimiter
	return v, err
}

// jsonField returns the type and the JSON name of struct t's field that
// encoding/json decodes the member key into (an exact name first, then one
// that differs in case only, as encoding/json matches them).
func jsonField(t reflect.Type, key string) (reflect.Type, string, bool) {
	var fold reflect.Type
	foldName := ""
	for f := range t.Fields() {
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "-" {
			continue
		}
		if f.Anonymous && tag == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if t, name, ok := jsonField(ft, key); ok && (name == key || fold == nil) {
					if name == key {
						return t, name, true
					}
					fold, foldName = t, name
				}
			}
			continue
		}
		name := tag
		if name == "" {
			name = f.Name
		}
		if name == key {
			return f.Type, name, true
		}
		if fold == nil && strings.EqualFold(name, key) {
			fold, foldName = f.Type, name
		}
	}
	return fold, foldName, fold != nil
}

// Duration is a time.Duration written in JSON as a Go duration string,
// such as "1.5s" or "5m". A value that is not one is reported by
// DecodeJSON as not a duration, naming its field.
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	err := json.Unmarshal(b, &s)
	v, perr := time.ParseDuration(s)
	if err != nil || perr != nil {
		// The decoder adds the field's name to this error.
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}
