// Package balancer defines elb's load-balancing algorithms: the
// [Algorithm] and [Picker] interfaces, a registry of algorithms by name,
// and the built-in algorithms.
//
// A group builds a [Picker] from its eligible endpoints with
// [Algorithm.Build] whenever they change, and calls [Picker.Pick] for every
// request. Pick returns an index into the endpoints the picker was built
// from.
//
// # Built-in algorithms
//
// Each is registered under its name at init; n is the number of endpoints.
//
//	name                        what                                            Pick
//	round_robin                 rotation, weights ignored                       O(1)
//	weighted_round_robin        smooth WRR (nginx sequence), lock-free table    O(1)
//	weighted_random             random in proportion to weight (alias method)   O(1)
//	random                      uniform random, weights ignored                 O(1)
//	weighted_least_connections  fewest in-flight per weight, ties weighted RR   O(1) idle, O(n) busy
//	least_request               best of 2 (to 10) random by in-flight/weight    O(1)
//	peak_ewma                   best of 2 (to 10) by latency x (in-flight+1)/w  O(1)
//	consistent_hash             Maglev table on Request.Key                     O(1)
//	source_ip_hash              Maglev table on the IP of Request.Source        O(1)
//	load_report_wrr             WRR by server load reports (gRFC A58), or P2C   O(1)
//
// # Writing an algorithm
//
// Implement [Algorithm]: Build receives at least one endpoint, each of
// weight at least 1, and returns a Picker; Pick returns an index into that
// slice. Register the algorithm under a new name, usually from an init
// function, and select it by that name:
//
//	func init() {
//		if err := balancer.Register("prefer_zone", PreferZone{}); err != nil {
//			panic(err)
//		}
//	}
//
// If the algorithm has a method Validate() error, [Register] calls it and
// refuses an algorithm that fails it. Register never replaces a name,
// built-ins included.
//
// # Options by name
//
// [ParseConfig] selects an algorithm and sets its options from text, as
// gRPC reads the children of a loadBalancingConfig: a name alone
// ("least_request") or a JSON object of one name and its options
// ({"peak_ewma": {"choiceCount": 3, "decay": "5s"}}).
// group.Config.Algorithm and the gRPC policy's "algorithm" take this text.
// Each built-in implements [ConfigParser]: defaults are filled in, the
// options decoded over them (an unknown one is an error) and the result
// validated, every error an *elb.ConfigError with the option's path
// ("least_request.choiceCount: 1 must be 2-10"). least_request has
// choiceCount (2-10, default 2); peak_ewma has choiceCount (default 3), decay
// ("100ms"-"10m", default "3s") and failurePenalty ("1ms"-"1m", default
// "1s"); load_report_wrr has the options of [LoadReportWRR.ParseConfig];
// the others take {}. An algorithm of your own takes options by implementing
// ConfigParser; ParseConfig hands it the options of its name. (An
// algorithm that embeds a built-in inherits the built-in's ParseConfig
// unless it declares its own.)
//
// # Concurrency
//
// Build may be called concurrently for different groups, and may keep the
// endpoints slice: the caller does not modify it. A Picker is immutable
// once built; Pick is called concurrently from many goroutines and must not
// block, lock or allocate. Every built-in Pick is lock-free and
// allocation-free. Live load comes from each endpoint's [Load], which the
// group updates atomically and which is shared by the pickers built over
// time, so load-aware pickers see in-flight counts, latency estimates,
// backoff hints ([Load.Bench]) and the servers' load reports
// ([Load.RecordServerLoad]) across rebuilds. peak_ewma, least_request
// and weighted_least_connections avoid benched endpoints; the others
// ignore benches.
package balancer
