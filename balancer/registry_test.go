package balancer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestGetUnknown(t *testing.T) {
	a, err := Get("no_such_algorithm")
	if a != nil || err == nil {
		t.Fatalf("Get(unknown) = %v, %v; want nil and an error", a, err)
	}
	var ue *UnknownAlgorithmError
	if !errors.As(err, &ue) || ue.Name != "no_such_algorithm" {
		t.Fatalf("error %v is not an *UnknownAlgorithmError naming the value", err)
	}
	if !errors.Is(err, ErrUnknownAlgorithm) {
		t.Fatalf("error %v is not ErrUnknownAlgorithm", err)
	}
	if !strings.Contains(err.Error(), `"no_such_algorithm"`) {
		t.Fatalf("message %q does not name the value", err)
	}
	if !slices.Contains(ue.Known, NameRoundRobin) {
		t.Fatalf("known names %v lack %s", ue.Known, NameRoundRobin)
	}
}

func TestBuiltinsRegistered(t *testing.T) {
	for _, name := range []string{
		NameRoundRobin, NameWeightedRoundRobin, NameWeightedRandom, NameRandom,
		NameWeightedLeastConnections, NameLeastRequest, NameConsistentHash, NameSourceIPHash,
	} {
		if _, err := Get(name); err != nil {
			t.Errorf("Get(%q): %v", name, err)
		}
	}
	if a, _ := Get(NameSourceIPHash); a != (ConsistentHash{SourceIP: true}) {
		t.Errorf("%s is %#v", NameSourceIPHash, a)
	}
}

type firstEndpoint struct{}

func (firstEndpoint) Build([]Endpoint) Picker { return firstPicker{} }

type firstPicker struct{}

func (firstPicker) Pick(Request) int { return 0 }

// registerRuns makes TestRegister's name new on every run of -count.
var registerRuns int

func TestRegister(t *testing.T) {
	registerRuns++
	name := fmt.Sprintf("test_first_endpoint_%d", registerRuns)
	if err := Register(name, firstEndpoint{}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	if a, err := Get(name); err != nil || a != (firstEndpoint{}) {
		t.Fatalf("Get after Register = %v, %v", a, err)
	}
	for _, c := range []struct {
		name string
		alg  Algorithm
		msg  string
	}{
		{name, firstEndpoint{}, "already registered"},
		{NameRoundRobin, RoundRobin{}, "already registered"},
		{"", firstEndpoint{}, "empty name"},
		{"test_nil", nil, "nil algorithm"},
		{"test_bad_lr", LeastRequest{ChoiceCount: 11}, `register algorithm "test_bad_lr": invalid algorithm registration: ChoiceCount: 11 must be 2-10, or 0 for 2`},
	} {
		err := Register(c.name, c.alg)
		if !errors.Is(err, ErrInvalidRegistration) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Register(%q, %v) = %v, want ErrInvalidRegistration mentioning %q", c.name, c.alg, err, c.msg)
		}
	}
	if _, err := Get("test_bad_lr"); err == nil {
		t.Errorf("an invalid algorithm was registered")
	}
	if err := Register(name+"_lr_3", LeastRequest{ChoiceCount: 3}); err != nil {
		t.Errorf("Register valid least_request: %v", err)
	}
}

func TestNamesSorted(t *testing.T) {
	names := Names()
	if !slices.IsSorted(names) || len(names) < 8 {
		t.Fatalf("Names() = %v, want the sorted registered names", names)
	}
	if slices.Contains(names, "") {
		t.Fatalf("Names() contains an empty name")
	}
}
