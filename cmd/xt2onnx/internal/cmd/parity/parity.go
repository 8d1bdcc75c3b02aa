package parity

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/compare"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	modelinputs "github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/inputs"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/modelsrc"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Options are the parsed arguments of `xt2onnx parity`.
type Options struct {
	IO  *iostreams.IOStreams
	Ctx context.Context

	ModelPath          string // MODEL.onnx or --model
	Preset             string // --preset: built in memory, random weights
	modelinputs.Source        // --inputs/--prefix or --random/--batch/--seq/--seed
	Atol               float64
	Rtol               float64
	Backends           []string // the backend checked, then the reference
	Device             string   // --device: where the ort backend runs (cpu or cuda)
	JSON               bool
	MaxTensorBytes     int64 // the global --max-tensor-bytes (0: the default)
}

// Default tolerances: Optimum's export validation uses atol 1e-5.
const (
	DefaultAtol = 1e-5
	DefaultRtol = 0
)

// NewCmdParity returns the parity command. runF, when not nil, is called
// with the parsed options instead of running (for tests).
func NewCmdParity(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	var model modelsrc.ModelFlags
	cmd := &cobra.Command{
		Use:   "parity (MODEL.onnx | --preset NAME) (--inputs FILE.safetensors | --random) [--backends native,ort]",
		Short: "run a model with two backends and compare their outputs",
		Long: `Run an ONNX model with two backends on the same inputs and compare the
outputs, as Optimum's export validation does: for each output, its name,
shape, max abs diff, max rel diff and whether every element is within
tolerance, |a − b| ≤ atol + rtol·|b|, where b is the second backend's value
(the reference). Integer and bool outputs must be equal. The last line is
the verdict: "PASS parity <b1> vs <b2> …" or "FAIL parity <b1> vs <b2> …".

Inputs come from a safetensors file (--inputs, with --prefix as for run) or
are generated from --seed (--random, sized by --batch and --seq, token ids
within the model's num_tokens), exactly as xt2onnx run makes them.
--preset builds a built-in decoder in memory with random weights instead of
reading a file. --device cuda runs the ort backend on the GPU (the native
backend always runs on the CPU).

The columns are OUTPUT, SHAPE, MAX ABS DIFF, MAX REL DIFF and RESULT; MAX
REL DIFF is left out when --rtol is 0 (the default), where only the absolute
difference decides (--json always has max_rel_diff).

On a terminal the per-output lines are an aligned table; otherwise
tab-separated without a header. --json prints one JSON object instead.

Exit status: 0 when every output is within tolerance, 1 when one is not (or
on an error), 3 when a backend does not support an operator of the model.`,
		Example: `  xt2onnx parity model.onnx --random --batch 2 --seq 64

  # A reference fixture's inputs, a tighter tolerance
  xt2onnx parity fixtures/xtransformers-1.9.2/dec_basic/torch_dynamo.onnx \
    --inputs fixtures/xtransformers-1.9.2/dec_basic/io.safetensors --prefix input. --atol 1e-6`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := model.Resolve(args); err != nil {
				return err
			}
			opts.ModelPath, opts.Preset = model.Path, model.Preset
			opts.Ctx = cmd.Context()
			opts.MaxTensorBytes = f.MaxTensorBytes
			if err := opts.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return parityRun(opts)
		},
	}
	fl := cmd.Flags()
	model.Add(cmd, "built in memory with random weights")
	opts.Source.AddFlags(fl)
	fl.Float64Var(&opts.Atol, "atol", DefaultAtol, "absolute tolerance")
	fl.Float64Var(&opts.Rtol, "rtol", DefaultRtol, "relative tolerance (of the reference value)")
	fl.StringSliceVar(&opts.Backends, "backends", []string{"native", "ort"}, cmdutil.EnumUsage("the backend to check and the reference backend, comma-separated", runtime.Backends()))
	modelsrc.AddDeviceFlag(cmd, &opts.Device)
	_ = cmd.RegisterFlagCompletionFunc("backends", modelsrc.CompleteBackends)
	fl.BoolVar(&opts.JSON, "json", false, "print the comparison as JSON")
	return cmd
}

func (o *Options) validate(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	if err := o.Source.Validate(changed); err != nil {
		return err
	}
	switch {
	case !(o.Atol >= 0) || math.IsInf(o.Atol, 0):
		return cmdutil.FlagErrorf("--atol %g: must be a finite number ≥ 0", o.Atol)
	case !(o.Rtol >= 0) || math.IsInf(o.Rtol, 0):
		return cmdutil.FlagErrorf("--rtol %g: must be a finite number ≥ 0", o.Rtol)
	case len(o.Backends) != 2:
		return cmdutil.FlagErrorf("--backends %s: name two backends, the one to check and the reference", strings.Join(o.Backends, ","))
	case o.Backends[0] == o.Backends[1]:
		return cmdutil.FlagErrorf("--backends %s: name two different backends", strings.Join(o.Backends, ","))
	}
	for _, b := range o.Backends {
		if !slices.Contains(runtime.Backends(), b) {
			return cmdutil.FlagErrorf("unknown backend %q: want %s", b, cmdutil.OrList(runtime.Backends()))
		}
	}
	if o.Device == "cuda" && !slices.Contains(o.Backends, "ort") {
		return cmdutil.FlagErrorf("--device cuda needs the ort backend in --backends (the native backend runs on the CPU only)")
	}
	return nil
}

