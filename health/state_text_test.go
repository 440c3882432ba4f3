package health_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-elb/elb/health"
)

func TestStateTextRoundTrip(t *testing.T) {
	for s := health.Unknown; s <= health.Draining; s++ {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var got health.State
		if err := json.Unmarshal(b, &got); err != nil || got != s {
			t.Errorf("%s: got %v, %v", b, got, err)
		}
	}
	var s health.State
	if err := s.UnmarshalText([]byte("sick")); !errors.Is(err, health.ErrUnknownState) {
		t.Errorf("unknown name: %v", err)
	}
}
