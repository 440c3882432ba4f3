//go:build race

package balancer

// raceEnabled is set when the tests run under the race detector, which
// makes the simulations about fifteen times slower: they run without it
// (.ci/run runs them so).
const raceEnabled = true
