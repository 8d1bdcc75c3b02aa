package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/inputs"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/modelsrc"
	"github.com/xt2onnx/xt2onnx/runtime"
	gen "github.com/xt2onnx/xt2onnx/runtime/generate"
)

// Options are the parsed arguments of `xt2onnx bench`.
type Options struct {
	IO  *iostreams.IOStreams
	Ctx context.Context

	MaxTensorBytes int64 // the global --max-tensor-bytes (0: the default)

	ModelPath string // MODEL.onnx or --model
	Preset    string // --preset: built in memory, random weights
	Backend   string
	Device    string // --device: cpu or cuda
	Threads   int
	Batch     int
	Seq       int // forward: sequence length; 0: defaultSeq or the model's max_seq_len when shorter
	Warmup    int
	Iters     int
	Generate  int    // --generate or --max-new: new tokens per row; 0 = forward benchmark
	PromptLen int    // 0: defaultPromptLen or the model's max_seq_len when shorter
	Seed      uint64 // seed of the random tokens
	JSON      bool
}

// Defaults of the generation benchmark, which is much slower per iteration.
const (
	genWarmup = 1
	genIters  = 3
)

// The default lengths, shortened to the model's max_seq_len.
const (
	defaultSeq       = 128
	defaultPromptLen = 32
)

// NewCmdBench returns the bench command. runF, when not nil, is called with
// the parsed options instead of benchmarking (for tests).
func NewCmdBench(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	var model modelsrc.ModelFlags
	var maxNew int
	cmd := &cobra.Command{
		Use:   "bench (MODEL.onnx | --preset NAME) [flags]",
		Short: "measure a model's latency, throughput and generation speed",
		Long: `Measure how fast a model runs.

By default bench runs the model --warmup times unmeasured, then --iters times
on random inputs of --batch rows of --seq tokens (default 128, or the
model's max_seq_len when that is shorter), and prints the latency
percentiles (p50, p90, p99, nearest rank), the mean, and the throughput in
tokens per second (batch·seq / mean latency). A KV-cache model runs with an
empty cache (the prompt pass).

With --generate N (or --max-new N), bench instead generates N tokens per row
(greedy) after a random prompt of --prompt-len tokens (default 32, or the
model's max_seq_len when shorter), with and without the KV cache, and prints
both speeds (new tokens of all rows per second, the median over --iters
runs; by default 1 warm-up and 3 runs) and their ratio. That is 8 runs of N
tokens, most of the time in the runs without the cache: preset base with
--generate 256 takes 6-8 minutes on 2 CPU cores, --max-new 32 --iters 1 a
few seconds. On a terminal the progress bar names the phase
("kv-cache run 2/3") and shows tokens per second and the time left. A --preset is
built twice for this, with and without the cache; a file with the cache runs
both ways (the no-cache way runs the whole window every step); a file without
the cache runs only without it.

--preset builds a built-in model in memory with random weights (those of
"xt2onnx export --preset NAME"), so no file is needed. Results go to stdout:
aligned on a terminal, "key<TAB>value" lines otherwise, one JSON object with
--json, with the same keys (nested ones joined with "."); a progress bar
goes to stderr on a terminal.`,
		Example: `  xt2onnx bench model.onnx --batch 4 --seq 256

  # No file needed
  xt2onnx bench --preset base --iters 50 --json

  # Generation speed with and without the KV cache (about 30 s)
  xt2onnx bench --preset small --max-new 32 --iters 1`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := model.Resolve(args); err != nil {
				return err
			}
			opts.ModelPath, opts.Preset = model.Path, model.Preset
			if cmd.Flags().Changed("max-new") {
				if cmd.Flags().Changed("generate") {
					return cmdutil.FlagErrorf("--generate and --max-new are the same: give one")
				}
				opts.Generate = maxNew
			}
			opts.MaxTensorBytes = f.MaxTensorBytes
			if err := opts.validate(cmd); err != nil {
				return err
			}
			opts.Ctx = cmd.Context()
			if runF != nil {
				return runF(opts)
			}
			return benchRun(opts)
		},
	}
	fl := cmd.Flags()
	model.Add(cmd, "built in memory with random weights")
	modelsrc.AddBackendFlag(cmd, &opts.Backend)
	modelsrc.AddDeviceFlag(cmd, &opts.Device)
	fl.IntVar(&opts.Threads, "threads", 0, "intra-op threads (0: the backend's default)")
	fl.IntVar(&opts.Batch, "batch", 1, "rows per run")
	fl.IntVar(&opts.Seq, "seq", 0, fmt.Sprintf("tokens per row of a forward run (default %d, or the model's max_seq_len when shorter)", defaultSeq))
	fl.IntVar(&opts.Warmup, "warmup", 3, fmt.Sprintf("unmeasured runs first (with --generate: %d)", genWarmup))
	fl.IntVar(&opts.Iters, "iters", 20, fmt.Sprintf("measured runs (with --generate: %d)", genIters))
	fl.IntVar(&opts.Generate, "generate", 0, "measure generating `N` tokens per row, with and without the KV cache")
	fl.IntVar(&maxNew, "max-new", 0, "the same as --generate `N` (generate's name for it)")
	fl.IntVar(&opts.PromptLen, "prompt-len", 0, fmt.Sprintf("prompt tokens per row for --generate (default %d, or the model's max_seq_len when shorter)", defaultPromptLen))
	fl.Uint64Var(&opts.Seed, "seed", 0, "seed of the random input tokens")
	fl.BoolVar(&opts.JSON, "json", false, "print the results as one JSON object")
	return cmd
}

