// Package prometheus exports the statistics of the groups in a
// group.Registry as Prometheus metrics: NewCollector returns a
// prometheus.Collector to register with a prometheus.Registerer and serve
// with promhttp, or to serve with its own Handler, some 25 times faster.
//
// It is a module of its own (github.com/go-elb/elb/metrics/prometheus), so
// that a program importing elb's core packages links no Prometheus code and
// requires none of its modules: only a program that imports this package
// does. Until elb is tagged, a program of its own module imports it
// through a replace of both modules, github.com/go-elb/elb and this one, to
// a checkout of elb: go get cannot resolve this module's placeholder
// requirement of the root (the README's "Importing it from your program").
//
// Every figure comes from group.Stats, read once per group per scrape
// (Stats holds the group's lock while it copies it: see Collector).
//
// # Serving
//
// Two ways serve the same series, byte for byte. A Collector registered
// with a prometheus.Registerer and served with promhttp costs what the
// client library spends on each series it gathers (it checks, hashes and
// sorts each of the 16 a backend has): some 27 ms of CPU a scrape of 1,000
// backends, 280 ms at 10,000. Collector.Handler writes the same text
// directly, beside the metrics of a prometheus.Gatherer (such as
// prometheus.DefaultGatherer, which must then not hold the Collector): 1.0
// ms at 1,000 backends, 13 ms at 10,000, Stats included, linear in the
// backends; 3.8 ms and 37 ms gzipped, as Prometheus asks for it
// (BenchmarkScrape; figures in the README).
//
// # Metrics
//
// Per backend, labelled group (Config.Name), backend (Backend.ID) and zone
// (Backend.Zone, "" for none):
//
//	elb_requests_total                    counter  requests picked for the backend
//	elb_request_failures_total            counter  requests it ended with an error
//	elb_in_flight_requests                gauge    requests picked and not yet done
//	elb_latency_ewma_seconds              gauge    moving average of its request latency
//	elb_weight                            gauge    configured weight, 0-100
//	elb_effective_weight                  gauge    the weight balanced with (slow start)
//	elb_ejections_total                   counter  ejections by outlier detection
//	elb_sticky_hits_total                 counter  requests that followed their binding (sticky groups)
//	elb_health_checks_passed_total        counter  probes that passed (once probed)
//	elb_health_checks_failed_total        counter  probes that failed (once probed)
//	elb_health_check_duration_seconds     summary  probe durations: _sum and _count (once probed)
//	elb_backend_state{state}              gauge    1 for the backend's state, 0 for the other four
//
// elb_backend_state is a state set: one series per state (initial,
// healthy, unhealthy, ejected, draining), 1 for the state the backend is
// in, so that sum by (state) (elb_backend_state) counts the backends in
// each state and a change of state changes values, not series.
//
// Per group, labelled group: elb_group_requests_total,
// elb_group_request_failures_total, elb_group_in_flight_requests,
// elb_group_backends, elb_available_backends, elb_no_backend_picks_total,
// elb_drain_timed_out_requests_total, elb_repeated_done_total,
// elb_events_dropped_total, elb_subscriber_panics_total, elb_panic_mode,
// elb_imbalance_ratio, elb_group_ejections_total,
// elb_group_health_checks_passed_total,
// elb_group_health_checks_failed_total, and with sticky sessions
// elb_group_sticky_hits_total, elb_sticky_misses_total,
// elb_sticky_rebinds_total and elb_sticky_entries. Per zone, labelled group
// and zone: elb_zone_backends and elb_zone_healthy_backends; and
// elb_route_zone{group,zone}, always 1, names the zone picks are confined
// to (zone="" while they spread over every zone).
//
// # Counters across membership changes
//
// A backend's series live while the group lists it, draining included, and
// stop when it is forgotten. The group's totals (elb_group_*_total) include
// every backend that has left, so they never fall: alert and graph on them,
// or on rate() of the per-backend counters, never on sum() of per-backend
// counters, which drops when a backend leaves. A backend removed and added
// back starts its counters from 0 (a counter reset, which rate() and
// increase() handle). A draining backend and the member that took its ID
// (an address change) share one series, their counters and in-flight
// requests summed, the member's gauges shown.
//
// # Cardinality
//
// Labels are the group's name, the backend's ID and zone and, for
// elb_backend_state, the state: nothing from requests. A group of n
// backends in z zones exports at most 16 x n + 2 x z + 20 series.
package prometheus
