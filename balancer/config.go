package balancer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-elb/elb"
	"github.com/go-elb/elb/internal/cfgerr"
)

// ConfigParser is implemented by algorithms that take options by name, in
// JSON, as gRPC's load-balancing policies do. Every built-in implements
// it; an algorithm given to [Register] may too, and [ParseConfig] then
// hands it the options of its name.
//
// ParseConfig returns the algorithm configured by js, a JSON object of
// options or null (no options): it starts from the receiver's settings
// (the registered value, defaults filled in), decodes js over them,
// rejecting unknown members, then validates the result. Its errors should
// be *elb.ConfigError values whose Field is the option's path within js,
// such as "choiceCount"; ParseConfig puts the algorithm's name before it.
// Any other error is reported as the cause of an error for the name.
type ConfigParser interface {
	ParseConfig(js json.RawMessage) (Algorithm, error)
}

// ParseConfig returns the algorithm that config selects and the name it is
// registered under. config is one of:
//
//   - a registered name, such as least_request, bare or as a JSON string
//     ("least_request"): the algorithm registered under it, as registered;
//   - a JSON object of one member, a registered name and that algorithm's
//     options, as a child of gRPC's loadBalancingConfig:
//     {"peak_ewma": {"choiceCount": 3, "decay": "5s"}}. An empty
//     object or null means the registered value's settings. The
//     algorithm's own ParseConfig ([ConfigParser]) reads the options; an
//     algorithm without one takes none.
//
// Every error is an *elb.ConfigError (errors.Is elb.ErrInvalidConfig)
// whose Field is the path of the value at fault within config, such as
// "least_request.choiceCount" ("" for the name or the document), and the
// text names it and the value: "elb: least_request.choiceCount: 1 must be
// 2-10". A name that is not registered also wraps an
// [*UnknownAlgorithmError] (errors.Is [ErrUnknownAlgorithm]).
func ParseConfig(config string) (name string, a Algorithm, err error) {
	s := strings.TrimSpace(config)
	switch {
	case s == "":
		return "", nil, cfgerr.New("", nil, "names no algorithm")
	case s[0] == '"':
		if err := cfgerr.DecodeJSON([]byte(s), &name); err != nil {
			return "", nil, err
		}
		a, err := lookup(name)
		return name, a, err
	case s[0] != '{':
		a, err := lookup(s)
		return s, a, err
	}
	var obj map[string]json.RawMessage
	if err := cfgerr.DecodeJSON([]byte(s), &obj); err != nil {
		return "", nil, err
	}
	if len(obj) != 1 {
		return "", nil, cfgerr.New("", nil, fmt.Sprintf(
			`must name one algorithm, such as {"least_request": {"choiceCount": 3}}; it names %d`, len(obj)))
	}
	var opts json.RawMessage
	for name, opts = range obj {
	}
	if a, err = lookup(name); err != nil {
		return name, nil, err
	}
	if o := bytes.TrimSpace(opts); len(o) == 0 || (o[0] != '{' && string(o) != "null") {
		return name, nil, cfgerr.New(name, nil, "must be a JSON object of the algorithm's options, such as {}")
	}
	if p, ok := a.(ConfigParser); ok {
		a, err = p.ParseConfig(opts)
	} else {
		a, err = noOptions(a, opts)
	}
	if err == nil && a == nil {
		err = cfgerr.New("", nil, "the algorithm's ParseConfig returned no algorithm")
	}
	if v, ok := a.(interface{ Validate() error }); ok && err == nil {
		err = v.Validate()
	}
	if err != nil {
		return name, nil, cfgerr.Nest(name, err)
	}
	return name, a, nil
}

// lookup is Get, with its error as an *elb.ConfigError.
func lookup(name string) (Algorithm, error) {
	a, err := Get(name)
	if err != nil {
		return nil, &elb.ConfigError{Err: err}
	}
	return a, nil
}

// noOptions parses the options of an algorithm that has none: js must be
// {} or null.
func noOptions(a Algorithm, js json.RawMessage) (Algorithm, error) {
	if err := cfgerr.DecodeJSON(js, &struct{}{}); err != nil {
		return nil, err
	}
	return a, nil
}

// ParseConfig takes no options: js must be {} or null.
func (a RoundRobin) ParseConfig(js json.RawMessage) (Algorithm, error) { return noOptions(a, js) }

// ParseConfig takes no options: js must be {} or null.
func (a WeightedRoundRobin) ParseConfig(js json.RawMessage) (Algorithm, error) {
	return noOptions(a, js)
}

// ParseConfig takes no options: js must be {} or null. (Rand is not an
// option: it is set in Go only.)
func (a WeightedRandom) ParseConfig(js json.RawMessage) (Algorithm, error) { return noOptions(a, js) }

// ParseConfig takes no options: js must be {} or null. (Rand is not an
// option: it is set in Go only.)
func (a Random) ParseConfig(js json.RawMessage) (Algorithm, error) { return noOptions(a, js) }

// ParseConfig takes no options: js must be {} or null.
func (a WeightedLeastConnections) ParseConfig(js json.RawMessage) (Algorithm, error) {
	return noOptions(a, js)
}

// ParseConfig takes no options: js must be {} or null. SourceIP is chosen
// by name (consistent_hash or source_ip_hash), not as an option.
func (a ConsistentHash) ParseConfig(js json.RawMessage) (Algorithm, error) { return noOptions(a, js) }

// leastRequestOptions are LeastRequest's options in JSON.
type leastRequestOptions struct {
	ChoiceCount int `json:"choiceCount"`
}

// ParseConfig reads the options {"choiceCount": 2-10} over a's settings:
// a missing choiceCount is a's ChoiceCount, or 2 if that is 0 (gRPC's
// default). choiceCount is validated after the default is filled in: an
// explicit 0, 1 or 11 is an error ("choiceCount: 1 must be 2-10"), where
// gRPC's least_request_experimental raises values over 10 to 10.
func (a LeastRequest) ParseConfig(js json.RawMessage) (Algorithm, error) {
	o := leastRequestOptions{ChoiceCount: a.ChoiceCount}
	if o.ChoiceCount == 0 {
		o.ChoiceCount = minChoiceCount
	}
	if err := cfgerr.DecodeJSON(js, &o); err != nil {
		return nil, err
	}
	if o.ChoiceCount < minChoiceCount || o.ChoiceCount > maxChoiceCount {
		return nil, cfgerr.New("choiceCount", o.ChoiceCount, fmt.Sprintf("must be %d-%d", minChoiceCount, maxChoiceCount))
	}
	a.ChoiceCount = o.ChoiceCount
	return a, nil
}
