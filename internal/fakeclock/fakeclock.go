// Package fakeclock is a manual clock for deterministic tests of anything
// that waits: drain timeouts, health intervals, slow start, TTLs.
package fakeclock

import (
	"sort"
	"sync"
	"time"
)

// Clock is a fake clock. Time moves only when Advance or Set is called;
// timers whose deadline is reached run their functions then, in deadline
// order, on the goroutine that moved the clock. The zero value is not
// usable; call New.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*Timer
}

// New returns a clock that reads start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's current time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Timer is a pending call made by AfterFunc.
type Timer struct {
	c    *Clock
	at   time.Time
	f    func()
	done bool
}

// Stop prevents the timer from firing. It reports whether it did so, like
// time.Timer.Stop.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Stopper is what AfterFunc returns. It is the same type as the Timer of
// the elb packages that take a clock, so a *Clock satisfies their Clock
// interfaces.
type Stopper = interface{ Stop() bool }

// AfterFunc calls f once the clock has advanced by d.
func (c *Clock) AfterFunc(d time.Duration, f func()) Stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &Timer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Pending returns the number of timers that have neither fired nor been
// stopped.
func (c *Clock) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}

// Advance moves the clock forward by d, firing every timer that comes due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.Set(target)
}

// Set moves the clock to t (never backwards), firing every timer due by t
// in deadline order. Each timer's function runs with the clock reading its
// deadline, and without the clock's lock held, so it may use the clock.
func (c *Clock) Set(t time.Time) {
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var due *Timer
		kept := c.timers[:0]
		for _, tm := range c.timers {
			switch {
			case tm.done:
			case due == nil && !tm.at.After(t):
				due = tm
			default:
				kept = append(kept, tm)
			}
		}
		c.timers = kept
		if due == nil {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		due.done = true
		if due.at.After(c.now) {
			c.now = due.at
		}
		c.mu.Unlock()
		due.f()
	}
}
