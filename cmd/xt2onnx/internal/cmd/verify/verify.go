package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	xtverify "github.com/xt2onnx/xt2onnx/internal/verify"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Options are the parsed flags of `xt2onnx verify`.
type Options struct {
	IO  *iostreams.IOStreams
	Ctx context.Context

	FixtureDir string
	Backend    string
	Graph      string
	Tol        float64
	Opset      int64 // 0: the builder's default
	Inline     bool
	JSON       bool
}

// NewCmdVerify returns the verify command. runF, when not nil, is called
// with the parsed options instead of verifying (for tests).
func NewCmdVerify(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "verify --fixture DIR",
		Short: "check a model against an x-transformers reference fixture",
		Long: `Check a model against a reference fixture made with x-transformers 1.9.2: a
directory holding config.json, model.safetensors, io.safetensors (the inputs
and PyTorch's float64 output) and the graphs PyTorch exported.

The graph checked is the one xt2onnx builds from config.json and
model.safetensors (--graph built, the default) or one of PyTorch's
(torch_ts, torch_dynamo). It runs on the fixture's inputs with --backend, and
its outputs are compared with the reference. One line per output gives its
shape and max abs diff; the last line is the verdict, either
"PASS <case> graph=<g> backend=<b> max_abs_diff=<x>" or
"FAIL <case> graph=<g> backend=<b> <reason>". A build the builder does not
support yet is a FAIL, with the builder's message as the reason.

With --json the result is printed as one JSON object on one line (the
verdict line is its "line" field), which is then the last line.

The exit status is 0 only for PASS, and 1 for FAIL.`,
		Example: `  xt2onnx verify --fixture fixtures/xtransformers-1.9.2/dec_basic

  # PyTorch's own export, for comparison
  xt2onnx verify --fixture fixtures/xtransformers-1.9.2/dec_basic --graph torch_dynamo

  # Every fixture, verdicts only
  for d in fixtures/xtransformers-1.9.2/*/; do xt2onnx verify --fixture "$d" | tail -n 1; done`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return verifyRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.FixtureDir, "fixture", "", "fixture `DIR`ectory (config.json, model.safetensors, io.safetensors)")
	fl.StringVar(&opts.Backend, "backend", runtime.DefaultBackend, "runtime backend")
	cmdutil.StringEnumFlag(fl, &opts.Graph, "graph", "", xtverify.GraphBuilt, xtverify.Graphs, "graph to check")
	fl.Float64Var(&opts.Tol, "tol", xtverify.DefaultTol, "largest max abs diff that passes")
	fl.Int64Var(&opts.Opset, "opset", 0, "ONNX opset of the built graph (0: the default, "+fmt.Sprint(xtexport.DefaultOpset)+")")
	fl.BoolVar(&opts.Inline, "inline", false, "inline model-local functions in the built graph")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as one line of JSON")
	return cmd
}

func (o *Options) validate() error {
	switch {
	case o.FixtureDir == "":
		return cmdutil.FlagErrorf("--fixture is required: name the fixture directory")
	case !(o.Tol > 0) || math.IsInf(o.Tol, 0):
		return cmdutil.FlagErrorf("--tol %g: must be a positive number", o.Tol)
	case o.Opset != 0 && !slices.Contains(xtexport.Opsets(), o.Opset):
		return cmdutil.FlagErrorf("--opset %d is not supported: want %s", o.Opset, cmdutil.OrList(xtexport.Opsets()))
	case o.Graph != xtverify.GraphBuilt && (o.Opset != 0 || o.Inline):
		return cmdutil.FlagErrorf("--opset and --inline apply to --graph %s only", xtverify.GraphBuilt)
	case !slices.Contains(runtime.Backends(), o.Backend):
		return cmdutil.FlagErrorf("unknown backend %q: want %s", o.Backend, cmdutil.OrList(runtime.Backends()))
	}
	return nil
}

// jsonResult is the --json form of a result: max_abs_diff is null when it is
// NaN, and line holds the verdict line.
type jsonResult struct {
	*xtverify.Result
	MaxAbsDiff cmdutil.Float `json:"max_abs_diff"`
	Line       string        `json:"line"`
}

func verifyRun(o *Options) error {
	ios := o.IO
	if fi, err := os.Stat(o.FixtureDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("fixture %s: no such directory", o.FixtureDir)
	}
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ios.StartProgress("verifying %s (graph %s, backend %s)", o.FixtureDir, o.Graph, o.Backend)
	r, err := xtverify.Fixture(ctx, o.FixtureDir, xtverify.Options{
		Graph: o.Graph, Backend: o.Backend, Tol: o.Tol, Opset: o.Opset, Inline: o.Inline,
	})
	ios.StopProgress()
	if err != nil {
		return err
	}
	if o.JSON {
		b, err := json.Marshal(jsonResult{Result: r, MaxAbsDiff: cmdutil.Float(r.MaxAbsDiff), Line: r.Line()})
		if err != nil {
			return fmt.Errorf("encoding JSON output: %w", err)
		}
		fmt.Fprintf(ios.Out, "%s\n", b)
	} else {
		for _, d := range r.Outputs {
			fmt.Fprintf(ios.Out, "output %s shape=%s max_abs_diff=%.3g nans=%d\n", d.Name, runtime.FormatShape(d.Shape), d.MaxAbsDiff, d.NaNs)
		}
		fmt.Fprintln(ios.Out, r.Line())
	}
	if !r.Pass {
		return cmdutil.ErrSilent
	}
	return nil
}
