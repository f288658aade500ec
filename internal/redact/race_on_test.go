//go:build race

package redact

// raceEnabled is true under -race, where sync.Pool drops items at random
// by design, so allocation counts are not the code's.
const raceEnabled = true
