// Package group is the backend group: a set of backends (ID, address,
// weight 0-100, zone, metadata), the algorithm that picks one of them for
// each request, and the statistics and events that show what it did.
//
// # Picking
//
// Pick chooses a backend and counts the request in flight on it; Done ends
// the request and says whether it failed:
//
//	p, err := g.Pick(ctx, group.Request{Key: userID})
//	if err != nil {
//		return err // no backend can take the request
//	}
//	err = call(ctx, p.Addr())
//	p.Done(err)
//
// Pick and Done take no lock and allocate nothing. Pick reads an immutable
// snapshot of the pick set through an atomic pointer; every change to the
// group (Add, Update, Remove, Set, Close) builds a new snapshot under the
// group's lock and publishes it at once. The per-backend counters (in
// flight, requests, failures, latency) are atomics on their own cache line,
// shared by every snapshot, so counts survive changes.
//
// # Weights
//
// A backend's Weight is 1-100: a larger weight, a larger share. The zero
// value of the field means DefaultWeight (1), so a Backend literal that
// leaves Weight out still gets traffic. ZeroWeight keeps a backend a member
// that receives no new requests, a cloud load balancer's "weight 0".
//
// # Who takes requests
//
// A backend is in the pick set when its health state is Healthy, its
// weight is above 0 and it is in the zone the group routes to (the rules
// are in routing, in group.go). With Config.LocalZone set, the group routes
// to that zone while enough of its backends are healthy
// (Config.LocalZoneMinHealthy), and to the healthy backends of every zone
// otherwise. With Config.PanicThreshold set, a group with too few healthy
// backends routes to all of them rather than fail.
//
// # Health
//
// Without health settings a backend is Healthy from the moment it is added.
// Config.Health turns on active checks (see package health): a new backend
// starts Initial and takes requests only after HealthyThreshold passed
// probes in a row; UnhealthyThreshold failed probes take it out, and
// HealthyThreshold passes bring it back. Config.Outlier turns on passive
// outlier detection from what Done reports: a run of failed requests ejects
// a backend for a time that grows with each ejection. Config.SlowStart
// ramps up the weight of a backend that has just become healthy. Every
// change of state rebuilds the pick set at once and fires
// EventStateChanged; a zone losing its last healthy backend fires
// EventZoneDown, and panic mode EventPanic. Stats shows each backend's
// state, last check and error, the runs of passed and failed checks, and
// the zones' healthy counts.
//
// # Draining
//
// Remove, Set and Close never cut a request in flight. A removed backend
// leaves the pick set at once, drains (its requests finish undisturbed)
// and is forgotten when its last request is done or Config.DrainTimeout
// passes, whichever is first.
//
// # Adapters
//
// An adapter that keeps connections of its own to the backends (the gRPC
// policy of package grpcgroup: one per channel) picks through a View of
// the group (Group.NewView): the group's pick set less the members the
// adapter reports not ready in it (View.SetReady), with an object of the
// adapter's kept with each member (View.Attach). Counters, ejections,
// bindings and slow start stay the group's, shared by every View and by
// Group.Pick. Applications never need a View.
//
// # Errors
//
// Bad input is an error, never a panic and never a silent default: each
// wraps a sentinel (ErrInvalidWeight, ErrInvalidAddress, ErrDuplicateID,
// ErrNoBackends, ErrClosed, balancer.ErrUnknownAlgorithm, ...) usable with
// errors.Is, inside a *BackendError or *GroupError that names the group,
// the backend and the offending value.
package group
