// Package cmdtest is the one harness the command tests share: parse a
// command line into a command's options (Parse), or run it on test streams
// (Run).
package cmdtest

import (
	"errors"
	"io"
	"testing"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
)

// NewCmd is a command's constructor: runF, when not nil, receives the
// parsed options instead of the command running.
type NewCmd[O any] func(f *factory.Factory, runF func(*O) error) *cobra.Command

// Parse runs newCmd's argument and flag checks on args and returns the
// options it would run with. With wantErr set it instead checks that
// parsing fails with exactly that message, as a usage error (a
// *cmdutil.FlagError) when flagErr is set, and returns nil.
func Parse[O any](t *testing.T, newCmd NewCmd[O], args []string, wantErr string, flagErr bool) *O {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	var got *O
	cmd := newCmd(factory.New(ios, "test"), func(o *O) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	_, err := cmd.ExecuteC()
	if wantErr != "" {
		if err == nil || err.Error() != wantErr {
			t.Fatalf("error = %v, want %q", err, wantErr)
		}
		var fe *cmdutil.FlagError
		if errors.As(err, &fe) != flagErr {
			t.Errorf("error is a usage error: %v, want %v", !flagErr, flagErr)
		}
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("the command ran without calling runF")
	}
	return got
}

// Run runs newCmd on args for real, on test streams that are terminals
// when tty is set, and returns what it wrote and its error.
func Run[O any](t *testing.T, newCmd NewCmd[O], tty bool, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(tty)
	ios.SetStderrTTY(tty)
	cmd := newCmd(factory.New(ios, "test"), nil)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	_, err = cmd.ExecuteC()
	return out.String(), errOut.String(), err
}
