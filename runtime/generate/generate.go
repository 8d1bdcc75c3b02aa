package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// Filter selects how the logits are filtered before sampling.
type Filter int

// The filters of x-transformers 1.9.2.
const (
	// FilterTopK keeps the k = ceil((1 - FilterThres) · vocab) largest
	// logits (1.9.2's default, top_k).
	FilterTopK Filter = iota
	// FilterTopP is 1.9.2's nucleus filter top_p: it keeps the smallest set
	// of most likely tokens whose probability exceeds 1 - FilterThres.
	FilterTopP
	// FilterTopA is 1.9.2's top_a: it keeps the tokens whose probability is
	// at least max(p)^MinPPow · MinPRatio, max over the whole batch, and
	// makes them equally likely.
	FilterTopA
)

var filterNames = map[Filter]string{FilterTopK: "top-k", FilterTopP: "top-p", FilterTopA: "top-a"}

// String returns "top-k", "top-p" or "top-a".
func (f Filter) String() string {
	if s, ok := filterNames[f]; ok {
		return s
	}
	return fmt.Sprintf("filter(%d)", int(f))
}

// Defaults of the sampling options, as in x-transformers 1.9.2.
const (
	DefaultTemperature = 1.0
	DefaultFilterThres = 0.9
	DefaultMinPPow     = 2.0
	DefaultMinPRatio   = 0.02
)

// Step describes one generation step to Options.OnStep.
type Step struct {
	// N is the number of new tokens per row so far, this step's included
	// (1 for the first step).
	N int
	// Tokens holds the token drawn for each row at this step. Do not keep
	// the slice beyond the call.
	Tokens []int64
	// Cached reports whether the step ran with the KV cache, that is on
	// the new tokens only; false for the first step (the prompt) and for
	// steps that ran the whole window.
	Cached bool
}

// Options configure one Generate call. The zero value (apart from MaxNew)
// samples like 1.9.2's generate defaults: top-k with thres 0.9, temperature
// 1, no eos.
type Options struct {
	// MaxNew is the number of tokens to generate per row (1.9.2's seq_len).
	MaxNew int
	// Temperature divides the filtered logits; 0 means 1. It does not
	// apply to Greedy.
	Temperature float64
	// Filter is the logits filter; FilterTopK by default.
	Filter Filter
	// FilterThres is 1.9.2's filter_thres for FilterTopK and FilterTopP,
	// in (0, 1); 0 means 0.9.
	FilterThres float64
	// MinPPow and MinPRatio parameterise FilterTopA; 0 means 2.0 and
	// 0.02.
	MinPPow, MinPRatio float64
	// Greedy picks the most likely token (the lowest id on ties) instead
	// of sampling; it equals top-k with k = 1 and ignores the filter and
	// the temperature.
	Greedy bool
	// EOSToken ends generation once every row holds it (see the package
	// documentation); nil means no end token.
	EOSToken *int64
	// PadValue replaces the tokens after each row's first EOSToken.
	PadValue int64
	// Seed seeds the PCG generator the tokens are drawn with.
	Seed uint64
	// NoCache runs the whole window at every step even when the model has
	// a KV cache (its past inputs get an empty cache).
	NoCache bool
	// OnStep, when not nil, is called after every step, for progress or
	// streaming; an error it returns ends generation with that error.
	OnStep func(Step) error
}

// settings are Options with the defaults filled in and checked.
type settings struct {
	Options
}

