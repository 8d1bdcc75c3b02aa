package iostreams

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the streams of one command invocation: data goes to Out,
// errors, notes and progress to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdoutTTY bool
	stderrTTY bool
	progress  bool // a progress line is on ErrOut
}

// System returns the process's standard streams, with terminal detection.
func System() *IOStreams {
	return &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
	}
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Test returns streams backed by buffers, with no terminal: stdin (empty),
// stdout and stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsStdoutTTY reports whether Out is a terminal: tables get a header and
// aligned columns there, and tab-separated rows otherwise.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether ErrOut is a terminal, where progress is shown.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdoutTTY overrides terminal detection for Out (for tests).
func (s *IOStreams) SetStdoutTTY(tty bool) { s.stdoutTTY = tty }

// SetStderrTTY overrides terminal detection for ErrOut (for tests).
func (s *IOStreams) SetStderrTTY(tty bool) { s.stderrTTY = tty }

// StartProgress shows a one-line status such as "building model…" on ErrOut
// when it is a terminal, replacing the previous one; it does nothing
// otherwise.
func (s *IOStreams) StartProgress(format string, args ...any) {
	if !s.stderrTTY {
		return
	}
	fmt.Fprintf(s.ErrOut, "\r\x1b[K"+format+"…", args...)
	s.progress = true
}

// StopProgress erases the status line StartProgress drew, if any.
func (s *IOStreams) StopProgress() {
	if !s.progress {
		return
	}
	fmt.Fprint(s.ErrOut, "\r\x1b[K")
	s.progress = false
}
