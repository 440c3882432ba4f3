// Command taillab measures the tail latency of elb's load-balancing
// algorithms near the physical limit of a cluster, against the same
// cluster with equal backends at the same load, measured in the same run.
//
// It starts 10 loopback backends (127.0.0.1:0, h2c), each serving 2
// requests at once, each in a service time drawn from the exponential
// distribution of mean -service (50 ms by default; -dist fixed makes it
// constant), and queueing the rest in order, and sends them open-loop Poisson
// arrivals at a rate set from the cluster's capacity times the scenario's
// load, through an httpgroup.Transport over a group with the algorithm
// under test. Every request is timed from its scheduled send time, not
// its actual one, so a load generator that falls behind (coordinated
// omission) shows in the figures; the send lag itself is printed, with
// how far the backends' timers overshoot the service time, to show
// whether the client and the backends, sharing the machine's CPUs,
// distort what is measured.
//
// Scenarios (baselines run in the same repeat):
//
//	S1-70, S1-90  equal backends at 70% and 90% load
//	S2            one backend 10x slower, 70% load (baseline S1-70)
//	S3            three backends 5x slower for the middle third of the run,
//	              at 80% of the degraded capacity; the bad phase and what
//	              follows are reported apart (baseline S3-eq: equal
//	              backends at the same rate)
//	S4, S4-retry  one backend answers 503 in 1 ms half the time, 70% load,
//	              retries off and on (httpgroup's RetryStatus, 3 attempts)
//	S5            8 independent clients (own group, Transport and
//	              connections each, as separate processes) with S3's
//	              antagonist (baseline S5-eq)
//
// The table has, per scenario, algorithm and window, the medians over
// -repeats runs (3) of p50, p90, p99 and p99.9 latency, the p99's range
// over the repeats, the ratio of p99 to the equal-backend baseline and to
// weighted_least_connections, the error, 503 and timeout rates, each
// backend's share of the answers and the affected backends' sum.
//
//	go run . -quick                      # every scenario once, about 10 s
//	go run . -service 10ms               # 3 algorithms, 3 s runs: about 5 minutes
//	go run . -algos 'round_robin,peak_ewma' -scenarios S2
//
// On a machine other jobs keep busy, the send lag and the timers show it
// (a run whose send lag p99 is over a tenth of the service time, or whose
// timers are late by a fifth at p99, is run again, -reruns times); running
// the built binary under real-time priority (chrt -f 5, as root) keeps
// them under a millisecond. The README has the table and how it was made.
//
// Algorithms that learn from what servers report or answer to probes need
// the backends to run package loadreport's server half: see hooks.go.
package main