func (o Options) resolve() (settings, error) {
	if o.MaxNew < 0 {
		return settings{}, fmt.Errorf("generate: MaxNew %d is negative", o.MaxNew)
	}
	if o.Temperature == 0 {
		o.Temperature = DefaultTemperature
	}
	if !(o.Temperature > 0) || math.IsInf(o.Temperature, 0) {
		return settings{}, fmt.Errorf("generate: temperature %g must be positive and finite (for the most likely token use Greedy)", o.Temperature)
	}
	if o.FilterThres == 0 {
		o.FilterThres = DefaultFilterThres
	}
	if o.MinPPow == 0 {
		o.MinPPow = DefaultMinPPow
	}
	if o.MinPRatio == 0 {
		o.MinPRatio = DefaultMinPRatio
	}
	if o.Greedy {
		return settings{o}, nil
	}
	switch o.Filter {
	case FilterTopK, FilterTopP:
		if !(o.FilterThres > 0 && o.FilterThres < 1) {
			return settings{}, fmt.Errorf("generate: %s threshold %g is outside (0, 1)", o.Filter, o.FilterThres)
		}
	case FilterTopA:
		if !(o.MinPRatio > 0) || math.IsInf(o.MinPRatio, 0) || math.IsNaN(o.MinPPow) || math.IsInf(o.MinPPow, 0) {
			return settings{}, fmt.Errorf("generate: top-a needs a finite MinPPow and a positive, finite MinPRatio (got %g and %g)", o.MinPPow, o.MinPRatio)
		}
	default:
		return settings{}, fmt.Errorf("generate: unknown filter %d (want FilterTopK, FilterTopP or FilterTopA)", int(o.Filter))
	}
	return settings{o}, nil
}

// cacheIO pairs a past_* input with the present_* output that feeds it.
type cacheIO struct {
	past    runtime.ValueInfo
	present string
}

// Generator generates tokens with one model. It is safe for concurrent use
// when its session is (every runtime backend's session is).
type Generator struct {
	sess   runtime.Session
	meta   Meta
	logits string
	mask   bool      // the model takes a "mask" input (all true)
	cache  []cacheIO // empty: no KV cache
	// fixed names the inputs every step takes unchanged (an XTransformer
	// decoder part's cross-attention keys and values and source mask).
	fixed []string
	// slides: the window slides on the cache (Meta.CacheSlides, and every
	// cache input a [batch heads seq dim] key or value).
	slides bool
	// buffers: the self-attention cache is in the buffer layout (cache_*
	// inputs, new_* outputs); cache then holds only token-shift caches.
	buffers *bufferLayout
	// vocabSize is the logits' declared vocabulary, 0 when not fixed.
	vocabSize int
}

// New returns a Generator over sess, a decoder-only TransformerWrapper
// model built by xt2onnx: input "x" (int64 [batch, seq]), optionally "mask"
// (bool [batch, seq]) or the KV-cache inputs past_* with their present_*
// outputs, and output "logits" (float32 [batch, seq, vocab]).
func New(sess runtime.Session, meta Meta) (*Generator, error) {
	if sess == nil {
		return nil, errors.New("generate: nil session")
	}
	if err := meta.checkAutoregressive(); err != nil {
		return nil, err
	}
	return newGenerator(sess, meta, false)
}

