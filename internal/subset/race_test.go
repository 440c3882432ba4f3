//go:build race

package subset

const raceEnabled = true
