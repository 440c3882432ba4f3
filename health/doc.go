// Package health decides which backends can take requests: the health
// state machine of a cloud load balancer's backend group, the active probes
// that feed it, passive outlier detection and slow start.
//
// The package imports no other elb package but the root one (its
// configuration error, elb.ConfigError) and can be used on its own; the
// group package wires it into a backend group (group.Config's Health,
// Outlier and SlowStart fields).
//
// # States
//
// A backend is Initial when added (not yet proven: no traffic), Healthy
// after Config.HealthyThreshold passed probes in a row, Unhealthy after
// Config.UnhealthyThreshold failed ones, and Healthy again after
// HealthyThreshold passes. A pass ends a run of failures and a failure ends
// a run of passes. Ejected
// (by outlier detection) and Draining (removed) are set by the group. Only
// a Healthy backend takes new requests (State.Serving).
//
// # Startup
//
// A new backend is probed at once, then every Config.InitialInterval (1s)
// until it is judged (HealthyThreshold passes or UnhealthyThreshold
// failures in a row), then every Interval: it is admitted about
// (HealthyThreshold-1) x InitialInterval after it is added, not
// HealthyThreshold x Interval.
//
// The one exception to "HealthyThreshold passes", taken from Envoy ("during
// startup, only a single successful health check is required"), is the
// group package's cold start: a backend added to a group that has never had
// a backend take requests is admitted on its first passed probe,
// since nothing else could serve and waiting would only delay the first
// request. A backend added to a group that has served (a running group)
// needs HealthyThreshold passes, as does every return from Unhealthy.
//
// # Active probes
//
// A Prober checks one backend: TCPProbe (a connection opens), HTTPProbe
// (method, path, Host header, expected codes such as "200-399", over HTTP or
// HTTPS), GRPCProbe (the standard grpc.health.v1 protocol, spoken with the
// standard library's HTTP/2 so that HTTP-only programs link no gRPC code),
// or any ProbeFunc. The group runs the probes of its backends every
// Config.Interval plus a random jitter, so that many clients do not
// probe in step; a probe that outlives Config.Timeout fails; at most
// Config.Concurrency probes run at once, on at most as many goroutines,
// however many targets there are; Close stops them all. Defaults and
// ranges are a cloud product's: interval 5s (1-50s), timeout 3s (1-50s, at
// most the interval), thresholds 3 and 3 (1-10). Every field out of range
// is an *elb.ConfigError naming it.
//
// # Outlier detection
//
// OutlierConfig is Envoy's consecutive-failures detector: a backend whose
// requests fail ConsecutiveFailures times in a row (5) is ejected for
// BaseEjectionTime (30s) times the number of its recent ejections, at most
// MaxEjectionTime (300s), with at most MaxEjectionPercent (10%, and always
// at least one backend) of a group ejected at once. With active checks on,
// an ejected backend returns only when a probe at the end of its ejection
// passes.
//
// # Slow start
//
// SlowStart ramps the weight of a backend that has just become healthy
// linearly from MinWeightPercent (10%) to all of it over Window (30-1200s),
// so that a cold backend is not flooded.
//
// # Time
//
// Everything that waits takes its time from a Clock, so tests run on a fake
// clock: deterministic and fast.
package health
