package elbtest

import (
	"bytes"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/sticky"
)

// StickyHeader is the header that Configs' sticky.Header mode reads.
const StickyHeader = "X-User-ID"

// LeastRequestOptions is least_request with every option set, as
// Config.Algorithm takes it: Configs has it as "least_request_options".
const LeastRequestOptions = `{"least_request": {"choiceCount": 3, "useLatency": true}}`

// Configs returns a group config for every name in algorithms, one for
// least_request with its options (LeastRequestOptions), and one for each
// sticky mode over least_request (the algorithm that lost requests to a
// dead backend: failing fast, it always had the fewest in flight), named
// "sticky_" and the mode.
func Configs(algorithms []string) map[string]group.Config {
	out := map[string]group.Config{}
	for _, name := range algorithms {
		out[name] = group.Config{Algorithm: name}
	}
	out["least_request_options"] = group.Config{Algorithm: LeastRequestOptions}
	key := bytes.Repeat([]byte{7}, sticky.MinKeyLen)
	for _, sc := range []sticky.Config{
		{Mode: sticky.Cookie, Keys: [][]byte{key}},
		{Mode: sticky.AppCookie, CookieName: "SESSION"},
		{Mode: sticky.Header, Header: StickyHeader},
		{Mode: sticky.SourceIP},
	} {
		out["sticky_"+sc.Mode.String()] = group.Config{Algorithm: balancer.NameLeastRequest, Sticky: &sc}
	}
	return out
}
