// Package grpcgroup brings elb's backend groups to gRPC: a resolver that
// publishes a group's members to a channel, and an LB policy, "elb", that
// balances a channel's calls with elb's algorithms, weights, zones, health
// checks, outlier detection, slow start and metadata affinity.
//
// Importing the package registers the policy, which a service config
// selects:
//
//	grpcgroup.Register(reg) // elb:///NAME resolves reg's group NAME
//	conn, err := grpc.NewClient("elb:///orders",
//		grpc.WithTransportCredentials(insecure.NewCredentials()),
//		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig": [{"elb": {"algorithm": "least_request"}}]}`))
//
// The policy works under gRPC's own resolvers too ("dns:///orders:8080",
// "passthrough:///10.0.0.5:8080", "unix:///run/orders.sock"): it then
// balances the resolver's addresses, all with the default weight. An
// address that cannot be used (an empty one) puts the channel in
// TRANSIENT_FAILURE with an error that says why.
//
// # How a call is balanced
//
// Each channel's policy keeps a group.Group of its own (see Channels), whose members are
// the resolver's endpoints (with the weight, zone and ID of the group
// behind an elb:/// target) and whose configuration is the policy's
// Config. Every endpoint has a pick_first child (gRPC's endpointsharding),
// and a member takes calls only while its child is READY, as well as
// healthy and serving in the group behind the target
// (group.Config.AwaitReady). A call's Done reports its status to the
// member: the codes of Config.FailureCodes count as failures, for outlier
// detection and the statistics; every call counts for least_request.
//
// gRPC's retries (a retry policy's, and its transparent retries) call the
// picker again for each attempt, with a context of the attempt's own:
// nothing tells the policy that a pick is a retry, or which member the
// previous attempt went to, so it cannot exclude that member the way
// httpgroup's retries do (group.Group.Repick). What sends a retry
// elsewhere is that a member whose connection fails leaves the pick set as
// soon as its pick_first child reports it.
//
// A new group is built when the policy's config changes, and when gRPC
// rebuilds the policy after the channel was idle (30 minutes by default):
// ejections, slow-start ramps and sticky bindings start afresh then.
//
// With no endpoint connected, calls wait (CONNECTING) or fail fast
// (TRANSIENT_FAILURE; wait-for-ready calls keep waiting) exactly as with
// gRPC's own policies. With endpoints connected but none that can take a
// call (all unhealthy, all weight 0) the channel is in TRANSIENT_FAILURE,
// and with endpoints awaiting their first health checks (the policy's or
// those of the group behind an elb:/// target) it is CONNECTING.
//
// # Health checks
//
// Config.Health alone turns on active checks: grpc.health.v1 Check calls
// sent over each endpoint's own connection (so they use the channel's
// credentials), with elb's intervals and thresholds. A connection that
// comes up is checked at once, and one that comes back takes calls again
// only once that check passes. Unlike gRPC's own
// client-side health checking it needs no blank import and no
// healthCheckConfig; a server that does not implement the health service
// fails its checks, with an error that says so, rather than passing them.
// Health checks run in addition to the health of the group behind an
// elb:/// target.
package grpcgroup
