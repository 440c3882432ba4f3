package mono

import (
	"strings"
	"testing"
	"time"
)

// TestTimeIsMonotonic checks that Time(d), the end an adapter gives the
// group (group.Result.End), carries a monotonic clock reading, d after
// epoch's: the group's latency estimate measures the time between ends
// with it, so a step of the wall clock does not reach the estimate.
func TestTimeIsMonotonic(t *testing.T) {
	for _, d := range []time.Duration{0, time.Nanosecond, 1500 * time.Millisecond, 90 * 24 * time.Hour} {
		end := Time(d)
		// Time.String ends with "m=±<value>" exactly when the time has a
		// monotonic reading.
		if s := end.String(); !strings.Contains(s, " m=+") {
			t.Errorf("Time(%v) = %s: no monotonic clock reading", d, s)
		}
		if got := end.Sub(epoch); got != d {
			t.Errorf("Time(%v).Sub(epoch) = %v, want %v", d, got, d)
		}
		if got := end.Sub(Time(0)); got != d {
			t.Errorf("Time(%v).Sub(Time(0)) = %v, want %v", d, got, d)
		}
	}
}

// TestNowAdvances checks that Now reads the clock: it never goes back,
// and Time(Now()) is within the time.Now readings around it.
func TestNowAdvances(t *testing.T) {
	before := time.Now()
	a := Now()
	b := Now()
	after := time.Now()
	if b < a {
		t.Fatalf("Now went back: %v then %v", a, b)
	}
	if at := Time(a); at.Before(before) || at.After(after) {
		t.Fatalf("Time(Now()) = %v, not within %v and %v", at, before, after)
	}
}
