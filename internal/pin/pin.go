// Package pin tells a goroutine which P (the scheduler's processor, one of
// GOMAXPROCS) it runs on, and keeps it there until it lets go, so that
// counters kept one per P are written by one goroutine at a time: with
// plain atomic loads and stores instead of locked read-modify-writes, and
// without two cores writing one cache line.
//
// It is the pair sync.Pool is built on: runtime.procPin and
// runtime.procUnpin, reached by go:linkname. The runtime keeps both for
// that use (its source asks that they be neither removed nor changed,
// because packages outside the standard library link to them).
//
// Between [Pin] and [Unpin] the goroutine cannot be preempted, so that
// span must be a handful of instructions: loads and stores, never a call
// that may block, allocate or take a lock.
package pin

import _ "unsafe" // go:linkname

// Pin pins the calling goroutine to its P and returns the P's index, in
// [0, GOMAXPROCS). Every Pin must be followed by an Unpin.
//
//go:linkname Pin runtime.procPin
func Pin() int

// Unpin undoes the last Pin.
//
//go:linkname Unpin runtime.procUnpin
func Unpin()
