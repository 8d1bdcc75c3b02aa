package generate

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/modelsrc"
	"github.com/xt2onnx/xt2onnx/runtime"
	gen "github.com/xt2onnx/xt2onnx/runtime/generate"
)

// Options are the parsed flags of `xt2onnx generate`.
type Options struct {
	IO  *iostreams.IOStreams
	Ctx context.Context

	MaxTensorBytes int64 // the global --max-tensor-bytes (0: the default)

	ModelPath string // MODEL.onnx or --model
	Preset    string // --preset: built in memory with the KV cache
	// EncoderPath is an XTransformer's encoder part (--encoder); ModelPath
	// is then its decoder part and Source the source rows.
	EncoderPath string
	Source      [][]int64
	Prompts     [][]int64
	Gen         gen.Options // MaxNew, filter, temperature, eos, seed, NoCache
	// Demask generates by iterative demasking (NonAutoregressiveWrapper)
	// with NAR; CriticPath is the critic part (--critic).
	Demask     bool
	NAR        NARFlags
	CriticPath string
	Backend    string
	Device     string // --device: cpu or cuda
	Threads    int
	JSON       bool
}

// NARFlags are the --demask options; nil pointers take the model's
// wrapper kwargs or 1.9.2's generate() defaults (NonAutoregressive.Defaults).
type NARFlags struct {
	BatchSize        int // --batch-size (1)
	MaskID           *int64
	Steps            *int
	Schedule         *string
	StartTemperature *float64
	FilterThres      *float64
	NoFilter         bool
	Remask           *bool // --can-mask-prev-unmasked
	NoiseLevelScale  *float64
	Greedy           bool
	Seed             uint64
}

