// Package fuzzutil holds what the fuzz targets share: a watchdog that
// turns a hang into a crash the fuzzer records.
package fuzzutil

import (
	"fmt"
	"time"
)

// Watchdog panics, crashing the fuzz worker so that the fuzzer saves the
// input, when the returned stop function is not called within d: a hang
// or a pathologically slow input becomes a reproducible failure.
func Watchdog(d time.Duration, what string) (stop func()) {
	t := time.AfterFunc(d, func() {
		panic(fmt.Sprintf("fuzz: %s took more than %v on this input (a hang)", what, d))
	})
	return func() { t.Stop() }
}
