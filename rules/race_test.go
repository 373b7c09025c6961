//go:build race

package rules

// raceEnabled: the race detector's runtime allocates on its own, so
// allocation counts are only meaningful without it.
const raceEnabled = true
