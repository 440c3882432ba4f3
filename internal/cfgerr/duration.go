package cfgerr

import (
	"encoding/json"
	"reflect"
	"time"
)

// Duration is a time.Duration written in JSON as a Go duration string,
// such as "1.5s" or "250ms". DecodeJSON reports a value it rejects as
// `is not a duration such as "5s"`, naming the member.
type Duration time.Duration

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	err := json.Unmarshal(b, &s)
	v, perr := time.ParseDuration(s)
	if err != nil || perr != nil {
		// The decoder adds the member's name to this error.
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[Duration]()}
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes a duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }
