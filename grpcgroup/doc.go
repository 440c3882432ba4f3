// Package grpcgroup brings elb's backend groups to gRPC: a resolver that
// publishes a group's members to a channel, and an LB policy, "elb", that
// balances a channel's calls with elb's algorithms, weights, zones, health
// checks, outlier detection, slow start and metadata affinity.
//
// Importing the package registers the policy; the elb resolver selects it:
//
//	grpcgroup.Register(reg) // elb:///NAME resolves reg's group NAME
//	conn, err := grpc.NewClient("elb:///orders",
//		grpc.WithTransportCredentials(insecure.NewCredentials()))
//
// # One group, whatever the protocol
//
// A channel to elb:///NAME picks from the registry's group NAME itself,
// through a group.View of its own: its calls are counted, balanced, ejected
// and bound in that group, with the calls of every other channel to it,
// of an httpgroup.Transport over it and of direct Group.Pick calls. So the
// group's Stats (and Registry.Handler) show every call, an ejection
// learned from one client's failures applies to all, a session bound
// through one channel is followed by the others, and nothing resets when
// gRPC rebuilds a channel's policy (after an idle period, 30 minutes by
// default, or a change of config): the group lives in the registry.
// A channel may be made before its group is registered: its calls fail
// ("the registry has no group"), or wait with grpc.WaitForReady, until
// the group appears; a group closed and registered anew under its name is
// found the same way.
//
// What a channel adds is its own connectivity: a member takes the
// channel's calls only while the channel's connection to it (its
// pick_first child, gRPC's endpointsharding) is READY, as well as in the
// group's pick set. A server one channel cannot reach is skipped by that
// channel only; a call whose session is bound to such a server goes
// elsewhere, and the binding stays for the channels that can reach it
// (so does it while a rebuilt policy's connections come up).
//
// Under elb:///, the group's settings decide, for every client alike: its
// algorithm, zones, panic threshold, health checks, outlier detection,
// slow start, session affinity (sticky.Header mode: the header name, in
// lower case, is the metadata key a call's binding is read from) and drain
// timeout. The policy's config fields for them (algorithm, localZone,
// localZoneMinHealthy, panicThreshold, health, outlier, slowStart, sticky,
// drainTimeout) are ignored, with a warning logged (grpclog component
// "elb") each time the ignored set changes. Two fields stay the channel's:
// hashKey (the metadata key whose value is group.Request.Key) and
// failureCodes (which status codes count as failures of the backend).
//
// # What a call reports
//
// Each call ends its pick with group.Pick.DoneWith: its status (a failure
// if failureCodes has its code), its latency (from the pick to gRPC's
// report of the end: for a streaming call, the stream's whole life, so
// peak_ewma suits channels of unary calls; prefer least_request for
// long-lived streams) and the server's backoff hint: a trailer
// grpc-retry-pushback-ms of decimal digits (gRFC A6) benches the server
// for that many milliseconds, at most MaxPushback (1 minute), for
// peak_ewma, least_request and weighted_least_connections, which send it
// no call while another server can take one. A negative or malformed
// value is ignored.
//
// # Other resolvers
//
// The policy works under gRPC's own resolvers too ("dns:///orders:8080",
// "passthrough:///10.0.0.5:8080", "unix:///run/orders.sock"), selected by
// a service config. It then keeps a group.Group of the channel's own
// (registered in Channels), whose members are the resolver's addresses,
// all with the default weight, and whose settings are every field of the
// policy's Config. That group starts afresh when gRPC rebuilds the policy.
// An address that cannot be used (an empty one) puts the channel in
// TRANSIENT_FAILURE with an error that says why.
//
// # Service config
//
// gRPC prefers a resolver's service config to the default one
// (grpc.WithDefaultServiceConfig), and with neither runs pick_first, which
// sends every call to one server. So the elb resolver supplies a service
// config selecting "elb" (with the retry policy of RetryIdempotent, if
// given), but only to a channel that does not run "elb" already: its first
// update is a probe with no service config and no address, and if it
// reaches an "elb" policy (one the user's default service config selects,
// with a hashKey, say) the user's config stays in force, untouched;
// otherwise the resolver's config replaces pick_first at once. Having no
// address to connect to, pick_first takes no call meanwhile: every call of
// the channel, its first included, is picked from the group and counted in
// its Stats.
//
// To keep a policy other than "elb" on an elb:/// target (gRPC's
// round_robin, say), pass grpc.WithDisableServiceConfig() with your
// default service config: gRPC then ignores the resolver's config, and the
// resolver offers none.
//
// # How a call is balanced
//
// A call's Done reports its status to the member: the codes of
// Config.FailureCodes count as failures, for outlier detection and the
// statistics; every call counts for least_request. An attempt gRPC ends
// before it opened the attempt's stream (DoneInfo.BytesSent false) never
// reached the server, and counts neither as a request nor as a failure:
// the connection no longer ready, closing or draining (GOAWAY) before the
// stream, which gRPC retries transparently with a new pick, counted in its
// turn; or an error of the client's own before it (per-RPC credentials,
// the deadline while waiting for a stream the connection had no room
// for). So Stats counts the requests the backends were sent, and a
// draining server is charged no failure for the calls that went
// elsewhere. An attempt whose stream was opened counts, even one the
// server refused unprocessed (REFUSED_STREAM, a GOAWAY's last stream)
// that gRPC retries transparently: its DoneInfo does not tell it apart.
// The ORCA load report
// a call's trailer carries (endpoint-load-metrics-bin, as
// loadreport/grpcreport and grpc-go's orca package send it) goes to the
// member's balancer.Load, for load_report_wrr; with Config.OOBLoadReport,
// so do the reports of ORCA's out-of-band stream on each connection. This
// package links grpc-go's orca package, which makes gRPC parse that
// trailer on every call that has one (one allocation of the proto).
//
// gRPC's retries (a retry policy's, such as RetryIdempotent's, and its
// transparent retries) call the picker again for each attempt, with a
// context of the attempt's own: nothing tells the policy that a pick is a
// retry, or which member the previous attempt went to, so it cannot
// exclude that member the way httpgroup's retries do (group.Group.Repick).
// What sends a retry elsewhere is the algorithm's next choice, and that a
// member whose connection fails leaves the channel's view as soon as its
// pick_first child reports it.
//
// With no endpoint connected, calls wait (CONNECTING) or fail fast
// (TRANSIENT_FAILURE; wait-for-ready calls keep waiting) exactly as with
// gRPC's own policies. With endpoints connected but none that can take a
// call (all unhealthy, all weight 0) the channel is in TRANSIENT_FAILURE,
// and while a connected endpoint's member awaits its group's first health
// checks it is CONNECTING (calls wait).
//
// # Health checks
//
// Under elb:///, health is the registry group's (group.Config.Health,
// with any prober, health.GRPCProbe for grpc.health.v1). Under other
// resolvers, Config.Health alone turns on active checks: grpc.health.v1
// Check calls sent over each endpoint's own connection (so they use the
// channel's credentials), with elb's intervals and thresholds. A
// connection that comes up is checked at once, and one that comes back
// takes calls again only once that check passes. Unlike gRPC's own
// client-side health checking it needs no blank import and no
// healthCheckConfig; a server that does not implement the health service
// fails its checks, with an error that says so, rather than passing them.
package grpcgroup
