//go:build race

package native

// raceEnabled reports that the tests run under the race detector.
const raceEnabled = true
