// Package mono times requests for the adapters with the monotonic clock
// alone: Now reads it once, where time.Now reads the wall clock too,
// which costs as much again (60 ns a read on some VMs), and Time turns a
// reading into the time.Time that group.Result.End takes.
package mono

import "time"

// epoch is the origin of the readings.
var epoch = time.Now()

// Now returns the monotonic clock's reading: the time since an origin
// fixed when the program started.
func Now() time.Duration { return time.Since(epoch) }

// Time returns the reading d as a time.Time, for group.Result.End: its
// monotonic reading is the clock's, which is all the group's latency
// estimate reads of it; its wall clock is the origin's advanced by d,
// which drifts from the real one by as much as that was stepped since
// the program started. A balancer.ServerLoad's Received needs the real
// one: read time.Now for it.
func Time(d time.Duration) time.Time { return epoch.Add(d) }