func (o *Options) validate(cmd *cobra.Command) error {
	changed := cmd.Flags().Changed
	switch {
	case o.Batch < 1:
		return cmdutil.FlagErrorf("--batch %d: must be at least 1", o.Batch)
	case changed("seq") && o.Seq < 1:
		return cmdutil.FlagErrorf("--seq %d: must be at least 1", o.Seq)
	case o.Warmup < 0:
		return cmdutil.FlagErrorf("--warmup %d: must be 0 or more", o.Warmup)
	case o.Iters < 1:
		return cmdutil.FlagErrorf("--iters %d: must be at least 1", o.Iters)
	case o.Threads < 0:
		return cmdutil.FlagErrorf("--threads %d: must be 0 (the backend's default) or more", o.Threads)
	case (changed("generate") || changed("max-new")) && o.Generate < 1:
		return cmdutil.FlagErrorf("--generate %d: must be at least 1 token", o.Generate)
	case changed("prompt-len") && o.Generate == 0:
		return cmdutil.FlagErrorf("--prompt-len applies to --generate only: add --generate N")
	case changed("seq") && o.Generate > 0:
		return cmdutil.FlagErrorf("--seq applies to forward runs only; with --generate the prompt length is --prompt-len")
	case changed("prompt-len") && o.PromptLen < 1:
		return cmdutil.FlagErrorf("--prompt-len %d: must be at least 1", o.PromptLen)
	}
	if o.Generate > 0 {
		if !changed("warmup") {
			o.Warmup = genWarmup
		}
		if !changed("iters") {
			o.Iters = genIters
		}
	}
	return modelsrc.CheckRuntime(o.Backend, o.Device, o.Threads)
}

// latency holds latency statistics in milliseconds.
type latency struct {
	P50  cmdutil.Float `json:"p50"`
	P90  cmdutil.Float `json:"p90"`
	P99  cmdutil.Float `json:"p99"`
	Mean cmdutil.Float `json:"mean"`
	Min  cmdutil.Float `json:"min"`
	Max  cmdutil.Float `json:"max"`
}

