package export

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/internal/graph"
)

// Options are the parsed flags of `xt2onnx export`.
type Options struct {
	IO *iostreams.IOStreams

	ConfigPath    string // --config: model config JSON
	WeightsPath   string // --weights: safetensors state_dict
	RandomWeights bool   // --random-weights: seeded random weights for --config
	Preset        string // --preset: built-in config, random weights
	Seed          uint64 // --seed: seed of the random weights
	Output        string // -o: the .onnx file to write
	Opset         int64
	Inline        bool
	Mask          builder.MaskMode
	// ReturnEmbeddings outputs the final-norm embeddings instead of logits.
	ReturnEmbeddings bool
	JSON             bool
}

var maskModes = map[string]builder.MaskMode{"auto": builder.MaskAuto, "on": builder.MaskOn, "off": builder.MaskOff}

// NewCmdExport returns the export command. runF, when not nil, is called
// with the parsed options instead of exporting (for tests).
func NewCmdExport(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	var mask string
	cmd := &cobra.Command{
		Use:   "export (--config FILE (--weights FILE | --random-weights) | --preset NAME) -o OUT.onnx",
		Short: "build an x-transformers model and write it as an ONNX file",
		Long: `Build the ONNX graph of an x-transformers 1.9.2 model and write it to a file.

The model is either a config (--config, the JSON form of the PyTorch keyword
arguments) with its trained weights (--weights, a safetensors state_dict) or
with seeded random weights (--random-weights), or a built-in preset (--preset
tiny, small or base), which always uses random weights. Every mismatch between
the config and the weights is reported at once. Options the builder does not
implement yet make the command exit with status 3.

The file is written to a temporary file next to OUT and renamed into place,
so OUT is never left half-written. A summary (path, bytes, opset, parameters,
model-local functions or "inlined", seconds) goes to stdout: aligned on a
terminal, "key<TAB>value" lines otherwise, or one JSON object with --json.`,
		Example: `  # A trained model
  xt2onnx export --config config.json --weights model.safetensors -o model.onnx

  # A benchmark model with random weights, functions inlined for older runtimes
  xt2onnx export --preset base --seed 7 --inline -o base.onnx

  # A config with random weights, opset 17, with a key-padding mask input
  xt2onnx export --config config.json --random-weights --opset 17 --mask on -o model.onnx

  # Embeddings instead of logits
  xt2onnx export --config config.json --weights model.safetensors --return-embeddings -o embed.onnx`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(cmd, mask); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return exportRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.ConfigPath, "config", "", "model config JSON `FILE`")
	fl.StringVar(&opts.WeightsPath, "weights", "", "safetensors state_dict `FILE` matching --config")
	fl.BoolVar(&opts.RandomWeights, "random-weights", false, "use seeded random weights instead of --weights")
	fl.StringVar(&opts.Preset, "preset", "", "built-in decoder config `NAME`: "+strings.Join(builder.Presets(), ", "))
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the random weights (--preset, --random-weights)")
	fl.StringVarP(&opts.Output, "output", "o", "", "ONNX `FILE` to write")
	fl.Int64Var(&opts.Opset, "opset", xtexport.DefaultOpset, "ONNX opset: "+cmdutil.OrList(xtexport.Opsets()))
	fl.BoolVar(&opts.Inline, "inline", false, "inline model-local functions (for runtimes without function support)")
	cmdutil.StringEnumFlag(fl, &mask, "mask", "", "auto", []string{"auto", "on", "off"}, "key-padding mask input (auto: when the config's inputs name one, or for encoders)")
	fl.BoolVar(&opts.ReturnEmbeddings, "return-embeddings", false, "output the final-norm embeddings instead of the logits (return_embeddings=True)")
	fl.BoolVar(&opts.JSON, "json", false, "print the summary as JSON")
	return cmd
}

