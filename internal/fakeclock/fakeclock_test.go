package fakeclock

import (
	"testing"
	"time"
)

func TestTimersFireInDeadlineOrderAtTheirTime(t *testing.T) {
	start := time.Unix(100, 0)
	c := New(start)
	var got []time.Duration
	at := func() { got = append(got, c.Now().Sub(start)) }
	c.AfterFunc(3*time.Second, at)
	c.AfterFunc(time.Second, at)
	stopped := c.AfterFunc(2*time.Second, at)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop must report true once, then false")
	}
	c.AfterFunc(10*time.Second, at)
	c.Advance(5 * time.Second)
	if len(got) != 2 || got[0] != time.Second || got[1] != 3*time.Second {
		t.Fatalf("fired at %v, want [1s 3s]", got)
	}
	if c.Now().Sub(start) != 5*time.Second || c.Pending() != 1 {
		t.Fatalf("now %v pending %d, want 5s and 1", c.Now().Sub(start), c.Pending())
	}
}

func TestTimerSetFromATimerFires(t *testing.T) {
	c := New(time.Unix(0, 0))
	fired := false
	c.AfterFunc(time.Second, func() { c.AfterFunc(time.Second, func() { fired = true }) })
	c.Advance(2 * time.Second)
	if !fired {
		t.Fatal("a timer set by a timer within the advance must fire")
	}
}
