// Package adapterhook reaches the mechanics of package group that only
// elb's own adapters use, and that are therefore not part of group's API:
// a group whose members an adapter with connections of its own reports
// reachable or not (the gRPC policy's channel groups, under resolvers
// other than elb's). Package group sets the functions in its init.
//
// An adapter outside this module uses group.View instead.
package adapterhook

// AwaitReady, given a *group.Config, makes the group it configures await
// readiness: a member takes requests only while the adapter reports it
// ready (SetReady) as well as healthy, a new member starts not ready,
// panic mode never sends requests to a member that is not ready, Pick
// never waits (the adapter queues requests itself), and Backend.Addr is
// whatever the adapter dials, not only host:port (a unix socket, an
// in-memory listener's name): not empty, without control characters and
// without white space at either end.
var AwaitReady func(cfg any)

// SetReady, given a *group.Group made with AwaitReady, says whether its
// member id can be reached now, and why (reason is shown in
// EventStateChanged and Stats.Unreachable; empty is fine). A member that
// becomes ready takes requests once its health checks, if any, pass: with
// active checks, becoming ready probes it at once, and a member that was
// ready before takes requests again only once that probe passes. A
// report on a member outside the group's subset (group.SubsetConfig) is
// ignored: the adapter connects to the subset alone, so it is a late one,
// and a member that joins the subset starts not ready again. It returns an
// error wrapping group.ErrUnknownBackend for an ID that is not
// a member, group.ErrClosed after Close, or group.ErrInvalidConfig for a
// group made without AwaitReady.
var SetReady func(g any, id string, ready bool, reason string) error

// RecordServerLoad, given a *group.Group, records r, a
// balancer.ServerLoad received out of band (not with a response: gRPC's
// ORCA streams), as member id's latest server load report. It returns an
// error wrapping group.ErrUnknownBackend for an ID that is not a member.
var RecordServerLoad func(g any, id string, r any) error