func (o *Options) validate(cmd *cobra.Command, mask string) error {
	o.Mask = maskModes[mask]
	changed := cmd.Flags().Changed
	switch {
	case o.Preset != "" && o.ConfigPath != "":
		return cmdutil.FlagErrorf("--preset and --config cannot be used together: choose a built-in model or a config file")
	case o.Preset == "" && o.ConfigPath == "":
		return cmdutil.FlagErrorf("no model given: use --config FILE with --weights FILE (or --random-weights), or --preset %s", strings.Join(builder.Presets(), "|"))
	case o.Preset != "" && !slices.Contains(builder.Presets(), o.Preset):
		return cmdutil.FlagErrorf("unknown preset %q: want %s", o.Preset, cmdutil.OrList(builder.Presets()))
	case o.Preset != "" && o.WeightsPath != "":
		return cmdutil.FlagErrorf("--weights cannot be used with --preset: presets use random weights (choose them with --seed)")
	case o.WeightsPath != "" && o.RandomWeights:
		return cmdutil.FlagErrorf("--weights and --random-weights cannot be used together")
	case o.ConfigPath != "" && o.WeightsPath == "" && !o.RandomWeights:
		return cmdutil.FlagErrorf("--config needs --weights FILE (the model's safetensors state_dict); to export with seeded random weights instead, add --random-weights")
	case changed("seed") && o.WeightsPath != "":
		return cmdutil.FlagErrorf("--seed applies to random weights only, not to --weights")
	case o.Output == "":
		return cmdutil.FlagErrorf("-o/--output is required: name the .onnx file to write")
	case !slices.Contains(xtexport.Opsets(), o.Opset):
		return cmdutil.FlagErrorf("--opset %d is not supported: want %s", o.Opset, cmdutil.OrList(xtexport.Opsets()))
	}
	if o.Preset != "" {
		o.RandomWeights = true
	}
	return nil
}

// summary is what export reports about the written file.
type summary struct {
	Path       string  `json:"path"`
	Bytes      int64   `json:"bytes"`
	Opset      int64   `json:"opset"`
	Params     int64   `json:"params"`
	ParamBytes int64   `json:"param_bytes"`
	Functions  int     `json:"functions"`
	Inlined    bool    `json:"inlined"`
	Seconds    float64 `json:"seconds"`
}

func exportRun(o *Options) (err error) {
	start := time.Now()
	ios := o.IO
	if fi, err := os.Stat(filepath.Dir(o.Output)); err != nil || !fi.IsDir() {
		return fmt.Errorf("cannot write %s: directory %s does not exist", o.Output, filepath.Dir(o.Output))
	}

	var (
		cfg    *builder.Config
		w      builder.Weights
		source string
	)
	if o.Preset != "" {
		cfg, err = builder.Preset(o.Preset)
		if err != nil {
			return err
		}
	} else if cfg, err = builder.LoadConfig(o.ConfigPath); err != nil {
		return err
	}
	if o.RandomWeights {
		w, source = builder.RandomWeights{Seed: o.Seed}, fmt.Sprintf("random weights (seed %d)", o.Seed)
	} else {
		var sw *builder.SafetensorsWeights
		if sw, err = builder.OpenWeights(o.WeightsPath); err != nil {
			return err
		}
		defer func() {
			if cerr := sw.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
		w, source = sw, o.WeightsPath
	}

	name := o.Preset
	if name == "" {
		name = o.ConfigPath
	}
	ios.StartProgress("building %s", name)
	m, err := builder.Build(cfg, w, source, builder.Options{Opset: o.Opset, Mask: o.Mask, ReturnEmbeddings: o.ReturnEmbeddings})
	if err != nil {
		ios.StopProgress()
		return err
	}
	ios.StartProgress("writing %s", o.Output)
	err = xtexport.WriteFile(o.Output, m, xtexport.Options{Opset: o.Opset, InlineFunctions: o.Inline})
	ios.StopProgress()
	if err != nil {
		return err
	}
	fi, err := os.Stat(o.Output)
	if err != nil {
		return err
	}

	s := summary{Path: o.Output, Bytes: fi.Size(), Opset: o.Opset, Inlined: o.Inline, Seconds: time.Since(start).Seconds()}
	s.Params, s.ParamBytes = paramCount(m.Graph)
	if !o.Inline {
		s.Functions = len(m.Functions)
	}
	if o.JSON {
		return cmdutil.WriteJSON(ios.Out, s)
	}
	functions := strconv.Itoa(s.Functions)
	if s.Inlined {
		functions = "inlined"
	}
	t := cmdutil.NewTable(ios.Out, ios.IsStdoutTTY())
	t.Row("path", s.Path)
	t.Row("bytes", strconv.FormatInt(s.Bytes, 10))
	t.Row("opset", strconv.FormatInt(s.Opset, 10))
	t.Row("params", strconv.FormatInt(s.Params, 10))
	t.Row("functions", functions)
	t.Row("seconds", strconv.FormatFloat(s.Seconds, 'f', 3, 64))
	return t.Render()
}

// paramCount returns the number of elements and bytes of g's initializers.
func paramCount(g *graph.Graph) (n, bytes int64) {
	for _, t := range g.Initializers {
		n += t.NumElements()
		bytes += int64(len(t.Raw))
	}
	return n, bytes
}
