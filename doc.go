// Package elb is client-side load balancing for Go: the backend server
// group of a cloud load balancer, inside the client process.
//
// A group holds backends (address, weight 0-100, zone, metadata) and picks
// one for each request with a pluggable algorithm: round robin, smooth
// weighted round robin, random and weighted random, weighted least
// connections, least request (power of two choices), peak EWMA (power of
// two choices on a latency estimate that counts failures and decays with
// time) and consistent hashing
// (Maglev) on a key or on the client's IP. Picking is lock-free and
// allocation-free. Backends are added, re-weighted and removed while
// requests flow; a removed backend drains (its requests in flight finish)
// instead of being cut off. Health checks (active probes and passive
// outlier detection) decide which backends take requests: a new backend
// gets traffic only once proven healthy, a failing one is taken out and let
// back after repeated successes, with slow start, zone failover and panic
// mode. Statistics show each backend's state, requests, failures and
// requests in flight, and a registry finds every group that holds a backend
// by its IP, address or ID.
//
// With health checks:
//
//	g, err := group.New(group.Config{
//		Name:    "orders",
//		Health:  &health.Config{Probe: health.HTTPProbe("/healthz")}, // every 5s, thresholds 3/3
//		Outlier: &health.OutlierConfig{},                            // 5 failed requests in a row eject
//	})
//
// # Quick start
//
// Make a group, add backends, and pick one per request:
//
//	g, err := group.New(group.Config{Name: "orders", Algorithm: "weighted_round_robin"})
//	if err != nil {
//		return err
//	}
//	err = g.Add(
//		group.Backend{Addr: "10.0.1.5:8080", Weight: group.Weight(10), Zone: "az1"},
//		group.Backend{Addr: "10.0.2.7:8080", Weight: group.Weight(5), Zone: "az2"},
//	)
//
//	p, err := g.Pick(ctx, group.Request{Key: userID})
//	if err != nil {
//		return err // no backend can take the request
//	}
//	err = callBackend(ctx, p.Addr())
//	p.Done(err) // once: ends the request, counts a failure if err != nil
//
// # HTTP
//
// With net/http, wrap a client's transport (package httpgroup):
//
//	client := &http.Client{Transport: httpgroup.NewTransport(g, nil)}
//	resp, err := client.Get("http://orders/api/v1/items") // to a backend of g
//
// Any other protocol works with Pick and Done directly: pick a backend,
// send the request to it and report the outcome:
//
//	p, err := g.Pick(ctx, group.Request{Source: clientAddr})
//	if err != nil {
//		return err
//	}
//	err = call(ctx, p.Addr())
//	p.Done(err)
//
// examples/demo does this against local backends: go run ./examples/demo.
//
// # gRPC
//
// Register a registry's groups as the resolver of elb:/// targets (package
// grpcgroup): a channel to elb:///orders then picks from the group
// orders itself, with the "elb" LB policy, which the resolver selects.
//
//	grpcgroup.Register(reg)
//	conn, err := grpc.NewClient("elb:///orders",
//		grpc.WithTransportCredentials(insecure.NewCredentials()))
//
// # Discovery and operations
//
// group.Sync keeps a group in step with a group.Source: package discovery
// has DNS (SRV, A/AAAA) and JSON file sources. Registry.Handler serves the
// groups' statistics as JSON and as a text table, and Config.Logger logs
// every state change with log/slog.
//
// # Packages
//
//   - balancer: the Algorithm and Picker interfaces, the registry of
//     algorithms by name, and the built-ins. Register your own and every
//     part of elb can select it by name.
//   - group: the backend group: membership, weights, zones, draining,
//     Pick and Done, statistics, events, and the Registry of groups.
//   - health: which backends can take requests: the health state machine
//     (Initial, Healthy, Unhealthy, Ejected, Draining), active probes (TCP,
//     HTTP(S), gRPC health v1, custom) run with bounded concurrency,
//     passive outlier detection and slow start. group.Config turns them on
//     for a group, with zone failover and panic mode.
//   - sticky: session affinity: a signed load-balancer cookie, an
//     application cookie or header/metadata value in a bounded TTL table,
//     or the client's IP. group.Config.Sticky turns it on; bindings heal
//     when their backend cannot take a request.
//   - httpgroup: an http.RoundTripper over a group, for an
//     http.Client or an httputil.ReverseProxy: balancing, retries on other
//     backends that never send a request twice unless that is safe, and
//     sticky cookies.
//   - grpcgroup: a gRPC resolver (elb:///GROUP) and LB policy
//     ("elb") with elb's algorithms, health checks over the channel's own
//     connections, outlier detection, metadata affinity and ORCA load
//     reports.
//   - loadreport: the server half of load reports, which load_report_wrr
//     balances by: a net/http middleware that sets the
//     Endpoint-Load-Metrics header, and (loadreport/grpcreport) ORCA
//     trailers and streams for a gRPC server. grpcgroup and grpcreport
//     are the only packages that import gRPC.
//   - discovery: group sources that follow DNS and JSON files.
//
// balancer, health and sticky import no other elb package but this one,
// for its configuration error; each can be used alone.
//
// # Configuration errors
//
// Every configuration value that elb rejects, whichever package checks it,
// is a [*ConfigError]: the value's path from the configuration checked
// (Go field names for Go structs, JSON member names for JSON), the value
// and the cause, and errors.Is(err, [ErrInvalidConfig]) holds for all of
// them. group.New's errors put the group's name first:
//
//	elb: group "orders": Health.Interval: 100ms must be 1s-50s
//	elb: group "orders": Algorithm.least_request.choiceCount: 1 must be 2-10
//	elb: health.intervl: unknown field (the gRPC policy's JSON)
package elb