// NewCmdGenerate returns the generate command. runF, when not nil, is
// called with the parsed options instead of generating (for tests).
func NewCmdGenerate(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	var model modelsrc.ModelFlags
	var (
		prompt, batch     string
		srcTokens, srcRow string
		topK, topP        float64
		topA, greedy      bool
		minPPow, minPRat  float64
		eos, pad          int64
		temperature       float64
		maxNew            int
		seed              uint64
		noCache, jsonFlag bool
		demask            bool
		narMaskID         int64
		narSteps          int
		narSchedule       string
		narStartTemp      float64
		narNoise          float64
		narRemask         bool
		narNoFilter       bool
		narBatch          int
	)
	cmd := &cobra.Command{
		Use:   "generate (MODEL.onnx | --preset NAME) (--prompt-tokens IDS | --batch-prompts ROWS | --demask) [flags]",
		Short: "sample tokens from a decoder model, or demask with a non-causal one",
		Long: `Continue token prompts with a decoder-only TransformerWrapper model, sampling
as x-transformers 1.9.2's AutoregressiveWrapper.generate does.

The model is an ONNX file exported by xt2onnx (the first argument, or
--model) or a built-in preset
built in memory with random weights and the KV cache (--preset; the weights
are those of "xt2onnx export --preset NAME"). Each step runs on the last
max_seq_len tokens. A model exported with --kv-cache runs the prompt once and
then one token per step; --no-cache makes it run the whole window every step.

Sampling: top-k by default (--top-k-thres 0.9 keeps ceil(0.1·vocab) tokens),
--top-p THRES (1.9.2's top_p: keeps the most likely tokens until their
probability exceeds 1 - THRES), --top-a (1.9.2's top_a, with --min-p-pow and
--min-p-ratio) or --greedy (the most likely token). --temperature divides the
filtered logits. --seed makes a run reproducible. With --eos, generation stops
once every row holds the eos token, and every token after a row's first eos
becomes --pad.

An XTransformer generates from a source as 1.9.2's XTransformer.generate
does: export its two parts (xt2onnx export --part encoder, and --part decoder
with --kv-cache), give the decoder as the model and the encoder as --encoder,
the source as --src-tokens (or --batch-src, one row per prompt row) and the
decoder's start tokens as --prompt-tokens. The encoder runs once; each step
runs the decoder only.

--demask generates from a non-causal TransformerWrapper by iterative
demasking, as 1.9.2's NonAutoregressiveWrapper.generate does: --batch-size
rows of max_seq_len tokens, all starting as --mask-id, over --steps steps
(--schedule linear or cosine), sampling at --start-temperature annealed to 0
(--greedy: the zero-temperature limit), top-k filtered by --top-k-thres
(default 0.7; --no-filter for none). The model is an export of the plain
encoder, or of a NonAutoregressiveWrapper config (a "nonautoregressive"
section), whose mask_id, steps, schedule and can_mask_prev_unmasked are the
defaults and whose self_cond the model carries. A wrapper with token_critic or
self_token_critic needs its critic part (xt2onnx export --part critic) as
--critic; its scores get Gumbel noise scaled by --noise-level-scale (1.9.2's
noise_level_scale, default 1; 0 for none).

Each row's new tokens go to stdout, space-separated, one line per prompt row;
with --json one object (tokens, prompt, timing). The number of tokens
generated per second (all rows together) goes to stderr, and a progress bar
too on a terminal.`,
		Example: `  xt2onnx generate model.onnx --prompt-tokens 1,2,3 --max-new 32 --greedy

  # Two rows, nucleus sampling, reproducible
  xt2onnx generate model.onnx --batch-prompts "1,2;3,4" --top-p 0.9 --seed 7

  # No file needed: the tiny preset with random weights and a KV cache
  xt2onnx generate --preset tiny --prompt-tokens 5 --max-new 64 --temperature 0.7 --json

  # An XTransformer: encoder once, then the cached decoder
  xt2onnx generate dec.onnx --encoder enc.onnx --src-tokens 5,6,7,8 --prompt-tokens 1 --greedy

  # NonAutoregressiveWrapper with a token critic: 2 rows, greedy, no critic noise
  xt2onnx generate gen.onnx --demask --critic critic.onnx --batch-size 2 --greedy --noise-level-scale 0

  # Stop at token 2, pad with 0
  xt2onnx generate model.onnx --prompt-tokens 1 --eos 2 --pad 0`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := model.Resolve(args); err != nil {
				return err
			}
			opts.ModelPath, opts.Preset = model.Path, model.Preset
			opts.MaxTensorBytes = f.MaxTensorBytes
			fl := cmd.Flags()
			changed := fl.Changed
			filters := 0
			for _, name := range []string{"greedy", "top-k-thres", "top-p", "top-a"} {
				if changed(name) {
					filters++
				}
			}
			narFlags := []string{"batch-size", "mask-id", "steps", "schedule", "start-temperature", "no-filter", "can-mask-prev-unmasked", "noise-level-scale", "critic"}
			if opts.Demask = demask; demask {
				for _, name := range []string{"prompt-tokens", "batch-prompts", "encoder", "src-tokens", "batch-src", "max-new", "top-p", "top-a", "min-p-pow", "min-p-ratio", "temperature", "eos", "pad", "no-cache"} {
					if changed(name) {
						return cmdutil.FlagErrorf("--%s does not apply to --demask (which fills all max_seq_len positions of --batch-size rows from the mask token)", name)
					}
				}
				switch {
				case greedy && changed("top-k-thres"):
					return cmdutil.FlagErrorf("choose one of --greedy and --top-k-thres")
				case greedy && changed("start-temperature"):
					return cmdutil.FlagErrorf("--start-temperature does not apply to --greedy (its zero-temperature limit)")
				case changed("no-filter") && changed("top-k-thres"):
					return cmdutil.FlagErrorf("--no-filter and --top-k-thres cannot be used together")
				case narBatch < 1:
					return cmdutil.FlagErrorf("--batch-size %d: must be 1 or more", narBatch)
				case changed("top-k-thres") && !(topK > 0 && topK < 1):
					return cmdutil.FlagErrorf("--top-k-thres %g: must be between 0 and 1 (0.7 keeps the best 30%% of the vocabulary)", topK)
				case changed("steps") && narSteps < 1:
					return cmdutil.FlagErrorf("--steps %d: must be 1 or more", narSteps)
				case changed("start-temperature") && !(narStartTemp >= 0):
					return cmdutil.FlagErrorf("--start-temperature %g: must be 0 or more", narStartTemp)
				case changed("noise-level-scale") && !(narNoise >= 0):
					return cmdutil.FlagErrorf("--noise-level-scale %g: must be 0 or more", narNoise)
				case changed("mask-id") && narMaskID < 0:
					return cmdutil.FlagErrorf("--mask-id %d: must be a token id (0 or more)", narMaskID)
				}
				if err := modelsrc.CheckRuntime(opts.Backend, opts.Device, opts.Threads); err != nil {
					return err
				}
				nf := &opts.NAR
				nf.Greedy, nf.Seed, nf.BatchSize, nf.NoFilter = greedy, seed, narBatch, narNoFilter
				nf.MaskID = ifChanged(changed, "mask-id", narMaskID)
				nf.Steps = ifChanged(changed, "steps", narSteps)
				nf.Schedule = ifChanged(changed, "schedule", narSchedule)
				nf.StartTemperature = ifChanged(changed, "start-temperature", narStartTemp)
				nf.FilterThres = ifChanged(changed, "top-k-thres", topK)
				nf.Remask = ifChanged(changed, "can-mask-prev-unmasked", narRemask)
				nf.NoiseLevelScale = ifChanged(changed, "noise-level-scale", narNoise)
				opts.JSON = jsonFlag
				opts.Ctx = cmd.Context()
				if runF != nil {
					return runF(opts)
				}
				return demaskRun(opts)
			}
			for _, name := range narFlags {
				if changed(name) {
					return cmdutil.FlagErrorf("--%s applies with --demask only (iterative demasking with a non-causal model)", name)
				}
			}
			switch {
			case opts.EncoderPath != "" && opts.ModelPath == "":
				return cmdutil.FlagErrorf("--encoder needs the model file: the XTransformer's decoder part (xt2onnx export --part decoder)")
			case opts.EncoderPath != "" && srcTokens == "" && srcRow == "":
				return cmdutil.FlagErrorf("--encoder needs the source: --src-tokens 1,2,3 or --batch-src \"1,2;3,4\"")
			case opts.EncoderPath == "" && (srcTokens != "" || srcRow != ""):
				return cmdutil.FlagErrorf("--src-tokens and --batch-src need --encoder: the XTransformer's encoder part (xt2onnx export --part encoder)")
			case srcTokens != "" && srcRow != "":
				return cmdutil.FlagErrorf("--src-tokens and --batch-src cannot be used together: put every row in --batch-src")
			case prompt == "" && batch == "":
				return cmdutil.FlagErrorf(`no prompt given: use --prompt-tokens 1,2,3 or --batch-prompts "1,2;3,4" (or --demask for a non-causal model)`)
			case prompt != "" && batch != "":
				return cmdutil.FlagErrorf("--prompt-tokens and --batch-prompts cannot be used together: put every row in --batch-prompts")
			case filters > 1:
				return cmdutil.FlagErrorf("choose one of --greedy, --top-k-thres, --top-p and --top-a")
			case (changed("min-p-pow") || changed("min-p-ratio")) && !topA:
				return cmdutil.FlagErrorf("--min-p-pow and --min-p-ratio apply to --top-a only")
			case greedy && changed("temperature"):
				return cmdutil.FlagErrorf("--temperature does not apply to --greedy (which always picks the most likely token)")
			case changed("pad") && !changed("eos"):
				return cmdutil.FlagErrorf("--pad applies with --eos only: add --eos TOKEN")
			case maxNew < 0:
				return cmdutil.FlagErrorf("--max-new %d: must be 0 or more", maxNew)
			case !(temperature > 0):
				return cmdutil.FlagErrorf("--temperature %g: must be positive (for the most likely token use --greedy)", temperature)
			case changed("top-k-thres") && !(topK > 0 && topK < 1):
				return cmdutil.FlagErrorf("--top-k-thres %g: must be between 0 and 1 (0.9 keeps the best tenth of the vocabulary)", topK)
			case changed("top-p") && !(topP > 0 && topP < 1):
				return cmdutil.FlagErrorf("--top-p %g: must be between 0 and 1", topP)
			case topA && !(minPRat > 0):
				return cmdutil.FlagErrorf("--min-p-ratio %g: must be positive", minPRat)
			}
			if err := modelsrc.CheckRuntime(opts.Backend, opts.Device, opts.Threads); err != nil {
				return err
			}
			if prompt != "" {
				row, err := parseRow(prompt, "--prompt-tokens")
				if err != nil {
					return err
				}
				opts.Prompts = [][]int64{row}
			} else {
				var err error
				if opts.Prompts, err = parseRows(batch, "--batch-prompts"); err != nil {
					return err
				}
			}
			if srcTokens != "" {
				row, err := parseRow(srcTokens, "--src-tokens")
				if err != nil {
					return err
				}
				opts.Source = [][]int64{row}
			} else if srcRow != "" {
				var err error
				if opts.Source, err = parseRows(srcRow, "--batch-src"); err != nil {
					return err
				}
			}
			if opts.Source != nil && len(opts.Source) != len(opts.Prompts) {
				return cmdutil.FlagErrorf("%d source rows for %d prompt rows: give one source row per prompt row", len(opts.Source), len(opts.Prompts))
			}
			g := gen.Options{MaxNew: maxNew, Temperature: temperature, Seed: seed, NoCache: noCache, Greedy: greedy, PadValue: pad}
			switch {
			case changed("top-p"):
				g.Filter, g.FilterThres = gen.FilterTopP, topP
			case topA:
				g.Filter, g.MinPPow, g.MinPRatio = gen.FilterTopA, minPPow, minPRat
			default:
				g.Filter, g.FilterThres = gen.FilterTopK, topK
			}
			if changed("eos") {
				g.EOSToken = &eos
			}
			opts.Gen = g
			opts.JSON = jsonFlag
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return generateRun(opts)
		},
	}
	fl := cmd.Flags()
	model.Add(cmd, "built in memory with random weights and the KV cache")
	fl.StringVar(&opts.EncoderPath, "encoder", "", "XTransformer: the encoder part `FILE` (xt2onnx export --part encoder); the model is then the decoder part")
	fl.StringVar(&srcTokens, "src-tokens", "", "XTransformer: source token `IDS`, comma-separated")
	fl.StringVar(&srcRow, "batch-src", "", "XTransformer: several source `ROWS` of one length, rows separated by ';'")
	fl.StringVar(&prompt, "prompt-tokens", "", "prompt token `IDS`, comma-separated: 1,2,3")
	fl.StringVar(&batch, "batch-prompts", "", "several prompt `ROWS` of one length, rows separated by ';': \"1,2;3,4\"")
	fl.IntVar(&maxNew, "max-new", 64, "tokens to generate per row")
	fl.BoolVar(&greedy, "greedy", false, "pick the most likely token (top-k with k = 1)")
	fl.Float64Var(&topK, "top-k-thres", gen.DefaultFilterThres, "top-k filter: keep ceil((1 - `THRES`) · vocab) tokens (the default filter)")
	fl.Float64Var(&topP, "top-p", gen.DefaultFilterThres, "nucleus filter with 1.9.2's `THRES`: keep tokens until their probability exceeds 1 - THRES")
	fl.BoolVar(&topA, "top-a", false, "top-a filter: keep tokens with p ≥ max(p)^min-p-pow · min-p-ratio, equally likely")
	fl.Float64Var(&minPPow, "min-p-pow", gen.DefaultMinPPow, "exponent of the --top-a limit")
	fl.Float64Var(&minPRat, "min-p-ratio", gen.DefaultMinPRatio, "factor of the --top-a limit")
	fl.Float64Var(&temperature, "temperature", gen.DefaultTemperature, "divide the filtered logits by this")
	fl.Int64Var(&eos, "eos", 0, "end-of-sequence `TOKEN`: stop once every row holds it")
	fl.Int64Var(&pad, "pad", 0, "`TOKEN` written after each row's first --eos")
	fl.Uint64Var(&seed, "seed", 0, "seed of the sampling")
	fl.BoolVar(&noCache, "no-cache", false, "run the whole window every step even when the model has a KV cache")
	modelsrc.AddBackendFlag(cmd, &opts.Backend)
	modelsrc.AddDeviceFlag(cmd, &opts.Device)
	fl.IntVar(&opts.Threads, "threads", 0, "intra-op threads (0: the backend's default)")
	fl.BoolVar(&jsonFlag, "json", false, "print one JSON object: tokens, prompt and timing")
	fl.BoolVar(&demask, "demask", false, "generate by iterative demasking (NonAutoregressiveWrapper) with a non-causal model")
	fl.IntVar(&narBatch, "batch-size", 1, "--demask: rows to generate")
	fl.Int64Var(&narMaskID, "mask-id", 0, "--demask: the mask `TOKEN` (default: the wrapper's mask_id, else num_tokens - 1)")
	fl.IntVar(&narSteps, "steps", 18, "--demask: demasking steps (default: the wrapper's steps)")
	cmdutil.StringEnumFlag(fl, &narSchedule, "schedule", "", gen.ScheduleLinear, []string{gen.ScheduleLinear, gen.ScheduleCosine}, "--demask: how many positions stay masked after each step (default: the wrapper's)")
	fl.Float64Var(&narStartTemp, "start-temperature", 1, "--demask: temperature of the first step, annealed to 0")
	fl.BoolVar(&narNoFilter, "no-filter", false, "--demask: sample from the whole vocabulary (filter_thres=None)")
	fl.BoolVar(&narRemask, "can-mask-prev-unmasked", false, "--demask: let a step mask again what an earlier one unmasked (default: the wrapper's)")
	fl.Float64Var(&narNoise, "noise-level-scale", 1, "--demask with a critic: scale of the Gumbel noise on its scores (0: none)")
	fl.StringVar(&opts.CriticPath, "critic", "", "--demask: the NonAutoregressiveWrapper's critic part `FILE` (xt2onnx export --part critic)")
	return cmd
}

