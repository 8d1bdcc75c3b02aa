package cmdutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// FlagError is a usage error: a bad flag, flag combination or argument. The
// command prints it with a hint to the usage and exits with status 2.
type FlagError struct {
	err error
}

// FlagErrorf returns a *FlagError with the formatted message.
func FlagErrorf(format string, args ...any) error {
	return &FlagError{err: fmt.Errorf(format, args...)}
}

// FlagErrorWrap marks err as a usage error.
func FlagErrorWrap(err error) error { return &FlagError{err: err} }

// Error returns the message.
func (e *FlagError) Error() string { return e.err.Error() }

// Unwrap returns the wrapped error.
func (e *FlagError) Unwrap() error { return e.err }

// ErrSilent makes the command exit with status 1 without printing anything
// more: the command has already said why (verify's FAIL line).
var ErrSilent = errors.New("silent error")

// InterruptError is the cause of the context of a command stopped by a
// signal (SIGINT, SIGTERM): the command exits with status 128 + the
// signal's number (130, 143), as shells report it.
type InterruptError struct {
	// Signal is the signal received.
	Signal os.Signal
}

// Error names the signal.
func (e *InterruptError) Error() string { return "interrupted by " + SignalName(e.Signal) }

// Status returns the exit status for the signal: 130 for SIGINT, 143 for
// SIGTERM, 128 + its number for another.
func (e *InterruptError) Status() int {
	if s, ok := e.Signal.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// SignalName returns "SIGINT", "SIGTERM" or the signal's own description.
func SignalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// CheckOutputFile returns a *FlagError when path, the value of flag, is an
// existing directory: a file name is wanted, such as example inside it.
func CheckOutputFile(flag, path, example string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return FlagErrorf("%s %s is a directory: name the file to write, such as %s", flag, path, filepath.Join(path, example))
	}
	return nil
}
