package verify

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/modelsrc"
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
	Device     string // --device: cpu or cuda
	Graph      string
	Tol        float64 // --atol (--tol is its alias); 0: the default
	Rtol       float64 // --rtol
	Opset      int64
	Inline     bool
	// Generate compares greedy generation with the reference, token by token.
	Generate bool
	// KVCache also checks the KV-cache export, step by step.
	KVCache bool
	// KVLayout is that export's cache layout: "buffer" (the default, as
	// export writes it) or "concat".
	KVLayout string
	JSON     bool
}

// NewCmdVerify returns the verify command. runF, when not nil, is called
// with the parsed options instead of verifying (for tests).
func NewCmdVerify(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "verify --fixture DIR",
		Short: "check a model against an x-transformers reference folder",
		Long: `Check a model against a reference folder made with x-transformers 1.9.1 or
1.9.2 in PyTorch: config.json, model.safetensors and io.safetensors (the inputs
and PyTorch's float32 and float64 outputs), as python/xt2onnx_ref writes it
for any model and as fixtures/ holds them, plus the graphs PyTorch exported
where there are some.

The graph checked is the one xt2onnx builds from config.json and
model.safetensors (--graph built, the default) or one of PyTorch's
(torch_ts, torch_dynamo). It runs on the reference inputs with --backend,
and its output is compared with PyTorch's float64 output. One line per check
gives the output's shape, max abs diff, max rel diff, PyTorch's own float32
error, the tolerance and ok/FAIL. The default tolerance is 1e-5, or twice
PyTorch's own float32 error on these inputs when that is larger (two float32
computations each err by about that much); --atol sets it (--tol is its
older name) and --rtol adds a tolerance relative to the reference value: an
element passes when |got − want| ≤ atol + rtol·|want|, as for parity.

--generate also runs greedy generation from the reference's gen.start and
compares every token with what x-transformers' AutoregressiveWrapper.generate
produced (decoder-only TransformerWrappers; a first difference where PyTorch's
float64 margin between the two best tokens is within twice the tolerance is a
near tie, not a failure). --kv-cache also exports the model with a KV cache
and checks it on the whole sequence, one token at a time, and with --generate
its generation; models the cache does not support get a note on stderr.

The last line is the verdict, either
"PASS <case> graph=<g> backend=<b> max_abs_diff=<x> tol=<t> (<rule>)" or
"FAIL <case> graph=<g> backend=<b> <reason>". A build the builder does not
support yet is a FAIL, with the builder's message as the reason.

With --json the result is printed as one indented JSON object, as every
--json output is (the verdict line is its "line" field).

The exit status is 0 only for PASS, and 1 for FAIL.`,
		Example: `  xt2onnx verify --fixture fixtures/xtransformers-1.9.2/dec_basic

  # A reference made with python/xt2onnx_ref for your own model, generation included
  xt2onnx verify --fixture ref/ --generate --kv-cache

  # PyTorch's own export, for comparison
  xt2onnx verify --fixture fixtures/xtransformers-1.9.2/dec_basic --graph torch_dynamo

  # Every fixture, verdicts only
  for d in fixtures/xtransformers-1.9.2/*/; do xt2onnx verify --fixture "$d" | tail -n 1; done`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if err := opts.validate(cmd); err != nil {
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
	modelsrc.AddBackendFlag(cmd, &opts.Backend)
	modelsrc.AddDeviceFlag(cmd, &opts.Device)
	cmdutil.StringEnumFlag(fl, &opts.Graph, "graph", "", xtverify.GraphBuilt, xtverify.Graphs, "graph to check")
	fl.Float64Var(&opts.Tol, "atol", 0, "largest abs diff that passes (default: max(1e-5, 2× PyTorch's own float32 error))")
	fl.Float64Var(&opts.Tol, "tol", 0, "the same as --atol")
	_ = fl.MarkHidden("tol")
	fl.Float64Var(&opts.Rtol, "rtol", 0, "tolerance relative to the reference value, added to --atol")
	cmdutil.AddOpsetFlag(cmd, &opts.Opset, xtexport.DefaultOpset, xtexport.Opsets(), "ONNX opset of the built graph")
	fl.BoolVar(&opts.Inline, "inline", false, "inline model-local functions in the built graph")
	fl.BoolVar(&opts.Generate, "generate", false, "also compare greedy generation with the reference's gen.out, token by token")
	fl.BoolVar(&opts.KVCache, "kv-cache", false, "also check the model exported with a KV cache, one token at a time")
	cmdutil.StringEnumFlag(fl, &opts.KVLayout, "kv-layout", "", modelsrc.KVLayouts[0], modelsrc.KVLayouts, "with --kv-cache: the cache layout to check (as export --kv-layout)")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	return cmd
}

func (o *Options) validate(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	switch {
	case o.FixtureDir == "":
		return cmdutil.FlagErrorf("--fixture is required: name the fixture directory")
	case changed("atol") && changed("tol"):
		return cmdutil.FlagErrorf("--tol is the old name of --atol: give one")
	case o.Tol < 0 || math.IsNaN(o.Tol) || math.IsInf(o.Tol, 0):
		return cmdutil.FlagErrorf("--atol %g: must be a positive number (or 0 for the default)", o.Tol)
	case o.Rtol < 0 || math.IsNaN(o.Rtol) || math.IsInf(o.Rtol, 0):
		return cmdutil.FlagErrorf("--rtol %g: must be a finite number ≥ 0", o.Rtol)
	case !slices.Contains(xtexport.Opsets(), o.Opset):
		return cmdutil.FlagErrorf("--opset %d is not supported: want %s", o.Opset, cmdutil.OrList(xtexport.Opsets()))
	case o.Graph != xtverify.GraphBuilt && (changed("opset") || o.Inline):
		return cmdutil.FlagErrorf("--opset and --inline apply to --graph %s only", xtverify.GraphBuilt)
	case o.Graph != xtverify.GraphBuilt && (o.Generate || o.KVCache):
		return cmdutil.FlagErrorf("--generate and --kv-cache apply to --graph %s only", xtverify.GraphBuilt)
	case changed("kv-layout") && !o.KVCache:
		return cmdutil.FlagErrorf("--kv-layout needs --kv-cache")
	}
	return modelsrc.CheckRuntime(o.Backend, o.Device, 0)
}

// Row formats one check: "output <name> shape=<s> max_abs_diff=<a>
// max_rel_diff=<r> torch_f32_err=<e> tol=<t> ok|FAIL", with the check
// ("check=kv-cache steps") when it is not the plain forward pass and the
// backend when several ran; generations give tokens=<equal>/<compared>.
func Row(d xtverify.OutputDiff, withBackend bool) string {
	var b strings.Builder
	verdict := "ok"
	if !d.Pass {
		verdict = "FAIL"
	}
	if strings.HasPrefix(d.Check, "generate") {
		fmt.Fprintf(&b, "%s tokens=%d/%d shape=%s", strings.ReplaceAll(d.Check, " ", "_"), d.Tokens-d.Mismatched, d.Tokens, runtime.FormatShape(d.Shape))
		if d.Ties > 0 {
			fmt.Fprintf(&b, " ties=%d", d.Ties)
		}
	} else {
		fmt.Fprintf(&b, "output %s shape=%s max_abs_diff=%.3g max_rel_diff=%.3g torch_f32_err=%.3g tol=%.3g nans=%d",
			d.Name, runtime.FormatShape(d.Shape), d.MaxAbsDiff, d.MaxRelDiff, d.TorchF32MaxAbsDiff, d.Tol, d.NaNs)
		if d.Check != "forward" {
			fmt.Fprintf(&b, " check=%s", strings.ReplaceAll(d.Check, " ", "_"))
		}
	}
	if withBackend {
		fmt.Fprintf(&b, " backend=%s", d.Backend)
	}
	b.WriteString(" " + verdict)
	if d.Note != "" {
		b.WriteString(": " + d.Note)
	}
	return b.String()
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
		Graph: o.Graph, Backend: o.Backend, Tol: o.Tol, Rtol: o.Rtol, Opset: o.Opset, Inline: o.Inline,
		Generate: o.Generate, KVCache: o.KVCache, KVLayout: modelsrc.KVLayout(o.KVLayout),
		Runtime: modelsrc.SessionOptions(o.Backend, o.Device, 0, 0),
	})
	ios.StopProgress()
	if err != nil {
		return err
	}
	return Print(ios, r, o.JSON)
}

// Print writes a verification: with asJSON indented JSON, otherwise one
// line per check and the verdict line last; notes (checks that could not
// run) go to stderr. It returns cmdutil.ErrSilent for a FAIL.
func Print(ios *iostreams.IOStreams, r *xtverify.Result, asJSON bool) error {
	for _, n := range r.Notes {
		fmt.Fprintf(ios.ErrOut, "note: %s\n", n)
	}
	r.Reason = cmdutil.UserMessage(r.Reason) // the builder's message, without its package prefix
	if asJSON {
		if err := cmdutil.WriteJSON(ios.Out, jsonResult{Result: r, MaxAbsDiff: cmdutil.Float(r.MaxAbsDiff), Line: r.Line()}); err != nil {
			return err
		}
	} else {
		for _, d := range r.Outputs {
			fmt.Fprintln(ios.Out, Row(d, strings.Contains(r.Backend, ",")))
		}
		fmt.Fprintln(ios.Out, r.Line())
	}
	if !r.Pass {
		return cmdutil.ErrSilent
	}
	return nil
}