// newGenerator is New without the wrapper check; seq2seq accepts the
// inputs an XTransformer decoder part takes from its encoder part.
func newGenerator(sess runtime.Session, meta Meta, seq2seq bool) (*Generator, error) {
	if meta.MaxSeqLen < 0 || meta.NumTokens < 0 {
		return nil, fmt.Errorf("generate: Meta has a negative MaxSeqLen (%d) or NumTokens (%d)", meta.MaxSeqLen, meta.NumTokens)
	}
	g := &Generator{sess: sess, meta: meta}
	_, outputs, lay, err := sessionIO(sess)
	if err != nil {
		return nil, err
	}
	g.buffers = lay
	var haveX bool
	var unknown []string
	for _, in := range sess.Inputs() {
		switch {
		case g.buffers != nil && isBufferInput(in.Name):
		case in.Name == inputTokens:
			if in.DType != runtime.Int64 || len(in.Shape) != 2 {
				return nil, fmt.Errorf("generate: input %s: want int64 token ids [batch seq]: generation needs a TransformerWrapper model", in)
			}
			haveX = true
		case in.Name == inputMask && in.DType == runtime.Bool && len(in.Shape) == 2:
			g.mask = true
		case seq2seq && (strings.HasPrefix(in.Name, crossKeyPrefix) || strings.HasPrefix(in.Name, crossValuePrefix) || in.Name == inputSourceMask):
			g.fixed = append(g.fixed, in.Name)
		case strings.HasPrefix(in.Name, "past_"):
			present := "present_" + strings.TrimPrefix(in.Name, "past_")
			if _, ok := outputs[present]; !ok {
				return nil, fmt.Errorf("generate: KV-cache input %q has no output %q to feed it: re-export the model with xt2onnx export --kv-cache", in.Name, present)
			}
			if in.DType != runtime.Float32 || len(in.Shape) == 0 {
				return nil, fmt.Errorf("generate: KV-cache input %s: want a float32 tensor with a batch dim", in)
			}
			g.cache = append(g.cache, cacheIO{past: in, present: present})
		default:
			unknown = append(unknown, in.String())
		}
	}
	if !haveX {
		return nil, fmt.Errorf("generate: the model has no input %q (int64 [batch seq]); generation needs a decoder-only TransformerWrapper model", inputTokens)
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("generate: the model takes inputs generation cannot fill (%s); generation needs a decoder-only TransformerWrapper model (inputs x, mask or the KV cache)", strings.Join(unknown, ", "))
	}
	if g.mask && (len(g.cache) > 0 || g.buffers != nil) {
		return nil, errors.New("generate: the model takes both a mask and a KV cache; export it without the mask input")
	}
	g.slides = meta.CacheSlides && meta.MaxSeqLen > 1 && (len(g.cache) > 0 || g.buffers != nil)
	for _, c := range g.cache {
		if !strings.HasPrefix(c.past.Name, pastKeyPrefix) && !strings.HasPrefix(c.past.Name, pastValuePrefix) || len(c.past.Shape) != 4 {
			g.slides = false
		}
	}
	if o, ok := outputs[outputLogits]; ok {
		g.logits = o.Name
	} else if outs := sess.Outputs(); len(outs) == 1 {
		g.logits = outs[0].Name
	} else {
		return nil, fmt.Errorf("generate: the model has no output %q: generation needs the logits (export without --return-embeddings)", outputLogits)
	}
	if o := outputs[g.logits]; o.DType != runtime.Float32 || (o.Shape != nil && len(o.Shape) != 3) {
		return nil, fmt.Errorf("generate: output %s: want float32 logits [batch seq vocab]", o)
	} else if len(o.Shape) == 3 && o.Shape[2] > 0 && o.Shape[2] <= math.MaxInt32 {
		g.vocabSize = int(o.Shape[2])
	}
	return g, nil
}

// HasCache reports whether the model has a KV cache, which Generate uses
// unless Options.NoCache is set.
func (g *Generator) HasCache() bool { return len(g.cache) > 0 || g.buffers != nil }

// Slides reports whether the window slides on the KV cache (dropping the
// oldest position) rather than by re-running it; see Meta.CacheSlides.
func (g *Generator) Slides() bool { return g.slides }

// Meta returns the Meta the generator was made with.
func (g *Generator) Meta() Meta { return g.meta }

// Generate continues every row of start (all rows of one length, at least
// one token each) by up to opts.MaxNew tokens and returns the new tokens
// only, one slice per row. All rows have the same length: MaxNew, or fewer
// when generation ended on opts.EOSToken. When ctx is done (an interrupted
// command, a deadline) Generate stops before its next step and returns the
// tokens generated so far together with an error wrapping the context's
// cause.
func (g *Generator) Generate(ctx context.Context, start [][]int64, opts Options) ([][]int64, error) {
	return g.generate(ctx, start, opts, nil)
}

