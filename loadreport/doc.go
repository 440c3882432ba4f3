// Package loadreport is the server half of load reports: what a backend
// tells its clients about its own load, so that their balancers (elb's
// load_report_wrr, gRPC's weighted_round_robin, Envoy's
// client_side_weighted_round_robin) can send it its share.
//
// A [Reporter] counts the server's requests in flight, their rate, their
// failures' rate and their latency, and turns them into reports:
//
//   - over HTTP, [Reporter.Handler] sets each response's
//     Endpoint-Load-Metrics [Header], as Envoy reads it: TEXT (the
//     default), JSON or BIN (base64 of the ORCA proto);
//   - over gRPC, package grpcreport sends them as ORCA per-call trailers
//     (endpoint-load-metrics-bin) and, optionally, on ORCA's out-of-band
//     stream (xds.service.orca.v3.OpenRcaService).
//
// The reported utilization is, by default, requests in flight per unit of
// Config.Capacity (GOMAXPROCS unless set): a server's own queue, which no
// single client sees when many share it. A server that knows better (CPU
// from its cgroup) supplies Config.Utilization.
//
// The client half is in elb's adapters: httpgroup reads the header with
// [Parse], grpcgroup reads ORCA trailers (and, configured so, streams),
// and both hand the reports to the group, which records them on the
// backend's balancer.Load for the algorithms.
//
// Package loadreport imports no gRPC code, so that an HTTP client or
// server links none: the gRPC half is the subpackage grpcreport.
package loadreport
