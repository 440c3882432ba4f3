// Package health holds the health life cycle of a backend: its State
// (Initial, Healthy, Unhealthy, Ejected, Draining) and the rule that only a
// Healthy backend takes new requests.
//
// The package imports no other elb package, so it can be used and tested on
// its own. The group package keeps one State per backend and builds its
// pick set from it.
package health