// generate is Generate with the fixed inputs (Generator.fixed) of every
// step.
func (g *Generator) generate(ctx context.Context, start [][]int64, opts Options, fixed map[string]*runtime.Tensor) ([][]int64, error) {
	for _, name := range g.fixed {
		if fixed[name] == nil {
			return nil, fmt.Errorf("generate: the model takes %q, which only an XTransformer's encoder part gives: use Seq2Seq", name)
		}
	}
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	if err := g.checkStart(start); err != nil {
		return nil, err
	}
	if ctx == nil {
		ctx = context.Background()
	}
	batch, t := len(start), len(start[0])
	out := make([][]int64, batch)
	for r, row := range start {
		out[r] = make([]int64, t, t+o.MaxNew)
		copy(out[r], row)
	}
	rng := rand.New(rand.NewPCG(o.Seed, pcgStream))
	var step stepFunc
	if g.buffers != nil {
		step = g.bufferedSteps(ctx, out, batch, !o.NoCache, fixed)
	} else {
		step = g.concatSteps(ctx, out, batch, len(g.cache) > 0 && !o.NoCache, fixed)
	}
	next := make([]int64, batch)
	stopped := func(step int) ([][]int64, error) {
		for r := range out {
			out[r] = out[r][t:]
		}
		return out, fmt.Errorf("generate: stopped after %d new tokens: %w", step-1, context.Cause(ctx))
	}
	for i := 1; i <= o.MaxNew; i++ {
		if ctx.Err() != nil {
			return stopped(i)
		}
		n := len(out[0])
		from := 0 // first position of the window
		if g.meta.MaxSeqLen > 0 && n > g.meta.MaxSeqLen {
			from = n - g.meta.MaxSeqLen
		}
		logits, cached, err := step(n, from)
		if err != nil {
			if ctx.Err() != nil {
				return stopped(i)
			}
			return nil, fmt.Errorf("generate: step %d: %w", i, err)
		}
		if err := o.pick(logits, rng, next); err != nil {
			return nil, fmt.Errorf("generate: step %d: %w", i, err)
		}
		for r := range out {
			out[r] = append(out[r], next[r])
		}
		if o.OnStep != nil {
			if err := o.OnStep(Step{N: i, Tokens: next, Cached: cached}); err != nil {
				return nil, err
			}
		}
		if o.EOSToken != nil && padAfterEOS(out, *o.EOSToken, o.PadValue) {
			break
		}
	}
	for r := range out {
		out[r] = out[r][t:]
	}
	return out, nil
}

// stepFunc runs one generation step on the first n positions of the rows
// (the window starting at from) and returns the last position's logits per
// row and whether it ran on the cache.
type stepFunc func(n, from int) ([][]float32, bool, error)

// concatSteps returns the steps of a model whose cache (if any, and if
// useCache) is in the concat layout (past_*/present_*).
func (g *Generator) concatSteps(ctx context.Context, out [][]int64, batch int, useCache bool, fixed map[string]*runtime.Tensor) stepFunc {
	var past map[string]*runtime.Tensor // the cache after the previous step, nil when it cannot be used
	var bufs *stepBuffers               // reused output buffers of the cached steps
	if ir, ok := g.sess.(runtime.IntoRunner); ok && useCache {
		bufs = &stepBuffers{runner: ir, maxSeq: g.meta.MaxSeqLen}
	}
	return func(n, from int) ([][]float32, bool, error) {
		cached := useCache && past != nil && (from == 0 || g.slides)
		var logits [][]float32
		var err error
		if cached {
			if from > 0 {
				if past, err = dropOldest(past, g.meta.MaxSeqLen-1); err != nil {
					return nil, false, err
				}
			}
			logits, past, err = g.run(ctx, out, n-1, batch, past, true, bufs, fixed)
		} else {
			logits, past, err = g.run(ctx, out, from, batch, nil, useCache && from == 0, nil, fixed)
		}
		return logits, cached, err
	}
}

// bufferedSteps returns the steps of a model whose self-attention cache is
// in the buffer layout: the cache (when useCache) lives in buffers that grow
// by doubling and the model reads in place. Without the cache, or once the
// window has slid on a model whose cache cannot slide, every step runs the
// window on an empty cache of capacity 1, which it keeps nothing of.
func (g *Generator) bufferedSteps(ctx context.Context, out [][]int64, batch int, useCache bool, fixed map[string]*runtime.Tensor) stepFunc {
	var st *kvBuffers                    // the cache after the previous step, nil when it cannot be used
	var shift map[string]*runtime.Tensor // its token-shift caches
	var logitsBuf []float32
	var empty *kvBuffers
	return func(n, from int) ([][]float32, bool, error) {
		cached := useCache && st != nil && (from == 0 || g.slides)
		if cached {
			if from > 0 {
				st.dropOldest(g.meta.MaxSeqLen - 1)
			}
			logits, next, err := g.runBuffered(ctx, out, n-1, batch, st, true, shift, &logitsBuf, fixed)
			shift = next
			return logits, true, err
		}
		if useCache && from == 0 {
			// The prompt: its positions start the cache.
			var err error
			if st, err = newKVBuffers(g.buffers, batch, grownCapacity(n-from, g.meta.MaxSeqLen), g.meta.MaxSeqLen); err != nil {
				return nil, false, err
			}
			logits, next, err := g.runBuffered(ctx, out, from, batch, st, true, nil, nil, fixed)
			shift = next
			return logits, false, err
		}
		st, shift = nil, nil
		if empty == nil {
			var err error
			if empty, err = newKVBuffers(g.buffers, batch, 1, g.meta.MaxSeqLen); err != nil {
				return nil, false, err
			}
		}
		logits, _, err := g.runBuffered(ctx, out, from, batch, empty, false, nil, nil, fixed)
		return logits, false, err
	}
}

