//go:build race

package grpcgroup_test

// raceEnabled is set when the tests run under the race detector, which
// makes loopback gRPC many times slower: load tests scale down.
const raceEnabled = true