// forwardResult is the JSON form of a forward benchmark.
type forwardResult struct {
	Model           string        `json:"model"`
	Backend         string        `json:"backend"`
	Mode            string        `json:"mode"`
	Batch           int           `json:"batch"`
	Seq             int           `json:"seq"`
	Warmup          int           `json:"warmup"`
	Iters           int           `json:"iters"`
	LatencyMS       latency       `json:"latency_ms"`
	TokensPerSecond cmdutil.Float `json:"tokens_per_second"`
	// Threads is --threads (0: the backend's default).
	Threads int `json:"threads"`
	// AllocsPerRun and BytesPerRun are the Go heap allocations of one
	// measured run (the native backend's; ONNX Runtime allocates outside
	// the Go heap).
	AllocsPerRun int64 `json:"allocs_per_run"`
	BytesPerRun  int64 `json:"bytes_per_run"`
	// PeakRSSMB is the process's peak resident memory when the runs are
	// done, in MB (Linux; 0 elsewhere).
	PeakRSSMB cmdutil.Float `json:"peak_rss_mb"`
}

// variantResult is one way of generating in a generation benchmark.
type variantResult struct {
	Name            string          `json:"name"`
	TokensPerSecond cmdutil.Float   `json:"tokens_per_second"`
	MedianMS        cmdutil.Float   `json:"median_ms"`
	RunsMS          []cmdutil.Float `json:"runs_ms"`

	tokens [][]int64
}

// generateResult is the JSON form of a generation benchmark.
type generateResult struct {
	Model     string          `json:"model"`
	Backend   string          `json:"backend"`
	Mode      string          `json:"mode"`
	Batch     int             `json:"batch"`
	PromptLen int             `json:"prompt_len"`
	NewTokens int             `json:"new_tokens"`
	Warmup    int             `json:"warmup"`
	Iters     int             `json:"iters"`
	Variants  []variantResult `json:"variants"`
	// Speedup is the KV-cache speed over the no-cache speed; null without
	// both.
	Speedup cmdutil.Float `json:"speedup"`
	// TokensMatch reports whether both ways generated the same tokens
	// (greedy); null without both.
	TokensMatch *bool `json:"tokens_match"`
}

func (o *Options) context() context.Context {
	if o.Ctx == nil {
		return context.Background()
	}
	return o.Ctx
}

func (o *Options) sessionOptions() runtime.Options {
	return modelsrc.SessionOptions(o.Backend, o.Device, o.Threads, o.MaxTensorBytes)
}

func benchRun(o *Options) error {
	if o.Generate > 0 {
		return generateBench(o)
	}
	return forwardBench(o)
}

// load returns the model: the file, or the preset built with or without
// the cache.
func (o *Options) load(kvCache bool) (*modelsrc.Model, error) {
	ios := o.IO
	defer ios.StopProgress()
	if o.Preset != "" {
		ios.StartProgress("building preset %s", o.Preset)
		return modelsrc.Preset(o.Preset, 0, kvCache)
	}
	ios.StartProgress("reading %s", o.ModelPath)
	return modelsrc.File(o.ModelPath)
}

func (o *Options) open(m *modelsrc.Model) (runtime.Session, error) {
	o.IO.StartProgress("loading %s", m.Name)
	defer o.IO.StopProgress()
	return m.Open(o.sessionOptions())
}