// pcgStream is the second PCG seed word; Options.Seed is the first.
const pcgStream = 0x78743267656e // "xt2gen"

func (g *Generator) checkStart(start [][]int64) error {
	if len(start) == 0 {
		return errors.New("generate: no prompt rows: give at least one row of start tokens")
	}
	t := len(start[0])
	for r, row := range start {
		if len(row) == 0 {
			return fmt.Errorf("generate: prompt row %d is empty: give at least one start token per row", r)
		}
		if len(row) != t {
			return fmt.Errorf("generate: prompt row %d has %d tokens and row 0 has %d: all rows must have the same length (1.9.2 takes one [batch, len] tensor)", r, len(row), t)
		}
		for j, tok := range row {
			if tok < 0 || (g.meta.NumTokens > 0 && tok >= int64(g.meta.NumTokens)) {
				return fmt.Errorf("generate: prompt row %d, position %d: token %d is outside the vocabulary [0, %d)", r, j, tok, g.meta.NumTokens)
			}
		}
	}
	return nil
}

// run runs the model on out[:, from:] and returns the last position's
// logits per row. With past != nil the positions before from are those past
// holds; with past == nil and withCache the cache inputs get an empty cache
// and the returned cache is the step's present_* outputs; otherwise no cache
// is returned.
//
// With bufs (a session that writes outputs in place) a cached step writes
// the logits and present_* outputs into reused buffers instead of having
// the backend allocate and copy them.
func (g *Generator) run(ctx context.Context, out [][]int64, from, batch int, past map[string]*runtime.Tensor, withCache bool, bufs *stepBuffers, fixed map[string]*runtime.Tensor) ([][]float32, map[string]*runtime.Tensor, error) {
	seq := len(out[0]) - from
	ids := make([]int64, 0, batch*seq)
	for _, row := range out {
		ids = append(ids, row[from:]...)
	}
	shape := []int64{int64(batch), int64(seq)}
	x, err := runtime.NewInt64(shape, ids)
	if err != nil {
		return nil, nil, err
	}
	inputs := map[string]*runtime.Tensor{inputTokens: x}
	for _, name := range g.fixed {
		inputs[name] = fixed[name]
	}
	if g.mask {
		keep := make([]bool, len(ids))
		for i := range keep {
			keep[i] = true
		}
		if inputs[inputMask], err = runtime.NewBool(shape, keep); err != nil {
			return nil, nil, err
		}
	}
	for _, c := range g.cache {
		if past != nil {
			inputs[c.past.Name] = past[c.present]
			continue
		}
		if inputs[c.past.Name], err = EmptyCache(c.past, batch); err != nil {
			return nil, nil, err
		}
	}
	var outs map[string]*runtime.Tensor
	if bufs != nil && past != nil {
		into, err := bufs.outputs(g, past, batch, seq)
		if err != nil {
			return nil, nil, err
		}
		outs, err = bufs.runner.RunInto(ctx, inputs, into)
		if err != nil {
			return nil, nil, err
		}
	} else if outs, err = g.sess.Run(ctx, inputs); err != nil {
		return nil, nil, err
	}
	logits, err := lastLogits(outs[g.logits], g.logits, batch, seq)
	if err != nil {
		return nil, nil, err
	}
	if past == nil && !withCache {
		return logits, nil, nil
	}
	next, err := g.presents(outs)
	return logits, next, err
}

// presents returns a run's present_* outputs by name.
func (g *Generator) presents(outs map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	next := make(map[string]*runtime.Tensor, len(g.cache))
	for _, c := range g.cache {
		t := outs[c.present]
		if t == nil {
			return nil, fmt.Errorf("the model returned no %q", c.present)
		}
		next[c.present] = t
	}
	return next, nil
}

