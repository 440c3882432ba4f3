//go:build race

package prometheus_test

// raceEnabled says whether the tests run under -race.
const raceEnabled = true
