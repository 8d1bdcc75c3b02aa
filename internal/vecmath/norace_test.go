//go:build !race

package vecmath

const raceEnabled = false