// outputResult is one output's comparison; its JSON form is an element of
// the --json "outputs" array.
type outputResult struct {
	Name       string        `json:"name"`
	Shape      []int64       `json:"shape"`
	MaxAbsDiff cmdutil.Float `json:"max_abs_diff"`
	MaxRelDiff cmdutil.Float `json:"max_rel_diff"`
	Pass       bool          `json:"pass"`
	Reason     string        `json:"reason,omitempty"`
}

// report is the --json output.
type report struct {
	Model    string         `json:"model"`
	Backends []string       `json:"backends"`
	Atol     float64        `json:"atol"`
	Rtol     float64        `json:"rtol"`
	Outputs  []outputResult `json:"outputs"`
	Pass     bool           `json:"pass"`
	Line     string         `json:"line"`
}

func parityRun(o *Options) error {
	ios := o.IO
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	m, err := modelsrc.Resolve(ios, o.ModelPath, o.Preset)
	if err != nil {
		return err
	}
	limits := m.Limits()
	if o.Random {
		if err := limits.CheckSeq(int64(o.Seq)); err != nil {
			return err
		}
	}
	var sessions [2]runtime.Session
	for i, b := range o.Backends {
		ios.StartProgress("loading %s with %s", m.Name, b)
		device := "cpu"
		if b == "ort" {
			device = o.Device
		}
		s, err := m.Open(modelsrc.SessionOptions(b, device, 0, o.MaxTensorBytes))
		ios.StopProgress()
		if err != nil {
			return err
		}
		defer s.Close()
		sessions[i] = s
	}
	infos := sessions[0].Inputs()
	var inputs map[string]*runtime.Tensor
	if o.Random {
		inputs, err = modelinputs.Random(infos, o.Batch, o.Seq, o.Seed, limits.Tokens, o.MaxTensorBytes)
	} else {
		inputs, err = modelinputs.Read(o.InputsPath, o.Prefix, infos)
		if err == nil {
			err = modelinputs.CheckSeq(infos, inputs, limits.MaxSeqLen, o.InputsPath)
		}
	}
	if err != nil {
		return err
	}
	var outs [2]map[string]*runtime.Tensor
	for i, s := range sessions {
		ios.StartProgress("running %s with %s", m.Name, o.Backends[i])
		outs[i], err = s.Run(ctx, inputs)
		ios.StopProgress()
		if err != nil {
			return err
		}
	}

	rep := report{Model: m.Name, Backends: o.Backends, Atol: o.Atol, Rtol: o.Rtol, Pass: true}
	failed := 0
	for _, info := range sessions[0].Outputs() {
		got := outs[0][info.Name]
		r := outputResult{Name: info.Name, Shape: got.Shape()}
		if want, ok := outs[1][info.Name]; !ok {
			r.Reason = fmt.Sprintf("backend %s has no output %q", o.Backends[1], info.Name)
		} else {
			c := compare.Tensors(got, want, o.Atol, o.Rtol)
			r.MaxAbsDiff, r.MaxRelDiff, r.Pass, r.Reason = cmdutil.Float(c.MaxAbsDiff), cmdutil.Float(c.MaxRelDiff), c.Pass, c.Reason
		}
		if !r.Pass {
			failed++
			rep.Pass = false
		}
		rep.Outputs = append(rep.Outputs, r)
	}
	vs := fmt.Sprintf("%s vs %s", o.Backends[0], o.Backends[1])
	tol := fmt.Sprintf("atol=%g rtol=%g", o.Atol, o.Rtol)
	if rep.Pass {
		rep.Line = fmt.Sprintf("PASS parity %s: %s within %s", vs, plural(len(rep.Outputs), "output"), tol)
	} else {
		rep.Line = fmt.Sprintf("FAIL parity %s: %d of %s beyond %s", vs, failed, plural(len(rep.Outputs), "output"), tol)
	}

	if o.JSON {
		if err := cmdutil.WriteJSON(ios.Out, rep); err != nil {
			return err
		}
	} else {
		// The relative difference is shown only when it takes part in the
		// verdict (rtol > 0): beside "pass" at rtol 0 it misleads.
		header := []string{"OUTPUT", "SHAPE", "MAX ABS DIFF", "MAX REL DIFF", "RESULT"}
		if o.Rtol == 0 {
			header = slices.Delete(header, 3, 4)
		}
		t := cmdutil.NewTable(ios.Out, ios.IsStdoutTTY(), header...)
		for _, r := range rep.Outputs {
			result := "pass"
			if !r.Pass {
				result = "FAIL: " + r.Reason
			}
			row := []string{r.Name, runtime.FormatShape(r.Shape), formatFloat(float64(r.MaxAbsDiff)), formatFloat(float64(r.MaxRelDiff)), result}
			if o.Rtol == 0 {
				row = slices.Delete(row, 3, 4)
			}
			t.Row(row...)
		}
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintln(ios.Out, rep.Line)
	}
	if !rep.Pass {
		return cmdutil.ErrSilent
	}
	return nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) }
