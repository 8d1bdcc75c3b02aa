package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/bench"
	configcmd "github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/config"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/conformance"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/export"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/generate"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/inspect"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/parity"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/run"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/verify"
	versioncmd "github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/version"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/atomicfile"
	"github.com/xt2onnx/xt2onnx/internal/buildinfo"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers the "native" backend
	"github.com/xt2onnx/xt2onnx/runtime/native/engine"
	"github.com/xt2onnx/xt2onnx/runtime/ort" // registers the "ort" backend
)

// version is the xt2onnx version release builds set with
// -ldflags "-X main.version=…"; without it (go install, go build) main
// takes the version from the build information (internal/buildinfo).
var version string

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitUnsupported = 3
)

// gracePeriod is how long a command may take to stop on its own after
// SIGINT or SIGTERM (generate prints the tokens it has) before the process
// exits regardless; a second signal exits at once.
const gracePeriod = 750 * time.Millisecond

func main() {
	xtexport.Version = buildinfo.Version(version)
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		ie := &cmdutil.InterruptError{Signal: sig}
		// No file may be renamed into place from now on, and no
		// temporary file is left behind.
		atomicfile.Abort()
		cancel(ie)
		select {
		case <-time.After(gracePeriod):
		case <-sigs:
		}
		fmt.Fprintf(os.Stderr, "xt2onnx: %s\n", ie)
		os.Exit(ie.Status())
	}()
	code := execute(ctx, os.Args[1:], iostreams.System())
	os.Exit(code)
}

// execute runs the command line args and returns the exit status. A
// command stopped because ctx was cancelled by a signal exits with the
// signal's status (130, 143) and a one-line message.
func execute(ctx context.Context, args []string, ios *iostreams.IOStreams) int {
	root := newRootCmd(factory.New(ios, buildinfo.Version(version)))
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var ie *cmdutil.InterruptError
	if errors.As(context.Cause(ctx), &ie) {
		fmt.Fprintf(ios.ErrOut, "xt2onnx: %s\n", ie)
		return ie.Status()
	}
	return exitStatus(err, cmd, ios.ErrOut)
}

// newRootCmd returns the xt2onnx command with its subcommands.
func newRootCmd(f *factory.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "xt2onnx <command>",
		Short: "export x-transformers models to ONNX and run them",
		Long: `xt2onnx builds ONNX graphs of x-transformers 1.9.1 and 1.9.2 models from their config
and weights, runs and inspects ONNX models, and verifies exports against
reference fixtures made with PyTorch.

Data goes to stdout; errors, notes and progress to stderr. Exit status: 0 on
success, 1 on an error or a verify FAIL, 2 on a usage error, 3 when the model
uses an option or operator that is not supported.

Shell completion: "xt2onnx completion bash" (or zsh, fish, powershell) prints
a completion script; for bash, add 'source <(xt2onnx completion bash)' to
~/.bashrc. See "xt2onnx completion --help".`,
		Example: `  xt2onnx export --preset tiny -o tiny.onnx
  xt2onnx inspect tiny.onnx
  xt2onnx run tiny.onnx --random --batch 2 --seq 16
  xt2onnx verify --fixture fixtures/xtransformers-1.9.2/dec_basic
  xt2onnx generate --preset tiny --prompt-tokens 1,2,3 --max-new 16
  xt2onnx bench --preset base --generate 256 --prompt-len 32
  source <(xt2onnx completion bash)`,
		Version:       f.Version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetVersionTemplate("xt2onnx {{.Version}}\n")
	f.AddGlobalFlags(root.PersistentFlags())
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return cmdutil.FlagErrorWrap(err)
	})
	root.AddCommand(
		export.NewCmdExport(f, nil),
		run.NewCmdRun(f, nil),
		generate.NewCmdGenerate(f, nil),
		bench.NewCmdBench(f, nil),
		inspect.NewCmdInspect(f, nil),
		verify.NewCmdVerify(f, nil),
		configcmd.NewCmdConfig(f, nil),
		parity.NewCmdParity(f, nil),
		conformance.NewCmdConformance(f, nil),
		versioncmd.NewCmdVersion(f, nil),
	)
	cmdutil.RegisterEnumCompletions(root)
	return root
}

// exitStatus prints err to stderr as "xt2onnx: message" (with a usage hint
// for usage errors) and returns the exit status for it: 0 for nil, 2 for a
// usage error, 3 for an unsupported model option, 1 otherwise (silently for
// cmdutil.ErrSilent). cmd is the command that ran.
func exitStatus(err error, cmd *cobra.Command, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, cmdutil.ErrSilent) {
		return exitError
	}
	fmt.Fprintf(stderr, "xt2onnx: %s\n", cmdutil.UserMessage(err.Error()))
	var noORT *ort.LibraryNotFoundError
	if errors.As(err, &noORT) {
		fmt.Fprintln(stderr, "xt2onnx: or run without ONNX Runtime: add --backend native (the pure-Go backend, no library needed)")
	}

	var flagErr *cmdutil.FlagError
	var builderUnsupported *builder.UnsupportedError
	var importUnsupported *onnximport.UnsupportedError
	var opsUnsupported *engine.UnsupportedOpsError
	switch {
	case errors.As(err, &flagErr) || strings.HasPrefix(err.Error(), "unknown command "):
		if cmd != nil {
			fmt.Fprintf(stderr, "Usage: %s\nRun '%s --help' for more.\n", cmd.UseLine(), cmd.CommandPath())
		}
		return exitUsage
	case errors.As(err, &builderUnsupported), errors.As(err, &importUnsupported), errors.As(err, &opsUnsupported):
		return exitUnsupported
	}
	return exitError
}
