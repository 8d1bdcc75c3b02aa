package generate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// Continuous generates vectors with a ContinuousTransformerWrapper decoder,
// as 1.9.2's ContinuousAutoregressiveWrapper.generate does: each step runs
// the model on the last max_seq_len vectors and appends its output at the
// last position, so the output width (dim_out) must equal the input width
// (dim_in). With a KV-cache export (builder.Options.KVCache) the prompt runs
// once and then one vector per step, and the window slides as for tokens
// (see the package documentation).
type Continuous struct {
	sess   runtime.Session
	meta   Meta
	out    string
	width  int
	cache  []cacheIO
	slides bool
	// buffers: the self-attention cache is in the buffer layout; cache
	// then holds only token-shift caches.
	buffers *bufferLayout
}

// NewContinuous returns a Continuous over sess, a causal
// ContinuousTransformerWrapper built by xt2onnx: input "x" (float32 [batch,
// seq, dim_in]), optionally the KV cache, output "out" (float32 [batch,
// seq, dim_out]) with dim_out = dim_in.
func NewContinuous(sess runtime.Session, meta Meta) (*Continuous, error) {
	switch {
	case sess == nil:
		return nil, errors.New("generate: nil session")
	case meta.Kind == "":
		return nil, errors.New("generate: the model carries no xt2onnx metadata (" + runtime.MetaConfig + "): export it with xt2onnx export")
	case meta.Kind != KindContinuousTransformerWrapper:
		return nil, fmt.Errorf("generate: the model is a %s; ContinuousAutoregressiveWrapper generates with a ContinuousTransformerWrapper", meta.Kind)
	case !meta.Causal:
		return nil, errors.New("generate: the model is a non-causal ContinuousTransformerWrapper (an Encoder): no x-transformers wrapper generates with it")
	}
	c := &Continuous{sess: sess, meta: meta}
	_, outputs, lay, err := sessionIO(sess)
	if err != nil {
		return nil, err
	}
	c.buffers = lay
	for _, in := range sess.Inputs() {
		switch {
		case c.buffers != nil && isBufferInput(in.Name):
		case in.Name == inputTokens:
			if in.DType != runtime.Float32 || len(in.Shape) != 3 || in.Shape[2] < 1 {
				return nil, fmt.Errorf("generate: input %s: want float32 vectors [batch seq dim_in]", in)
			}
			c.width = int(in.Shape[2])
		case strings.HasPrefix(in.Name, "past_"):
			present := "present_" + strings.TrimPrefix(in.Name, "past_")
			if _, ok := outputs[present]; !ok {
				return nil, fmt.Errorf("generate: KV-cache input %q has no output %q to feed it", in.Name, present)
			}
			c.cache = append(c.cache, cacheIO{past: in, present: present})
		case in.Name == inputMask:
			// all true, filled by run
		default:
			return nil, fmt.Errorf("generate: the model takes %s, which generation cannot fill", in)
		}
	}
	if c.width == 0 {
		return nil, fmt.Errorf("generate: the model has no input %q (float32 [batch seq dim_in])", inputTokens)
	}
	o, ok := outputs[outputOut]
	if !ok {
		return nil, fmt.Errorf("generate: the model has no output %q (export without --return-embeddings)", outputOut)
	}
	if o.DType != runtime.Float32 || len(o.Shape) != 3 || o.Shape[2] != int64(c.width) {
		return nil, fmt.Errorf("generate: output %s: ContinuousAutoregressiveWrapper appends each output to the input, so it must be float32 [batch seq %d] (dim_out = dim_in)", o, c.width)
	}
	c.out = o.Name
	c.slides = meta.CacheSlides && meta.MaxSeqLen > 1 && (len(c.cache) > 0 || c.buffers != nil)
	for _, ci := range c.cache {
		if !strings.HasPrefix(ci.past.Name, pastKeyPrefix) && !strings.HasPrefix(ci.past.Name, pastValuePrefix) {
			c.slides = false
		}
	}
	return c, nil
}

// HasCache reports whether the model has a KV cache.
func (c *Continuous) HasCache() bool { return len(c.cache) > 0 || c.buffers != nil }