func forwardBench(o *Options) error {
	m, err := o.load(false)
	if err != nil {
		return err
	}
	if o.Seq == 0 {
		o.Seq = fit(defaultSeq, m.Meta.MaxSeqLen)
	}
	if limit := m.Meta.MaxSeqLen; limit > 0 && o.Seq > limit {
		return fmt.Errorf("--seq %d is longer than the model's max_seq_len %d: use --seq %d or less", o.Seq, limit, limit)
	}
	sess, err := o.open(m)
	if err != nil {
		return err
	}
	defer sess.Close()
	vocab := int64(max(m.Meta.NumTokens, 2))
	feed, err := inputs.Random(sess.Inputs(), int64(o.Batch), int64(o.Seq), o.Seed, func(string) int64 { return vocab }, o.MaxTensorBytes)
	if err != nil {
		return err
	}
	ctx := o.context()
	bar := o.IO.ProgressBar("benchmarking", o.Warmup+o.Iters)
	times := make([]float64, 0, o.Iters)
	var before, after goruntime.MemStats
	for i := range o.Warmup + o.Iters {
		if i == o.Warmup {
			goruntime.ReadMemStats(&before)
		}
		start := time.Now()
		if _, err := sess.Run(ctx, feed); err != nil {
			bar.Done()
			return err
		}
		if i >= o.Warmup {
			times = append(times, time.Since(start).Seconds()*1e3)
		}
		bar.Set(i + 1)
	}
	goruntime.ReadMemStats(&after)
	bar.Done()

	r := forwardResult{Model: m.Name, Backend: o.Backend, Mode: "forward", Batch: o.Batch, Seq: o.Seq, Warmup: o.Warmup, Iters: o.Iters, LatencyMS: stats(times),
		Threads: o.Threads, PeakRSSMB: cmdutil.Float(float64(peakRSS()) / 1e6)}
	if o.Iters > 0 {
		r.AllocsPerRun = int64(after.Mallocs-before.Mallocs) / int64(o.Iters)
		r.BytesPerRun = int64(after.TotalAlloc-before.TotalAlloc) / int64(o.Iters)
	}
	r.TokensPerSecond = cmdutil.Float(float64(o.Batch*o.Seq) / (float64(r.LatencyMS.Mean) / 1e3))
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, r)
	}
	return writeText(o, r)
}

// variant is one way of generating.
type variant struct {
	name    string
	sess    runtime.Session
	gen     *gen.Generator
	noCache bool
}

func generateBench(o *Options) error {
	var variants []variant
	defer func() {
		for _, v := range variants {
			v.sess.Close() // a variant may share its session with another: closing twice is allowed
		}
	}()
	add := func(m *modelsrc.Model, sess runtime.Session, name string, noCache bool) error {
		g, err := gen.New(sess, m.Meta)
		if err != nil {
			return fmt.Errorf("%w\n(bench --generate runs decoder-only models)", err)
		}
		variants = append(variants, variant{name: name, sess: sess, gen: g, noCache: noCache})
		return nil
	}
	var meta gen.Meta
	var name string
	if o.Preset != "" {
		for _, kv := range []bool{true, false} {
			m, err := o.load(kv)
			if err != nil {
				return err
			}
			sess, err := o.open(m)
			if err != nil {
				return err
			}
			vname := "no-cache"
			if kv {
				vname = "kv-cache"
			}
			if err := add(m, sess, vname, false); err != nil {
				sess.Close()
				return err
			}
			meta, name = m.Meta, "preset "+o.Preset
		}
	} else {
		m, err := o.load(false)
		if err != nil {
			return err
		}
		sess, err := o.open(m)
		if err != nil {
			return err
		}
		if err := add(m, sess, "kv-cache", false); err != nil {
			sess.Close()
			return err
		}
		if variants[0].gen.HasCache() {
			variants = append(variants, variant{name: "no-cache", sess: sess, gen: variants[0].gen, noCache: true})
		} else {
			variants[0].name = "no-cache"
			fmt.Fprintf(o.IO.ErrOut, "xt2onnx: note: %s has no KV cache, so only generation without it is measured; export the model with --kv-cache to compare\n", o.ModelPath)
		}
		meta, name = m.Meta, m.Name
	}
	if o.PromptLen == 0 {
		o.PromptLen = fit(defaultPromptLen, meta.MaxSeqLen)
	}
	if limit := meta.MaxSeqLen; limit > 0 && o.PromptLen > limit {
		return fmt.Errorf("--prompt-len %d is longer than the model's max_seq_len %d: use --prompt-len %d or less", o.PromptLen, limit, limit)
	}

	prompt := randomTokens(o.Batch, o.PromptLen, meta.NumTokens, o.Seed)
	ctx := o.context()
	total := len(variants) * (o.Warmup + o.Iters) * o.Generate
	bar := o.IO.ProgressBar("generating", total).WithRate("tokens")
	done := 0
	r := generateResult{Model: name, Backend: o.Backend, Mode: "generate", Batch: o.Batch, PromptLen: o.PromptLen, NewTokens: o.Generate,
		Warmup: o.Warmup, Iters: o.Iters, Speedup: cmdutil.Float(math.NaN())}
	for _, v := range variants {
		vr := variantResult{Name: v.name}
		var rates []float64
		for i := range o.Warmup + o.Iters {
			if i < o.Warmup {
				bar.SetLabel(fmt.Sprintf("%s warm-up %d/%d", v.name, i+1, o.Warmup))
			} else {
				bar.SetLabel(fmt.Sprintf("%s run %d/%d", v.name, i-o.Warmup+1, o.Iters))
			}
			base := done
			opts := gen.Options{MaxNew: o.Generate, Greedy: true, NoCache: v.noCache, OnStep: func(s gen.Step) error {
				bar.Set(base + s.N)
				return nil
			}}
			start := time.Now()
			tokens, err := v.gen.Generate(ctx, prompt, opts)
			secs := time.Since(start).Seconds()
			if err != nil {
				bar.Done()
				return err
			}
			done += o.Generate
			if i < o.Warmup {
				continue
			}
			vr.tokens = tokens
			vr.RunsMS = append(vr.RunsMS, cmdutil.Float(secs*1e3))
			rates = append(rates, float64(o.Batch*o.Generate)/secs)
		}
		vr.TokensPerSecond = cmdutil.Float(median(rates))
		runs := make([]float64, len(vr.RunsMS))
		for i, v := range vr.RunsMS {
			runs[i] = float64(v)
		}
		vr.MedianMS = cmdutil.Float(median(runs))
		r.Variants = append(r.Variants, vr)
	}
	bar.Done()
	if len(r.Variants) == 2 {
		r.Speedup = r.Variants[0].TokensPerSecond / r.Variants[1].TokensPerSecond
		match := slices.EqualFunc(r.Variants[0].tokens, r.Variants[1].tokens, slices.Equal)
		r.TokensMatch = &match
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, r)
	}
	return writeText(o, r)
}

