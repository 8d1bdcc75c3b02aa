package export

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/builder"
	verifycmd "github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmd/verify"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/modelsrc"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/sysmem"
	"github.com/xt2onnx/xt2onnx/internal/triton"
	xtverify "github.com/xt2onnx/xt2onnx/internal/verify"
	"github.com/xt2onnx/xt2onnx/precision"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Options are the parsed flags of `xt2onnx export`.
type Options struct {
	IO *iostreams.IOStreams
	// Ctx is the command's context (a run under --validate stops with it).
	Ctx context.Context

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
	// KVCache exports a decoder with the KV-cache inputs and outputs.
	KVCache bool
	// KVLayout is the layout of that cache (--kv-layout, buffer by
	// default).
	KVLayout builder.KVLayout
	// Part exports an XTransformer's encoder or decoder part, or a
	// NonAutoregressiveWrapper's critic (builder's PartWhole by default).
	Part builder.Part
	// TritonRepo is a Triton model repository to write the model into.
	TritonRepo string
	// Name is the Triton model name; empty means the stem of Output.
	Name string
	// TritonMaxBatch is the max_batch_size of the Triton config.
	TritonMaxBatch int
	// Validate is a reference io.safetensors (or its folder) to check the
	// written file against; "" for none.
	Validate string
	// ValidateBackends are the backends the check runs with.
	ValidateBackends []string
	// ATol is the validation tolerance; 0 means verify's default.
	ATol float64
	// RTol adds a tolerance relative to the reference value.
	RTol float64
	// Device is --device, where --validate runs: "" (not given) or "cpu",
	// or "cuda".
	Device string
	// ExternalData writes the weights to OUT.onnx.data beside the model
	// (automatic above export.DefaultExternalDataThreshold).
	ExternalData bool
	// DType is the model's precision: "auto" (float32, or the checkpoint's
	// own float16/bfloat16), "float32", "float16" or "bfloat16".
	DType string
	// Quantize is "" (none), "int8" or "int4": weight-only quantization of
	// every MatMul weight, BlockSize rows to a scale.
	Quantize  string
	BlockSize int64
	// QuantizeFormat is how quantized weights are written: "dq"
	// (DequantizeLinear, the default) or "matmulnbits" (ONNX Runtime's
	// com.microsoft.MatMulNBits, with AccuracyLevel).
	QuantizeFormat string
	AccuracyLevel  int64
	JSON           bool
}

var dtypes = map[string]graph.DType{"float32": graph.Float, "float16": graph.Float16, "bfloat16": graph.BFloat16}

var maskModes = map[string]builder.MaskMode{"auto": builder.MaskAuto, "on": builder.MaskOn, "off": builder.MaskOff}

