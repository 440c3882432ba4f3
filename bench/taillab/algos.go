package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-elb/elb/balancer"
)

// splitAlgos splits the -algos list at the commas that are outside JSON
// objects and strings, so that `round_robin,{"peak_ewma":{"choiceCount":3}}`
// is two entries. Empty entries are an error.
func splitAlgos(s string) ([]string, error) {
	var out []string
	depth, start := 0, 0
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("-algos: unbalanced %q at byte %d", c, i)
			}
		case c == ',' && depth == 0:
			out = append(out, strings.TrimSpace(s[start:i]))
			start = i + 1
		}
	}
	if depth != 0 || inString {
		return nil, fmt.Errorf("-algos: unterminated JSON in %q", s[start:])
	}
	out = append(out, strings.TrimSpace(s[start:]))
	for i, a := range out {
		if a == "" {
			return nil, fmt.Errorf("-algos: entry %d is empty", i+1)
		}
	}
	return out, nil
}

// parseAlgos splits and validates the -algos list with
// balancer.ParseConfig, as group.Config.Algorithm reads each entry.
func parseAlgos(s string) ([]string, error) {
	algos, err := splitAlgos(s)
	if err != nil {
		return nil, err
	}
	for _, a := range algos {
		if _, _, err := balancer.ParseConfig(a); err != nil {
			return nil, fmt.Errorf("-algos: %q: %w", a, err)
		}
	}
	return algos, nil
}

// learnsFromServers names algorithms that are load-aware through what the
// backends report or answer to probes (see hooks.go), which the check in
// loadAware cannot fake: they join the default list by name once they are
// registered. Names of algorithms not yet merged are harmless here.
var learnsFromServers = []string{"prequal", "load_report_wrr"}

// defaultAlgos returns round_robin and every registered algorithm that is
// load-aware: those in learnsFromServers, and those whose picker, over 10
// endpoints of which one has 1000 requests in flight and a latency of 10 s
// (the others none and 1 ms), sends that one less than half its fair share
// (5%) of 1000 picks, whichever endpoint it is (which rules out a hash that
// happens to avoid it).
func defaultAlgos() []string {
	out := []string{balancer.NameRoundRobin}
	for _, name := range balancer.Names() {
		if name == balancer.NameRoundRobin {
			continue
		}
		known := false
		for _, k := range learnsFromServers {
			known = known || k == name
		}
		a, err := balancer.Get(name)
		if err == nil && (known || loadAware(a)) {
			out = append(out, name)
		}
	}
	return out
}

func loadAware(a balancer.Algorithm) (aware bool) {
	defer func() {
		if recover() != nil {
			aware = false
		}
	}()
	const n, picks = 10, 1000
	for busy := range n {
		eps := make([]balancer.Endpoint, n)
		for i := range eps {
			l := new(balancer.Load)
			if i == busy {
				l.AddInFlight(1000)
				l.ObserveLatency(10 * time.Second)
			} else {
				l.ObserveLatency(time.Millisecond)
			}
			eps[i] = balancer.Endpoint{ID: fmt.Sprint(i), Addr: fmt.Sprintf("127.0.0.1:%d", 10000+i), Weight: 1, Load: l}
		}
		p := a.Build(eps)
		hits := 0
		for range picks {
			if p.Pick(balancer.Request{}) == busy {
				hits++
			}
		}
		if hits*2*n >= picks {
			return false
		}
	}
	return true
}