// Generate continues every row of start ([batch][t][dim_in], t ≥ 1, one t
// for all rows) by maxNew vectors and returns the new ones only. noCache
// runs the whole window at every step even with a KV cache.
func (c *Continuous) Generate(ctx context.Context, start [][][]float32, maxNew int, noCache bool) ([][][]float32, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if maxNew < 0 {
		return nil, fmt.Errorf("generate: maxNew %d is negative", maxNew)
	}
	if len(start) == 0 || len(start[0]) == 0 {
		return nil, errors.New("generate: no start vectors: give at least one row of at least one vector")
	}
	t := len(start[0])
	out := make([][][]float32, len(start))
	for r, row := range start {
		if len(row) != t {
			return nil, fmt.Errorf("generate: start row %d has %d vectors and row 0 has %d: all rows must have the same length", r, len(row), t)
		}
		for j, v := range row {
			if len(v) != c.width {
				return nil, fmt.Errorf("generate: start row %d, position %d has %d values, the model takes %d", r, j, len(v), c.width)
			}
			for _, f := range v {
				if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
					return nil, fmt.Errorf("generate: start row %d, position %d holds %v", r, j, f)
				}
			}
		}
		out[r] = append(out[r], row...)
	}
	useCache := c.HasCache() && !noCache
	var past map[string]*runtime.Tensor
	var st, empty *kvBuffers // the buffer layout's cache, and an empty one
	for step := 1; step <= maxNew; step++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("generate: stopped after %d new vectors: %w", step-1, context.Cause(ctx))
		}
		n := len(out[0])
		from := 0
		if c.meta.MaxSeqLen > 0 && n > c.meta.MaxSeqLen {
			from = n - c.meta.MaxSeqLen
		}
		var (
			last [][]float32
			err  error
		)
		switch {
		case c.buffers != nil && useCache && st != nil && (from == 0 || c.slides):
			if from > 0 {
				st.dropOldest(c.meta.MaxSeqLen - 1)
			}
			last, past, err = c.run(ctx, out, n-1, past, true, st)
		case c.buffers != nil && useCache && from == 0:
			if st, err = newKVBuffers(c.buffers, len(out), grownCapacity(n, c.meta.MaxSeqLen), c.meta.MaxSeqLen); err == nil {
				last, past, err = c.run(ctx, out, 0, nil, true, st)
			}
		case c.buffers != nil:
			st = nil
			if empty == nil {
				empty, err = newKVBuffers(c.buffers, len(out), 1, c.meta.MaxSeqLen)
			}
			if err == nil {
				last, past, err = c.run(ctx, out, from, nil, false, empty)
			}
		case useCache && past != nil && (from == 0 || c.slides):
			if from > 0 {
				if past, err = dropOldest(past, c.meta.MaxSeqLen-1); err != nil {
					return nil, fmt.Errorf("generate: step %d: %w", step, err)
				}
			}
			last, past, err = c.run(ctx, out, n-1, past, true, nil)
		default:
			last, past, err = c.run(ctx, out, from, nil, useCache && from == 0, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("generate: step %d: %w", step, err)
		}
		for r := range out {
			out[r] = append(out[r], last[r])
		}
	}
	for r := range out {
		out[r] = out[r][t:]
	}
	return out, nil
}

// run runs the model on out[:, from:], as Generator.run, and returns the
// last position's output vector per row. With st (the buffer layout) the
// step reads st and, with withCache, appends its new positions to it.
func (c *Continuous) run(ctx context.Context, out [][][]float32, from int, past map[string]*runtime.Tensor, withCache bool, st *kvBuffers) ([][]float32, map[string]*runtime.Tensor, error) {
	batch, seq := len(out), len(out[0])-from
	data := make([]float32, 0, batch*seq*c.width)
	for _, row := range out {
		for _, v := range row[from:] {
			data = append(data, v...)
		}
	}
	x, err := runtime.NewFloat32([]int64{int64(batch), int64(seq), int64(c.width)}, data)
	if err != nil {
		return nil, nil, err
	}
	inputs := map[string]*runtime.Tensor{inputTokens: x}
	for _, in := range c.sess.Inputs() {
		if in.Name == inputMask {
			keep := make([]bool, batch*seq)
			for i := range keep {
				keep[i] = true
			}
			if inputs[in.Name], err = runtime.NewBool([]int64{int64(batch), int64(seq)}, keep); err != nil {
				return nil, nil, err
			}
		}
	}
	for _, ci := range c.cache {
		if past != nil {
			inputs[ci.past.Name] = past[ci.present]
		} else if inputs[ci.past.Name], err = EmptyCache(ci.past, batch); err != nil {
			return nil, nil, err
		}
	}
	if st != nil {
		if err := st.inputs(inputs); err != nil {
			return nil, nil, err
		}
	}
	outs, err := c.sess.Run(ctx, inputs)
	if err != nil {
		return nil, nil, err
	}
	if st != nil && withCache {
		if err := st.append(outs); err != nil {
			return nil, nil, err
		}
	}
	y := outs[c.out]
	if y == nil {
		return nil, nil, fmt.Errorf("the model returned no %q", c.out)
	}
	vals, err := y.Float32s()
	if err != nil {
		return nil, nil, err
	}
	if len(vals) != batch*seq*c.width {
		return nil, nil, fmt.Errorf("output %q has shape %s, want [%d %d %d]", c.out, runtime.FormatShape(y.Shape()), batch, seq, c.width)
	}
	last := make([][]float32, batch)
	for r := range last {
		off := (r*seq + seq - 1) * c.width
		last[r] = append([]float32(nil), vals[off:off+c.width]...)
	}
	if past == nil && !withCache {
		return last, nil, nil
	}
	next := make(map[string]*runtime.Tensor, len(c.cache))
	for _, ci := range c.cache {
		if next[ci.present] = outs[ci.present]; next[ci.present] == nil {
			return nil, nil, fmt.Errorf("the model returned no %q", ci.present)
		}
	}
	return last, next, nil
}