// writeText prints r as key/value rows with exactly its JSON keys.
func writeText(o *Options, r any) error {
	rows, err := cmdutil.KeyValues(r)
	if err != nil {
		return err
	}
	t := cmdutil.NewTable(o.IO.Out, o.IO.IsStdoutTTY())
	for _, kv := range rows {
		t.Row(kv[0], kv[1])
	}
	return t.Render()
}

// fit returns def, or limit when that is known and shorter.
func fit(def, limit int) int {
	if limit > 0 && limit < def {
		return limit
	}
	return def
}

// stats returns the nearest-rank percentiles, mean, min and max of times.
func stats(times []float64) latency {
	s := slices.Clone(times)
	slices.Sort(s)
	pct := func(q float64) cmdutil.Float {
		i := int(math.Ceil(q*float64(len(s)))) - 1
		return cmdutil.Float(s[min(max(i, 0), len(s)-1)])
	}
	sum := 0.0
	for _, v := range s {
		sum += v
	}
	return latency{P50: pct(0.5), P90: pct(0.9), P99: pct(0.99), Mean: cmdutil.Float(sum / float64(len(s))), Min: cmdutil.Float(s[0]), Max: cmdutil.Float(s[len(s)-1])}
}

// median returns the median of v (the mean of the middle two for an even
// count).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// randomTokens returns batch rows of n token ids in [0, vocab) (vocab 2
// when unknown).
func randomTokens(batch, n, vocab int, seed uint64) [][]int64 {
	if vocab < 1 {
		vocab = 2
	}
	rng := rand.New(rand.NewPCG(seed, 0x62656e6368)) // "bench"
	rows := make([][]int64, batch)
	for r := range rows {
		rows[r] = make([]int64, n)
		for i := range rows[r] {
			rows[r][i] = rng.Int64N(int64(vocab))
		}
	}
	return rows
}