// parseRows parses prompt rows separated by ';', each a comma-separated list
// of token ids; flag names the flag in errors.
func parseRows(s, flag string) ([][]int64, error) {
	var rows [][]int64
	for r, text := range strings.Split(s, ";") {
		row, err := parseRow(text, flag)
		if err != nil {
			return nil, err
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, cmdutil.FlagErrorf("%s: row %d has %d tokens and row 1 has %d: all rows must have the same length", flag, r+1, len(row), len(rows[0]))
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// parseRow parses comma-separated token ids.
func parseRow(text, flag string) ([]int64, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, cmdutil.FlagErrorf("%s: empty prompt: give comma-separated token ids such as 1,2,3", flag)
	}
	var row []int64
	for _, f := range strings.Split(text, ",") {
		f = strings.TrimSpace(f)
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil || v < 0 {
			return nil, cmdutil.FlagErrorf("%s: %q is not a token id (a non-negative integer); separate ids with ',' and --batch-prompts rows with ';'", flag, f)
		}
		row = append(row, v)
	}
	return row, nil
}

// result is the JSON form of generate's output.
type result struct {
	Model           string        `json:"model"`
	Backend         string        `json:"backend"`
	KVCache         bool          `json:"kv_cache"`
	Prompt          [][]int64     `json:"prompt"`
	Tokens          [][]int64     `json:"tokens"`
	NewTokens       int           `json:"new_tokens"`
	Seconds         float64       `json:"seconds"`
	TokensPerSecond cmdutil.Float `json:"tokens_per_second"`
}

// openModel reads (or builds, for --preset; with the KV cache when
// kvCache) the model and opens it, with progress on stderr; the caller
// stops the progress.
func openModel(o *Options, kvCache bool) (*modelsrc.Model, runtime.Session, error) {
	ios := o.IO
	var (
		m   *modelsrc.Model
		err error
	)
	if o.Preset != "" {
		ios.StartProgress("building preset %s", o.Preset)
		m, err = modelsrc.Preset(o.Preset, 0, kvCache)
	} else {
		ios.StartProgress("reading %s", o.ModelPath)
		m, err = modelsrc.File(o.ModelPath)
	}
	if err != nil {
		return nil, nil, err
	}
	ios.StartProgress("loading %s", m.Name)
	sess, err := m.Open(modelsrc.SessionOptions(o.Backend, o.Device, o.Threads, o.MaxTensorBytes))
	if err != nil {
		return nil, nil, err
	}
	return m, sess, nil
}

func generateRun(o *Options) error {
	ios := o.IO
	m, sess, err := openModel(o, true)
	ios.StopProgress()
	if err != nil {
		return err
	}
	defer sess.Close()

	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	var g *gen.Generator
	var run func(context.Context, gen.Options) ([][]int64, error)
	if o.EncoderPath != "" {
		enc, err := modelsrc.File(o.EncoderPath)
		if err != nil {
			return err
		}
		es, err := enc.Open(runtime.Options{Backend: o.Backend, IntraOpThreads: o.Threads, MaxTensorBytes: o.MaxTensorBytes})
		if err != nil {
			return err
		}
		defer es.Close()
		s2s, err := gen.NewSeq2Seq(es, sess, m.Meta)
		if err != nil {
			return err
		}
		g = s2s.Decoder()
		run = func(ctx context.Context, opts gen.Options) ([][]int64, error) {
			return s2s.Generate(ctx, o.Source, nil, o.Prompts, opts)
		}
	} else {
		if g, err = gen.New(sess, m.Meta); err != nil {
			return fmt.Errorf("%w\n(xt2onnx generate runs decoder-only models: export one with xt2onnx export --config decoder.json ... --kv-cache; a non-causal model generates with --demask)", err)
		}
		run = func(ctx context.Context, opts gen.Options) ([][]int64, error) {
			return g.Generate(ctx, o.Prompts, opts)
		}
	}
	opts := o.Gen
	bar := ios.ProgressBar("generating", opts.MaxNew)
	opts.OnStep = func(s gen.Step) error { bar.Set(s.N); return nil }
	start := time.Now()
	tokens, err := run(ctx, opts)
	elapsed := time.Since(start)
	bar.Done()
	if err != nil && (tokens == nil || ctx.Err() == nil) {
		return err
	}
	// Interrupted: print what was generated, then report the interruption.
	interrupted := err

	r := result{Model: m.Name, Backend: o.Backend, KVCache: g.HasCache() && !opts.NoCache, Prompt: o.Prompts, Tokens: tokens, Seconds: elapsed.Seconds()}
	if len(tokens) > 0 {
		r.NewTokens = len(tokens[0])
	}
	total := r.NewTokens * len(tokens)
	r.TokensPerSecond = cmdutil.Float(float64(total) / elapsed.Seconds())
	cache := "no KV cache"
	if r.KVCache {
		cache = "KV cache"
	}
	fmt.Fprintf(ios.ErrOut, "generated %d × %d tokens in %.3fs: %.1f tokens/s (%s, %s)\n", len(tokens), r.NewTokens, r.Seconds, float64(r.TokensPerSecond), o.Backend, cache)
	if o.JSON {
		if err := cmdutil.WriteJSON(ios.Out, r); err != nil {
			return err
		}
		return interrupted
	}
	for _, row := range tokens {
		s := make([]string, len(row))
		for i, v := range row {
			s[i] = strconv.FormatInt(v, 10)
		}
		if _, err := fmt.Fprintln(ios.Out, strings.Join(s, " ")); err != nil {
			return err
		}
	}
	return interrupted
}

// demaskRun generates with --demask: NonAutoregressiveWrapper's iterative
// demasking, with the critic part when given.
func demaskRun(o *Options) error {
	ios := o.IO
	m, sess, err := openModel(o, false)
	var critic runtime.Session
	var cm *modelsrc.Model
	if err == nil && o.CriticPath != "" {
		if cm, err = modelsrc.File(o.CriticPath); err == nil {
			ios.StartProgress("loading %s", cm.Name)
			if critic, err = cm.Open(modelsrc.SessionOptions(o.Backend, o.Device, o.Threads, o.MaxTensorBytes)); err != nil {
				sess.Close()
			}
		}
	}
	ios.StopProgress()
	if err != nil {
		return err
	}
	defer sess.Close()
	n, err := gen.NewNonAutoregressive(sess, m.Meta)
	if err != nil {
		return fmt.Errorf("%w\n(--demask runs a non-causal TransformerWrapper: export its encoder, or a NonAutoregressiveWrapper config, with xt2onnx export)", err)
	}
	if critic != nil {
		defer critic.Close()
		if err := n.SetCritic(critic, cm.Meta); err != nil {
			return err
		}
	}
	nf := o.NAR
	g := n.Defaults()
	g.Batch, g.Greedy, g.Seed, g.NoFilter = nf.BatchSize, nf.Greedy, nf.Seed, nf.NoFilter
	if nf.MaskID != nil {
		g.MaskID = *nf.MaskID
	}
	if nf.Steps != nil {
		g.Steps = *nf.Steps
	}
	if nf.Schedule != nil {
		g.Schedule = *nf.Schedule
	}
	if nf.StartTemperature != nil {
		g.StartTemperature = *nf.StartTemperature
	}
	if nf.FilterThres != nil {
		g.FilterThres = *nf.FilterThres
	}
	if nf.Remask != nil {
		g.CanMaskPrevUnmasked = *nf.Remask
	}
	if nf.NoiseLevelScale != nil {
		g.NoiseLevelScale, g.NoCriticNoise = *nf.NoiseLevelScale, *nf.NoiseLevelScale == 0
	}
	ctx := o.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	bar := ios.ProgressBar("demasking", g.Steps)
	g.OnStep = func(done int) error { bar.Set(done); return nil }
	start := time.Now()
	tokens, err := n.Generate(ctx, g)
	elapsed := time.Since(start)
	bar.Done()
	if err != nil {
		return err
	}
	r := result{Model: m.Name, Backend: o.Backend, Prompt: [][]int64{}, Tokens: tokens, Seconds: elapsed.Seconds()}
	if len(tokens) > 0 {
		r.NewTokens = len(tokens[0])
	}
	r.TokensPerSecond = cmdutil.Float(float64(r.NewTokens*len(tokens)) / elapsed.Seconds())
	how := fmt.Sprintf("%d demasking steps", g.Steps)
	if c := n.Critic(); c != "" {
		how += ", " + c
	}
	if n.SelfCond() {
		how += ", self_cond"
	}
	fmt.Fprintf(ios.ErrOut, "generated %d × %d tokens in %.3fs: %.1f tokens/s (%s, %s)\n", len(tokens), r.NewTokens, r.Seconds, float64(r.TokensPerSecond), o.Backend, how)
	if o.JSON {
		return cmdutil.WriteJSON(ios.Out, r)
	}
	for _, row := range tokens {
		s := make([]string, len(row))
		for i, v := range row {
			s[i] = strconv.FormatInt(v, 10)
		}
		if _, err := fmt.Fprintln(ios.Out, strings.Join(s, " ")); err != nil {
			return err
		}
	}
	return nil
}

// ifChanged returns &v when the flag name was given, nil (the model's
// default) otherwise.
func ifChanged[T any](changed func(string) bool, name string, v T) *T {
	if !changed(name) {
		return nil
	}
	return &v
}
