package group

import "github.com/go-elb/elb/health"

// Timer is a pending call made by a Clock's AfterFunc. *time.Timer is one.
type Timer = health.Timer

// Clock is the group's source of time, for drain timeouts, health checks,
// ejections and slow start: health.Clock. Tests use a fake clock; nil in
// Config means health.RealClock. AfterFunc must call f later, on another
// goroutine or from a call that moves the clock, never from within
// AfterFunc itself: the group calls it holding its lock.
type Clock = health.Clock
