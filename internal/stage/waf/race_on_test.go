//go:build race

package waf_test

// raceEnabled is true under -race, where Coraza runs about ten times slower:
// the detection table then runs on a sample of the payloads and leaves the
// rate targets to the normal (non-race) run.
const raceEnabled = true