// stepBuffers holds the output buffers of the cached steps: the logits,
// and two buffers per present_* output used in turn, one holding the cache
// the step reads (its past_*), the other the cache it writes.
type stepBuffers struct {
	runner runtime.IntoRunner
	maxSeq int // the window (0: none), for the buffers' first capacity
	logits []float32
	cache  map[string]*[2][]float32
}

// outputs returns the tensors a cached step on seq new tokens writes into.
func (s *stepBuffers) outputs(g *Generator, past map[string]*runtime.Tensor, batch, seq int) (map[string]*runtime.Tensor, error) {
	into := make(map[string]*runtime.Tensor, len(g.cache)+1)
	vocab := g.vocabSize
	if vocab == 0 {
		return nil, nil // unknown: let the backend allocate
	}
	t, err := reusedTensor(&s.logits, []int64{int64(batch), int64(seq), int64(vocab)}, 0, g.logits)
	if err != nil {
		return nil, err
	}
	into[g.logits] = t
	if s.cache == nil {
		s.cache = map[string]*[2][]float32{}
	}
	for _, c := range g.cache {
		p := past[c.present]
		shape := p.Shape()
		if strings.HasPrefix(c.past.Name, pastKeyPrefix) || strings.HasPrefix(c.past.Name, pastValuePrefix) {
			if len(shape) != 4 {
				return nil, fmt.Errorf("cache %q has shape %s, want [batch heads seq dim]", c.present, runtime.FormatShape(shape))
			}
			shape[2] += int64(seq)
		}
		size, err := runtime.NumElementsOf(shape)
		if err != nil {
			return nil, err
		}
		pair := s.cache[c.present]
		if pair == nil {
			pair = new([2][]float32)
			s.cache[c.present] = pair
		}
		// Write into the buffer the past does not live in.
		held, _ := p.Data().([]float32)
		i := 0
		if len(held) > 0 && cap(pair[0]) > 0 && &held[:1][0] == &pair[0][:1][0] {
			i = 1
		}
		room := 2 * size
		if len(shape) == 4 && s.maxSeq > 0 && shape[2] <= int64(s.maxSeq) {
			room = size / int(shape[2]) * s.maxSeq // room for the whole window
		}
		if into[c.present], err = reusedTensor(&pair[i], shape, room, c.present); err != nil {
			return nil, err
		}
	}
	return into, nil
}