// NewCmdExport returns the export command. runF, when not nil, is called
// with the parsed options instead of exporting (for tests).
func NewCmdExport(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	var mask, device, part, kvLayout string
	cmd := &cobra.Command{
		Use:   "export (--config FILE (--weights FILE | --random-weights) | --preset NAME) (-o OUT.onnx | --triton-repo DIR)",
		Short: "build an x-transformers model and write it as an ONNX file",
		Long: `Build the ONNX graph of an x-transformers model (1.9.2, or 1.9.1 when the
config says "x_transformers_version": "1.9.1") and write it to a file.

The model is either a config (--config, the JSON form of the PyTorch keyword
arguments) with its trained weights (--weights, a safetensors state_dict) or
with seeded random weights (--random-weights), or a built-in preset (--preset
tiny, small or base), which always uses random weights. Every mismatch between
the config and the weights is reported at once. Options the builder does not
implement yet make the command exit with status 3. --kv-cache exports a
decoder that also takes the attention keys and values of earlier positions,
which "xt2onnx generate" uses to run one token per step. By default
(--kv-layout buffer) the cache is buffers the caller keeps and the model
reads in place, returning only the new positions, so a step costs the same
at any context; --kv-layout concat takes past_* and returns present_* (past
and new positions), the convention other ONNX decoder exports follow.
--part encoder|decoder exports one half of an XTransformer: the encoder part
returns the encodings and every decoder cross-attention layer's keys and
values of them, the decoder part takes those (with --kv-cache also its own
cache); "xt2onnx generate DEC.onnx --encoder ENC.onnx --src-tokens …" runs
the encoder once per source. A config with a "nonautoregressive" section
(NonAutoregressiveWrapper's kwargs; --weights is then the wrapper's whole
state_dict) exports its generator, and with --part critic its token critic
("xt2onnx generate GEN.onnx --critic CRITIC.onnx").

--validate REF then runs the written file on a reference's inputs (REF is an
io.safetensors or the folder holding it, as python/xt2onnx_ref writes it for
your own model) with each --validate-backend, and prints, per output, its
shape, max abs diff and max rel diff against PyTorch's float64 output,
PyTorch's own float32 error and ok/FAIL against --atol (default: 1e-5, or
twice PyTorch's own float32 error when that is larger; the verdict says
which). A KV-cache export is also checked one token at a time, and a
reference holding a greedy generation is compared token by token. The last
line is verify's verdict ("PASS …" or "FAIL …"); on FAIL the exit status is
1 and the file stays written.

--triton-repo DIR writes a Triton Inference Server model repository:
DIR/NAME/config.pbtxt (platform onnxruntime_onnx, dynamic batching up to
--triton-max-batch, inputs and outputs with their types and dims, the batch
dim left out and other dynamic dims as -1) and DIR/NAME/1/model.onnx. NAME is
--name, or the stem of -o; -o may be left out when --name is given.

Weights go to one external data file beside the model (OUT.onnx.data,
64-byte aligned, as ONNX Runtime and onnx write it) with --external-data, and
automatically when they exceed 1.5 GiB; they are streamed tensor by tensor from
the memory-mapped safetensors file (or the random generator), so exporting
needs about one tensor of memory, not the whole model. Keep the two files
together: both backends find the data file next to the model.

--dtype float16 stores the weights and computes in float16, LayerNorm and
softmax excepted (float32, with Casts around them); --dtype bfloat16 stores the
weights in bfloat16 and computes in float32 (ONNX Runtime's CPU provider has
no bfloat16 kernels). Inputs and outputs stay float32 in both. With the
default, auto, a checkpoint whose floating-point weights are all F16 (or all
BF16) gives float16 (bfloat16); anything else float32.

--quantize int8|int4 stores every MatMul weight as int8 or int4 with one
float32 scale per --block-size input rows and output column (symmetric), each
turned back into float32 by a standard DequantizeLinear (opset 21 or later, so
--quantize exports at opset 23); embeddings, norms and biases stay float32.
--quantize-format matmulnbits writes each quantized MatMul as ONNX Runtime's
contrib operator com.microsoft.MatMulNBits instead (the same weights, packed
for it; --block-size a power of two of at least 16; --accuracy-level sets its
accuracy_level, 4 letting ONNX Runtime compute in int8): faster in ONNX
Runtime, run by the native backend too, but not by other runtimes.

Every file is written to a temporary file in its directory and renamed into
place, so none is ever left half-written. A summary (path, bytes, opset, parameters,
model-local functions or "inlined", KV cache, Triton paths, seconds) goes to
stdout: aligned on a terminal, "key<TAB>value" lines otherwise, or one JSON
object with --json.`,
		Example: `  # A trained model
  xt2onnx export --config config.json --weights model.safetensors -o model.onnx

  # A benchmark model with random weights, functions inlined for older runtimes
  xt2onnx export --preset base --seed 7 --inline -o base.onnx

  # A config with random weights, opset 17, with a key-padding mask input
  xt2onnx export --config config.json --random-weights --opset 17 --mask on -o model.onnx

  # Embeddings instead of logits
  xt2onnx export --config config.json --weights model.safetensors --return-embeddings -o embed.onnx

  # Prove it: compare with PyTorch on a reference made by python/xt2onnx_ref
  xt2onnx export --config ref/config.json --weights ref/model.safetensors -o model.onnx --validate ref/

  # A decoder with a KV cache, for fast generation
  xt2onnx export --config config.json --weights model.safetensors --kv-cache -o gen.onnx

  # Weights in model.onnx.data beside model.onnx (automatic above 1.5 GiB)
  xt2onnx export --config config.json --weights model.safetensors --external-data -o model.onnx

  # Half precision, or int4 weights in blocks of 32 rows
  xt2onnx export --config config.json --weights model.safetensors --dtype float16 -o model-f16.onnx
  xt2onnx export --config config.json --weights model.safetensors --quantize int4 --block-size 32 -o model-q4.onnx

  # int4 weights as ONNX Runtime's MatMulNBits, for speed in ONNX Runtime
  xt2onnx export --config config.json --weights model.safetensors --quantize int4 --quantize-format matmulnbits -o model-q4n.onnx

  # A Triton model repository: models/tiny/config.pbtxt, models/tiny/1/model.onnx
  xt2onnx export --preset tiny --triton-repo models --name tiny`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if cmd.Flags().Changed("device") {
				opts.Device = device
			}
			if part != "whole" {
				opts.Part = builder.Part(part)
			}
			if cmd.Flags().Changed("kv-layout") && !opts.KVCache {
				return cmdutil.FlagErrorf("--kv-layout needs --kv-cache")
			}
			if opts.KVCache {
				opts.KVLayout = modelsrc.KVLayout(kvLayout)
			}
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
	cmdutil.AddOpsetFlag(cmd, &opts.Opset, xtexport.DefaultOpset, xtexport.Opsets(), "ONNX opset")
	fl.BoolVar(&opts.Inline, "inline", false, "inline model-local functions (for runtimes without function support)")
	cmdutil.StringEnumFlag(fl, &mask, "mask", "", "auto", []string{"auto", "on", "off"}, "key-padding mask input (auto: when the config's inputs name one, or for encoders)")
	fl.BoolVar(&opts.ReturnEmbeddings, "return-embeddings", false, "output the final-norm embeddings instead of the logits (return_embeddings=True)")
	fl.BoolVar(&opts.KVCache, "kv-cache", false, "export a decoder with KV-cache inputs and outputs for generation")
	cmdutil.StringEnumFlag(fl, &kvLayout, "kv-layout", "", modelsrc.KVLayouts[0], modelsrc.KVLayouts,
		"with --kv-cache: buffer (cache_* buffers the runtime owns and the model reads in place, new_* out) or concat (past_* in, present_* = past + new out, the usual ONNX decoder convention)")
	cmdutil.StringEnumFlag(fl, &part, "part", "", "whole", []string{"whole", string(builder.PartEncoder), string(builder.PartDecoder), string(builder.PartCritic)}, "export the whole model, an XTransformer's encoder or decoder part for generation, or a NonAutoregressiveWrapper's critic")
	fl.StringVar(&opts.TritonRepo, "triton-repo", "", "also write a Triton model repository into `DIR` (DIR/NAME/config.pbtxt, DIR/NAME/1/model.onnx)")
	fl.StringVar(&opts.Name, "name", "", "Triton model `NAME` (default: the stem of -o)")
	fl.IntVar(&opts.TritonMaxBatch, "triton-max-batch", triton.DefaultMaxBatchSize, "max_batch_size of the Triton config")
	fl.StringVar(&opts.Validate, "validate", "", "check the written file against a reference `REF` (io.safetensors or its folder)")
	fl.StringSliceVar(&opts.ValidateBackends, "validate-backend", []string{runtime.DefaultBackend}, cmdutil.EnumUsage("backends --validate runs with, comma-separated", runtime.Backends()))
	_ = cmd.RegisterFlagCompletionFunc("validate-backend", cobra.FixedCompletions(runtime.Backends(), cobra.ShellCompDirectiveNoFileComp))
	fl.Float64Var(&opts.ATol, "atol", 0, "--validate tolerance on the max abs diff (default: max(1e-5, 2× PyTorch's own float32 error))")
	fl.Float64Var(&opts.RTol, "rtol", 0, "--validate tolerance relative to the reference value, added to --atol")
	modelsrc.AddDeviceFlag(cmd, &device)
	fl.BoolVar(&opts.ExternalData, "external-data", false, "write the weights to OUT.onnx.data beside the model (automatic above 1.5 GiB of weights)")
	cmdutil.StringEnumFlag(fl, &opts.DType, "dtype", "", "auto", []string{"auto", "float32", "float16", "bfloat16"},
		"precision (auto: float32, or float16/bfloat16 when every weight of --weights is F16/BF16)")
	cmdutil.StringEnumFlag(fl, &opts.Quantize, "quantize", "", "", []string{"int8", "int4"},
		"store every MatMul weight quantized (--quantize-format dq: dequantized by DequantizeLinear, implies --opset 23)")
	fl.Int64Var(&opts.BlockSize, "block-size", precision.DefaultBlockSize, "input rows of a weight that share a scale, with --quantize")
	cmdutil.StringEnumFlag(fl, &opts.QuantizeFormat, "quantize-format", "", precision.FormatDQ, precision.QuantizeFormats(),
		"how --quantize writes the weights (dq: standard DequantizeLinear, any runtime; matmulnbits: ONNX Runtime's com.microsoft.MatMulNBits, faster there)")
	fl.Int64Var(&opts.AccuracyLevel, "accuracy-level", 0, "accuracy_level of MatMulNBits, with --quantize-format matmulnbits: 0 unset, 1 float32, 2 float16, 3 bfloat16, 4 int8")
	fl.BoolVar(&opts.JSON, "json", false, "print the summary as JSON")
	_ = cmd.RegisterFlagCompletionFunc("preset", cobra.FixedCompletions(builder.Presets(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagFilename("config", "json")
	_ = cmd.MarkFlagFilename("weights", "safetensors")
	_ = cmd.MarkFlagDirname("triton-repo")
	_ = cmd.MarkFlagFilename("validate", "safetensors")
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
	case o.Output == "" && o.TritonRepo == "":
		return cmdutil.FlagErrorf("-o/--output is required: name the .onnx file to write")
	case o.Output == "" && o.Name == "":
		return cmdutil.FlagErrorf("--triton-repo needs a model name: add --name NAME (or -o FILE, whose stem names it)")
	case (changed("name") || changed("triton-max-batch")) && o.TritonRepo == "":
		return cmdutil.FlagErrorf("--name and --triton-max-batch apply to --triton-repo only")
	case o.TritonMaxBatch < 1:
		return cmdutil.FlagErrorf("--triton-max-batch %d: must be at least 1", o.TritonMaxBatch)
	case !slices.Contains(xtexport.Opsets(), o.Opset):
		return cmdutil.FlagErrorf("--opset %d is not supported: want %s", o.Opset, cmdutil.OrList(xtexport.Opsets()))
	case changed("block-size") && o.Quantize == "":
		return cmdutil.FlagErrorf("--block-size applies to --quantize only")
	case o.Quantize != "" && o.BlockSize < 2:
		return cmdutil.FlagErrorf("--block-size %d: must be at least 2", o.BlockSize)
	case changed("quantize-format") && o.Quantize == "":
		return cmdutil.FlagErrorf("--quantize-format applies to --quantize only")
	case changed("accuracy-level") && o.QuantizeFormat != precision.FormatMatMulNBits:
		return cmdutil.FlagErrorf("--accuracy-level applies to --quantize-format matmulnbits only")
	case o.AccuracyLevel < 0 || o.AccuracyLevel > 4:
		return cmdutil.FlagErrorf("--accuracy-level %d: want 0 (unset), 1 (float32), 2 (float16), 3 (bfloat16) or 4 (int8)", o.AccuracyLevel)
	case o.Quantize != "" && o.QuantizeFormat == precision.FormatMatMulNBits && (o.BlockSize < 16 || o.BlockSize&(o.BlockSize-1) != 0):
		return cmdutil.FlagErrorf("--block-size %d: --quantize-format matmulnbits wants a power of two of at least 16 (16, 32, 64, 128…)", o.BlockSize)
	case o.Quantize != "" && o.DType != "auto" && o.DType != "float32":
		return cmdutil.FlagErrorf("--quantize and --dtype %s cannot be used together: quantized weights are dequantized to float32", o.DType)
	case o.Quantize != "" && o.QuantizeFormat == precision.FormatDQ && changed("opset") && o.Opset < precision.MinQuantizeOpset:
		return cmdutil.FlagErrorf("--quantize needs --opset %d or later (blocked DequantizeLinear); want --opset 23", precision.MinQuantizeOpset)
	case (changed("validate-backend") || changed("atol") || changed("rtol") || changed("device")) && o.Validate == "":
		return cmdutil.FlagErrorf("--validate-backend, --atol, --rtol and --device apply to --validate only")
	case o.RTol < 0 || math.IsNaN(o.RTol) || math.IsInf(o.RTol, 0):
		return cmdutil.FlagErrorf("--rtol %g: must be a finite number ≥ 0", o.RTol)
	case o.ATol < 0 || math.IsNaN(o.ATol) || math.IsInf(o.ATol, 0):
		return cmdutil.FlagErrorf("--atol %g: must be a positive number (or 0 for the default)", o.ATol)
	}
	if o.Output != "" {
		if err := cmdutil.CheckOutputFile("-o", o.Output, "model.onnx"); err != nil {
			return err
		}
	}
	for _, b := range o.ValidateBackends {
		if o.Validate != "" && !slices.Contains(runtime.Backends(), b) {
			return cmdutil.FlagErrorf("--validate-backend %q: want %s", b, cmdutil.OrList(runtime.Backends()))
		}
		if o.Device == "cuda" {
			if err := modelsrc.CheckDevice("--validate-backend", b, o.Device); err != nil {
				return err
			}
		}
	}
	if o.Preset != "" {
		o.RandomWeights = true
	}
	if o.Quantize != "" {
		if !changed("opset") && o.QuantizeFormat == precision.FormatDQ {
			o.Opset = 23
		}
		o.DType = "float32"
	}
	if o.TritonRepo != "" && o.Name == "" {
		o.Name = strings.TrimSuffix(filepath.Base(o.Output), filepath.Ext(o.Output))
	}
	if o.TritonRepo != "" {
		if err := triton.CheckName(o.Name); err != nil {
			return cmdutil.FlagErrorf("--name %q: %s", o.Name, strings.TrimPrefix(err.Error(), "triton: "))
		}
	}
	return nil
}

func (o *Options) ctx() context.Context {
	if o.Ctx == nil {
		return context.Background()
	}
	return o.Ctx
}

// summary is what export reports about the written file.
type summary struct {
	Path       string `json:"path"`
	Bytes      int64  `json:"bytes"`
	Opset      int64  `json:"opset"`
	Params     int64  `json:"params"`
	ParamBytes int64  `json:"param_bytes"`
	Functions  int    `json:"functions"`
	Inlined    bool   `json:"inlined"`
	KVCache    bool   `json:"kv_cache"`
	// KVLayout is the cache's layout ("buffer" or "concat") with KVCache.
	KVLayout string `json:"kv_layout,omitempty"`
	// DType is the precision of the weights.
	DType string `json:"dtype"`
	// ExternalData is the weights file beside the model, when there is one.
	ExternalData string `json:"external_data,omitempty"`
	// TritonConfig and TritonModel are the files written into the Triton
	// repository, when there is one.
	TritonConfig string  `json:"triton_config,omitempty"`
	TritonModel  string  `json:"triton_model,omitempty"`
	Seconds      float64 `json:"seconds"`
	// Validation is the --validate result, with its verdict line.
	Validation *validation `json:"validation,omitempty"`
}

// validation is the --json form of a --validate result.
type validation struct {
	*xtverify.Result
	MaxAbsDiff cmdutil.Float `json:"max_abs_diff"`
	Line       string        `json:"line"`
}

func exportRun(o *Options) (err error) {
	start := time.Now()
	ios := o.IO
	if o.Validate != "" {
		if _, err := os.Stat(o.Validate); err != nil {
			return fmt.Errorf("--validate %s: no such file or folder (give a reference io.safetensors or the folder holding it, as python/xt2onnx_ref writes it)", o.Validate)
		}
	}
	if o.Output != "" {
		if fi, err := os.Stat(filepath.Dir(o.Output)); err != nil || !fi.IsDir() {
			return fmt.Errorf("cannot write %s: directory %s does not exist", o.Output, filepath.Dir(o.Output))
		}
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
	bopts := builder.Options{Opset: o.Opset, Mask: o.Mask, ReturnEmbeddings: o.ReturnEmbeddings, KVCache: o.KVCache, KVLayout: o.KVLayout, Part: o.Part}
	// Know the size before reading or generating a single weight: a config
	// can describe more than memory or one protobuf file can hold.
	size, err := builder.EstimateSize(cfg, bopts)
	if err != nil {
		return err
	}
	if b := size.Bytes(); b < 0 {
		return &builder.SizeError{Size: size, Limit: math.MaxInt64, What: "any file",
			Hint: "check num_tokens, dim, depth and max_seq_len"}
	}
	// Weights stream to disk: they must fit there.
	for _, dir := range []string{filepath.Dir(o.Output), o.TritonRepo} {
		if dir == "." && o.Output == "" {
			continue
		}
		if free, ok := sysmem.FreeDisk(dir); ok && size.Bytes() > free {
			return &builder.SizeError{Size: size, Limit: free, What: "the free space in " + dir,
				Hint: "free some space, write elsewhere, or check num_tokens, dim, depth and max_seq_len"}
		}
	}
	// Weights are read (or generated) while the file is written, one
	// tensor at a time: the bytes are those of an in-memory build.
	bopts.Stream = true
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
	m, err := builder.Build(cfg, w, source, bopts)
	if err != nil {
		ios.StopProgress()
		return err
	}
	dtype := o.DType
	if dtype == "auto" || dtype == "" {
		dtype = "float32"
		if sw, ok := w.(*builder.SafetensorsWeights); ok {
			switch sw.FloatDType() {
			case "F16":
				dtype = "float16"
			case "BF16":
				dtype = "bfloat16"
			}
		}
	}
	if err := precision.Convert(m, dtypes[dtype]); err != nil {
		ios.StopProgress()
		return err
	}
	if o.Quantize != "" {
		bits := map[string]int{"int8": 8, "int4": 4}[o.Quantize]
		if _, err := precision.Quantize(m, precision.QuantizeOptions{Bits: bits, BlockSize: o.BlockSize, Format: o.QuantizeFormat, AccuracyLevel: o.AccuracyLevel}); err != nil {
			ios.StopProgress()
			return err
		}
		dtype = o.Quantize
	}
	xopts := xtexport.Options{Opset: o.Opset, InlineFunctions: o.Inline, ExternalData: o.ExternalData}
	s := summary{Path: o.Output, Opset: o.Opset, Inlined: o.Inline, KVCache: o.KVCache, DType: dtype}
	if o.KVCache {
		s.KVLayout = modelsrc.KVLayoutName(o.KVLayout)
	}
	if o.Output != "" {
		ios.StartProgress("writing %s", o.Output)
		err = xtexport.WriteFile(o.Output, m, xopts)
		ios.StopProgress()
		if err != nil {
			return err
		}
	}
	if o.TritonRepo != "" {
		ios.StartProgress("writing the Triton repository %s", o.TritonRepo)
		from := o.ConfigPath
		if o.Preset != "" {
			from = "preset " + o.Preset
		}
		s.TritonConfig, s.TritonModel, err = writeTriton(o, m, xopts, from)
		ios.StopProgress()
		if err != nil {
			return err
		}
		if s.Path == "" {
			s.Path = s.TritonModel
		}
	}
	fi, err := os.Stat(s.Path)
	if err != nil {
		return err
	}
	s.Bytes = fi.Size()
	if xtexport.UsesExternalData(m, xopts) {
		s.ExternalData = xtexport.ExternalDataPath(s.Path)
	}
	s.Seconds = time.Since(start).Seconds()
	s.Params, s.ParamBytes = paramCount(m.Graph)
	if !o.Inline {
		s.Functions = len(m.Functions)
	}
	var check *xtverify.Result
	if o.Validate != "" {
		ios.StartProgress("validating %s against %s", s.Path, o.Validate)
		check, err = xtverify.Check(o.ctx(), filepath.Base(s.Path), o.Validate, xtverify.ModelSource{Path: s.Path},
			xtverify.Options{Backends: o.ValidateBackends, Tol: o.ATol, Rtol: o.RTol, Generate: true, Runtime: modelsrc.SessionOptions("", o.Device, 0, 0)})
		ios.StopProgress()
		if err != nil {
			return err
		}
		s.Validation = &validation{Result: check, MaxAbsDiff: cmdutil.Float(check.MaxAbsDiff), Line: check.Line()}
	}
	if o.JSON {
		if err := cmdutil.WriteJSON(ios.Out, s); err != nil {
			return err
		}
		if check != nil && !check.Pass {
			return cmdutil.ErrSilent
		}
		return nil
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
	t.Row("kv_cache", strconv.FormatBool(s.KVCache))
	if s.KVLayout != "" {
		t.Row("kv_layout", s.KVLayout)
	}
	t.Row("dtype", s.DType)
	if s.ExternalData != "" {
		t.Row("external_data", s.ExternalData)
	}
	if s.TritonConfig != "" {
		t.Row("triton_config", s.TritonConfig)
		t.Row("triton_model", s.TritonModel)
	}
	t.Row("seconds", strconv.FormatFloat(s.Seconds, 'f', 3, 64))
	if err := t.Render(); err != nil {
		return err
	}
	if check == nil {
		return nil
	}
	return verifycmd.Print(ios, check, false)
}

// writeTriton writes the model and its Triton config into the repository
// o.TritonRepo and returns the two paths.
func writeTriton(o *Options, m *graph.Model, xopts xtexport.Options, source string) (string, string, error) {
	c, err := triton.FromGraph(o.Name, m.Graph, triton.Options{MaxBatchSize: o.TritonMaxBatch, Source: source})
	if err != nil {
		return "", "", err
	}
	return triton.WriteRepositoryWith(o.TritonRepo, c, func(path string) error {
		return xtexport.WriteFile(path, m, xopts)
	})
}

// paramCount returns the number of elements and bytes of g's initializers.
func paramCount(g *graph.Graph) (n, bytes int64) {
	for _, t := range g.Initializers {
		n += t.NumElements()
		bytes += t.ByteSize()
	}
	return n, bytes
}
