//go:build !race

package httpgroup_test

// raceEnabled is set when the tests run under the race detector, which
// makes loopback HTTP about ten times slower: load tests scale down.
const raceEnabled = false
