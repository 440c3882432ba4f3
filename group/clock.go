package group

import "time"

// Timer is a pending call made by a Clock's AfterFunc. *time.Timer is one.
type Timer = interface{ Stop() bool }

// Clock is the group's source of time, for drain timeouts. Tests use a
// fake clock; nil in Config means the real one. AfterFunc must call f
// later, on another goroutine or from a call that moves the clock, never
// from within AfterFunc itself: the group calls it holding its lock.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
