package cmdutil

import (
	"errors"
	"fmt"
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
