// Package flight lets package group count its picks in flight on a
// balancer.Load part by part: each pick on the part of the P that made
// it, and its end on that same part, wherever the request ends. Each
// part then holds exactly the requests picked on it and not ended, and
// least_request compares the parts of the caller's P instead of the sums,
// whose cache lines the other cores keep writing. The functions are not
// part of balancer's API; package balancer sets them in its init.
package flight

import "unsafe"

// Part names the part of a Load a pick was counted on, for End. It fits
// in Bits bits.
type Part uint8

// Bits is how many bits a Part takes.
const Bits = 4

// Begin, given a *balancer.Load (an unsafe.Pointer: this package cannot
// name the type, and a type assertion on every pick would cost more),
// counts one request in flight on it, as
// AddInFlight(1) does, on the part of the calling goroutine's P, and
// returns that part.
var Begin func(load unsafe.Pointer) Part

// End, given a *balancer.Load, takes one request out of flight, as
// AddInFlight(-1) does, from the part Begin counted it on.
var End func(load unsafe.Pointer, p Part)
