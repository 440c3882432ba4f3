package httpgroup

import (
	"strings"
	"testing"
	"time"
)

// TestEndAt checks that the end an attempt gives the group
// (group.Result.End) carries a monotonic clock reading, mono after
// epoch's: the group's latency estimate measures the time between ends
// with it, so a step of the wall clock does not reach the estimate.
func TestEndAt(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 1500 * time.Millisecond, 90 * 24 * time.Hour} {
		end := endAt(d)
		// Time.String ends with "m=±<value>" exactly when the time has a
		// monotonic reading.
		if s := end.String(); !strings.Contains(s, " m=+") {
			t.Errorf("endAt(%v) = %s: no monotonic clock reading", d, s)
		}
		if got := end.Sub(epoch); got != d {
			t.Errorf("endAt(%v).Sub(epoch) = %v, want %v", d, got, d)
		}
		if got := end.Sub(endAt(0)); got != d {
			t.Errorf("endAt(%v).Sub(endAt(0)) = %v, want %v", d, got, d)
		}
	}
}
