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
// flight, requests, failures, latency) are atomics off the lines the pick
// path only reads, shared by every snapshot, so counts survive changes.
// Nothing on the pick path is written by every core: the in-flight count
// (from which the request count is derived) turns into one count per P
// the first time two cores update it at once (balancer.Load), the
// rotations of round_robin and weighted_round_robin likewise, and each P
// keeps a spare of the token that makes a Pick end once. Stats stay exact:
// they add the parts up.
//
// # Weights
//
// A backend's weight is 0-100, and means the same wherever it appears:
//
//   - 1-100: a share of the requests, relative to the other members' (a
//     larger weight, a larger share);
//   - 0: the backend stays a member but receives no new requests, a cloud
//     load balancer's "weight 0" (requests in flight are not disturbed;
//     a sticky binding to it moves);
//   - left out: DefaultWeight, 1.
//
// In Go, Backend.Weight is a *int: nil is "left out", so a struct literal
// that leaves Weight out gets default traffic, and the Weight function
// builds the others: Backend{Addr: a, Weight: group.Weight(0)}. In JSON
// (Backend's own encoding, the discovery file, Stats and events) the field
// is "weight": a number 0-100, absent (or null) for the default. Add,
// Update and Set take the three forms alike: a nil Weight given to Update
// or Set means DefaultWeight, as in Add, not "keep the current weight" (the
// Backend given replaces the member's description as a whole). Anything
// outside 0-100 is refused with ErrInvalidWeight, naming the value.
//
// What the group returns is resolved: in Backends, Stats and events every
// Weight is set (never nil) to a pointer of its own, so a default member
// shows "weight": 1, and a Backend read back from any of them, or from
// their JSON, is the same member when given to Set or Update. The logs
// (LogKeyWeight), the handler's text and the gRPC resolver's EndpointInfo
// show the same resolved number, 0-100. Stats' EffectiveWeight is another
// quantity: the weight balanced with now, lowered during slow start.
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
// With Config.Subset set, only this client's subset of the members can be
// in the pick set, and only its members are health-checked: a stable
// subset of SubsetConfig.Size members, chosen from the client's identity
// (see SubsetConfig), which the members outside join only while too few of
// its own are healthy.
//
// # Health
//
// Without health settings a backend is Healthy from the moment it is added.
// Config.Health turns on active checks (see package health): a new backend
// starts Initial and takes requests only after HealthyThreshold passed
// probes in a row (but see Startup); UnhealthyThreshold failed probes take
// it out, and HealthyThreshold passes bring it back. Config.Outlier turns on passive
// outlier detection from what Done reports: a run of failed requests ejects
// a backend for a time that grows with each ejection. Config.SlowStart
// ramps up the weight of a backend that has just become healthy. Every
// change of state rebuilds the pick set at once (an ejection, off the
// request that caused it: see Pick.Done) and fires
// EventStateChanged; a zone losing its last healthy backend fires
// EventZoneDown, and panic mode EventPanic. Stats shows each backend's
// state, last check and error, the runs of passed and failed checks, and
// the zones' healthy counts.
//
// # Startup
//
// A group starts with its backends unproven, and a request that comes
// before they are waits rather than fails:
//
//   - Pick waits, bounded by its ctx, while no member can take the request
//     only because members with a weight are Initial (awaiting their first
//     health checks) or a Sync has not applied its source's first update:
//     it picks as soon as a member is admitted, or fails, when ctx ends,
//     with an error wrapping both ErrNoHealthyBackend (or ErrNoBackends)
//     and ctx.Err(). It never waits for members proven unhealthy, ejected,
//     at weight 0 or draining, nor on a closed group (Close wakes every
//     waiter with ErrClosed). Config.FailFast turns waiting off. The wait
//     costs the picks that find a member nothing: a snapshot without a
//     pick set carries a channel closed when it is replaced, and only a
//     pick that reads such a snapshot waits on it.
//   - WaitReady blocks until a member takes requests, whatever keeps them
//     out, for programs that want to block at start.
//   - A new backend is probed at once, then every Health.InitialInterval
//     (1s) until judged. At the group's cold start (members added while
//     no member has ever taken requests) the first passed probe admits a
//     backend, as Envoy does during startup: nothing else could serve. A
//     backend added to a group that has served needs HealthyThreshold
//     passes. With the defaults, a new group's first request is served
//     once the first probe of one backend has passed; a backend added
//     later takes requests about 2s after it is added.
//   - When no member can take a request, the error says why, counting the
//     members by reason: "no healthy backend: 3 members: 2 initial
//     (awaiting first health check), 1 unhealthy".
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
// ErrNoBackends, ErrClosed, ErrNotNew for a Group that New did not make,
// balancer.ErrUnknownAlgorithm, ...) usable with
// errors.Is, inside a *BackendError or *GroupError that names the group,
// the backend and the offending value. A Config that New rejects is a
// *GroupError around an *elb.ConfigError naming the field by its path
// from Config, the value and the cause (errors.Is ErrInvalidConfig, the
// same value as elb.ErrInvalidConfig):
//
//	elb: group "orders": Health.Interval: 100ms must be 1s-50s
//	elb: group "orders": Algorithm.least_request.choiceCount: 1 must be 2-10
package group
