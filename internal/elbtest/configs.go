package elbtest

import (
	"bytes"

	"github.com/go-elb/elb/balancer"
	"github.com/go-elb/elb/group"
	"github.com/go-elb/elb/sticky"
)

// StickyHeader is the header that Configs' sticky.Header mode reads.
const StickyHeader = "X-User-ID"

// Algorithms with every option set, as Config.Algorithm takes them:
// Configs has them as "least_request_options" and "peak_ewma_options".
const (
	LeastRequestOptions = `{"least_request": {"choiceCount": 3}}`
	PeakEWMAOptions     = `{"peak_ewma": {"choiceCount": 3, "decay": "2s", "failurePenalty": "100ms"}}`
)

// Configs returns a group config for every name in algorithms, one for
// least_request and one for peak_ewma with their options
// (LeastRequestOptions, PeakEWMAOptions), and one for each
// sticky mode over least_request (the algorithm that lost requests to a
// dead backend: failing fast, it always had the fewest in flight), named
// "sticky_" and the mode.
func Configs(algorithms []string) map[string]group.Config {
	out := map[string]group.Config{}
	for _, name := range algorithms {
		out[name] = group.Config{Algorithm: name}
	}
	out["least_request_options"] = group.Config{Algorithm: LeastRequestOptions}
	out["peak_ewma_options"] = group.Config{Algorithm: PeakEWMAOptions}
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