// dropOldest keeps the last keep positions (dim 2) of every cached key
// and value.
func dropOldest(past map[string]*runtime.Tensor, keep int) (map[string]*runtime.Tensor, error) {
	next := make(map[string]*runtime.Tensor, len(past))
	for name, t := range past {
		shape := t.Shape()
		if len(shape) != 4 {
			return nil, fmt.Errorf("cache %q has shape %s, want [batch heads seq dim]", name, runtime.FormatShape(shape))
		}
		if shape[2] <= int64(keep) {
			next[name] = t
			continue
		}
		data, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("cache %q: %w", name, err)
		}
		rows, seq, dim := int(shape[0]*shape[1]), int(shape[2]), int(shape[3])
		kept := make([]float32, rows*keep*dim)
		for r := range rows {
			copy(kept[r*keep*dim:(r+1)*keep*dim], data[(r*seq+seq-keep)*dim:(r+1)*seq*dim])
		}
		shape[2] = int64(keep)
		if next[name], err = runtime.NewFloat32(shape, kept); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// EmptyCache returns the initial value of a past_* input: dim 0 is the
// batch, dynamic dims (the past sequence) are 0, fixed dims keep their size,
// values are zero.
func EmptyCache(info runtime.ValueInfo, batch int) (*runtime.Tensor, error) {
	shape := make([]int64, len(info.Shape))
	for i, d := range info.Shape {
		switch {
		case i == 0:
			shape[i] = int64(batch)
		case d < 0:
			shape[i] = 0
		default:
			shape[i] = d
		}
	}
	n, err := runtime.NumElementsOf(shape)
	if err != nil {
		return nil, err
	}
	return runtime.NewFloat32(shape, make([]float32, n))
}

// lastLogits returns the logits of the last position of each row of a
// [batch, seq, vocab] output.
func lastLogits(t *runtime.Tensor, name string, batch, seq int) ([][]float32, error) {
	if t == nil {
		return nil, fmt.Errorf("the model returned no %q", name)
	}
	data, err := t.Float32s()
	if err != nil {
		return nil, err
	}
	shape := t.Shape()
	if len(shape) != 3 || shape[0] != int64(batch) || shape[1] != int64(seq) || shape[2] < 1 {
		return nil, fmt.Errorf("output %q has shape %s, want [%d %d vocab]", name, runtime.FormatShape(shape), batch, seq)
	}
	vocab := int(shape[2])
	rows := make([][]float32, batch)
	for r := range rows {
		off := (r*seq + seq - 1) * vocab
		rows[r] = data[off : off+vocab]
	}
	return rows, nil
}

// pick chooses the next token of every row into next.
func (o settings) pick(logits [][]float32, rng *rand.Rand, next []int64) error {
	for r, row := range logits {
		for i, v := range row {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 1) {
				return fmt.Errorf("row %d: logit of token %d is %v", r, i, v)
			}
		}
	}
	if o.Greedy {
		for r, row := range logits {
			next[r] = int64(argmax(row))
		}
		return nil
	}
	rows := make([][]float64, len(logits))
	for r, row := range logits {
		rows[r] = make([]float64, len(row))
		for i, v := range row {
			rows[r][i] = float64(v)
		}
	}
	switch o.Filter {
	case FilterTopK:
		topK(rows, o.FilterThres)
	case FilterTopP:
		topP(rows, o.FilterThres)
	case FilterTopA:
		topA(rows, o.MinPPow, o.MinPRatio)
	}
	for r, row := range rows {
		for i := range row {
			row[i] /= o.Temperature
		}
		if slices.Max(row) == math.Inf(-1) {
			return fmt.Errorf("row %d: the filter removed every token", r)
		}
		next[r] = int64(sample(softmax(row), rng.Float64()))
	}
	return nil
}

// padAfterEOS implements 1.9.2's end of sequence: when every row of out
// holds eos, it sets the positions after each row's first eos to pad and
// reports true.
func padAfterEOS(out [][]int64, eos, pad int64) bool {
	for _, row := range out {
		if !slices.Contains(row, eos) {
			return false
		}
	}
	for _, row := range out {
		for j := slices.Index(row, eos) + 1; j < len(row); j++ {
			row[j] = pad
		}
	}
	return true
}

// checkAutoregressive refuses models AutoregressiveWrapper.generate does not
// fit, saying which wrapper does.
func (m Meta) checkAutoregressive() error {
	switch {
	case m.Kind == "":
		return errors.New("generate: the model carries no xt2onnx metadata (" + runtime.MetaConfig + "), so its wrapper, causality and window are unknown: " +
			"export it with xt2onnx export (PyTorch's own ONNX exports cannot generate here)")
	case m.Kind == KindTransformerWrapper && m.Causal:
		return nil
	case m.Kind == KindTransformerWrapper:
		return errors.New("generate: the model is a non-causal TransformerWrapper (an Encoder): each position sees later ones, so it cannot continue a sequence token by token; " +
			"x-transformers' NonAutoregressiveWrapper (iterative demasking) is the wrapper that generates with it")
	case m.Kind == KindContinuousTransformerWrapper && m.Causal:
		return errors.New("generate: the model is a ContinuousTransformerWrapper: it generates vectors, not tokens; x-transformers' ContinuousAutoregressiveWrapper is the wrapper that fits (NewContinuous)")
	case m.Kind == KindContinuousTransformerWrapper:
		return errors.New("generate: the model is a non-causal ContinuousTransformerWrapper (an Encoder): no x-transformers wrapper generates with it")
	case m.Kind == KindXTransformer:
		return errors.New("generate: the model is an XTransformer: it generates from a source sequence as XTransformer.generate does (encoder once, then the decoder): " +
			"export its two parts (xt2onnx export --part encoder, and --part decoder --kv-cache) and generate with both (Seq2Seq; xt2onnx generate DEC.onnx --encoder ENC.onnx --src-tokens …)")
	}
	return fmt.Errorf("generate: the model is a %s: no x-transformers wrapper generates with it (autoregressive generation needs a causal TransformerWrapper, a Decoder)", m.Kind)
}
