//go:build !race

package group_test

// raceEnabled is set when the tests run under the race detector, which
// makes them about ten times slower: size tests scale down.
const raceEnabled = false
