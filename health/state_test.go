package health_test

import (
	"encoding/json"
	"testing"

	"github.com/go-elb/elb/health"
)

func TestOnlyHealthyServes(t *testing.T) {
	for s, want := range map[health.State]bool{
		health.Unknown: false, health.Initial: false, health.Healthy: true, health.Unhealthy: false,
		health.Ejected: false, health.Draining: false, health.State(99): false,
	} {
		if s.Serving() != want {
			t.Errorf("%v.Serving() = %v, want %v", s, s.Serving(), want)
		}
	}
}

func TestStateNames(t *testing.T) {
	got, err := json.Marshal([]health.State{health.Unknown, health.Initial, health.Healthy, health.Unhealthy, health.Ejected, health.Draining, 42})
	if err != nil {
		t.Fatal(err)
	}
	want := `["unknown","initial","healthy","unhealthy","ejected","draining","state(42)"]`
	if string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}
