package run

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/compare"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	modelinputs "github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/inputs"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/modelsrc"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/internal/tensorio"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Options are the parsed arguments of `xt2onnx run`.
type Options struct {
	IO  *iostreams.IOStreams
	Ctx context.Context

	ModelPath          string // MODEL.onnx or --model
	Preset             string // --preset: built in memory, random weights
	modelinputs.Source        // --inputs/--prefix or --random/--batch/--seq/--seed
	Output             string // -o: safetensors file for the outputs
	Backend            string
	Device             string // --device: cpu or cuda (--cuda is its deprecated alias)
	Threads            int
	Header             bool // --header: a header line off a terminal too
	JSON               bool
	MaxTensorBytes     int64 // the global --max-tensor-bytes (0: the default)
}

// firstValues is how many leading values the summary shows.
const firstValues = 4

// NewCmdRun returns the run command. runF, when not nil, is called with the
// parsed options instead of running (for tests).
func NewCmdRun(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	var model modelsrc.ModelFlags
	var cuda bool
	cmd := &cobra.Command{
		Use:   "run (MODEL.onnx | --preset NAME) (--inputs FILE.safetensors | --random) [-o OUT.safetensors]",
		Short: "run an ONNX model and summarise its outputs",
		Long: `Run an ONNX model once and print, for each output, its name, dtype, shape,
minimum, maximum, mean and first values.

Inputs come from a safetensors file (--inputs) holding one tensor per model
input, named as the input or with --prefix in front (the reference fixtures
use --prefix input.); integer and mask tensors are converted to the model's
dtype where the conversion is exact. With --random the inputs are generated
from --seed: token ids uniformly in [0, num_tokens), num_tokens taken from the
x-transformers config in the model's metadata (for an XTransformer the
encoder's for src and the decoder's for tgt), or 2 when there is none; masks
all true; floats from N(0, 1). Dynamic dims named batch take --batch, those
named seq or *_seq take --seq (unnamed ones: the first and the second dim). A
sequence longer than the max_seq_len in the model's metadata is refused before
running.

--preset builds a built-in decoder in memory with random weights (those of
"xt2onnx export --preset NAME") instead of reading a file.

On a terminal the summary is an aligned table with a header; otherwise one
tab-separated line per output without a header (--header adds it), whose
columns are NAME, DTYPE, SHAPE, MIN, MAX, MEAN and FIRST VALUES (the first
values space-separated), or a JSON array with --json. -o writes every output
to a safetensors file, atomically.`,
		Example: `  xt2onnx run model.onnx --random --batch 2 --seq 16

  # A reference fixture's inputs, outputs saved for comparison
  xt2onnx run model.onnx --inputs io.safetensors --prefix input. -o out.safetensors

  # Four intra-op threads, JSON summary
  xt2onnx run model.onnx --random --threads 4 --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := model.Resolve(args); err != nil {
				return err
			}
			opts.ModelPath, opts.Preset = model.Path, model.Preset
			if cuda {
				opts.Device = "cuda"
			}
			opts.Ctx = cmd.Context()
			opts.MaxTensorBytes = f.MaxTensorBytes
			if err := opts.validate(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(opts)
		},
	}
	fl := cmd.Flags()
	model.Add(cmd, "built in memory with random weights")
	opts.Source.AddFlags(fl)
	fl.StringVarP(&opts.Output, "output", "o", "", "write the outputs to this safetensors `FILE`")
	modelsrc.AddBackendFlag(cmd, &opts.Backend)
	modelsrc.AddDeviceFlag(cmd, &opts.Device)
	fl.IntVar(&opts.Threads, "threads", 0, "intra-op threads (0: the backend's default)")
	fl.BoolVar(&cuda, "cuda", false, "run on an NVIDIA GPU (the same as --device cuda)")
	_ = fl.MarkDeprecated("cuda", "use --device cuda")
	fl.BoolVar(&opts.Header, "header", false, "print the column names off a terminal too (NAME DTYPE SHAPE MIN MAX MEAN FIRST VALUES)")
	fl.BoolVar(&opts.JSON, "json", false, "print the summary as JSON")
	return cmd
}

func (o *Options) validate(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	if err := o.Source.Validate(changed); err != nil {
		return err
	}
	if o.Output != "" {
		if err := cmdutil.CheckOutputFile("-o", o.Output, "outputs.safetensors"); err != nil {
			return err
		}
	}
	if o.Header && o.JSON {
		return cmdutil.FlagErrorf("--header applies to the table, not to --json")
	}
	return modelsrc.CheckRuntime(o.Backend, o.Device, o.Threads)
}

func runRun(o *Options) error {
	ios := o.IO
	if o.Output != "" {
		if fi, err := os.Stat(filepath.Dir(o.Output)); err != nil || !fi.IsDir() {
			return fmt.Errorf("cannot write %s: directory %s does not exist", o.Output, filepath.Dir(o.Output))
		}
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

	ios.StartProgress("loading %s", m.Name)
	sess, err := m.Open(modelsrc.SessionOptions(o.Backend, o.Device, o.Threads, o.MaxTensorBytes))
	ios.StopProgress()
	if err != nil {
		return err
	}
	defer sess.Close()

	var inputs map[string]*runtime.Tensor
	if o.Random {
		for _, in := range sess.Inputs() {
			if _, ok := limits.Vocab[in.Name]; !ok && (in.DType == runtime.Int64 || in.DType == runtime.Int32) && in.Name != builder.CacheLenInput {
				fmt.Fprintf(ios.ErrOut, "xt2onnx: note: the model's metadata gives no num_tokens for input %q; its random ids are drawn from [0, %d)\n", in.Name, modelinputs.DefaultVocab)
			}
		}
		inputs, err = modelinputs.Random(sess.Inputs(), o.Batch, o.Seq, o.Seed, limits.Tokens, o.MaxTensorBytes)
	} else {
		inputs, err = modelinputs.Read(o.InputsPath, o.Prefix, sess.Inputs())
		if err == nil {
			err = modelinputs.CheckSeq(sess.Inputs(), inputs, limits.MaxSeqLen, o.InputsPath)
		}
	}
	if err != nil {
		return err
	}

	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	ios.StartProgress("running %s", m.Name)
	outs, err := sess.Run(ctx, inputs)
	ios.StopProgress()
	if err != nil {
		return err
	}

	stats := make([]outputStats, 0, len(outs))
	for _, info := range sess.Outputs() {
		if t, ok := outs[info.Name]; ok {
			stats = append(stats, summarize(info.Name, t))
		}
	}
	if o.Output != "" {
		ts, err := tensorio.ToSafetensors("", outs)
		if err != nil {
			return fmt.Errorf("writing %s: %w", o.Output, err)
		}
		if err := safetensors.Write(o.Output, ts, nil); err != nil {
			return err
		}
		if ios.IsStderrTTY() {
			fmt.Fprintf(ios.ErrOut, "wrote %s to %s\n", plural(len(ts), "output"), o.Output)
		}
	}
	if o.JSON {
		return cmdutil.WriteJSON(ios.Out, stats)
	}
	t := cmdutil.NewTable(ios.Out, ios.IsStdoutTTY(), "NAME", "DTYPE", "SHAPE", "MIN", "MAX", "MEAN", "FIRST VALUES")
	for _, s := range stats {
		first := make([]string, len(s.First))
		for i, v := range s.First {
			first[i] = formatFloat(float64(v))
		}
		t.Row(s.Name, s.DType, runtime.FormatShape(s.Shape), formatFloat(float64(s.Min)), formatFloat(float64(s.Max)), formatFloat(float64(s.Mean)), strings.Join(first, " "))
	}
	if o.Header && !ios.IsStdoutTTY() {
		return t.RenderWithHeader()
	}
	return t.Render()
}

// outputStats summarises one output; its JSON form is an element of run's
// --json output. Min, Max and Mean are null when not finite or for types
// without numbers.
type outputStats struct {
	Name  string          `json:"name"`
	DType string          `json:"dtype"`
	Shape []int64         `json:"shape"`
	Min   cmdutil.Float   `json:"min"`
	Max   cmdutil.Float   `json:"max"`
	Mean  cmdutil.Float   `json:"mean"`
	First []cmdutil.Float `json:"first"`
}

func summarize(name string, t *runtime.Tensor) outputStats {
	s := outputStats{Name: name, DType: t.DType().String(), Shape: t.Shape(), First: []cmdutil.Float{}}
	nan := cmdutil.Float(math.NaN())
	s.Min, s.Max, s.Mean = nan, nan, nan
	v, err := compare.Values(t)
	if err != nil || len(v) == 0 {
		return s
	}
	lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
	for _, x := range v {
		lo, hi, sum = math.Min(lo, x), math.Max(hi, x), sum+x
	}
	s.Min, s.Max, s.Mean = cmdutil.Float(lo), cmdutil.Float(hi), cmdutil.Float(sum/float64(len(v)))
	for _, x := range v[:min(firstValues, len(v))] {
		s.First = append(s.First, cmdutil.Float(x))
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
