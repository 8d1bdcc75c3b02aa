package generate

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// The names of a buffer-layout KV cache (builder.KVLayoutBuffer): the
// model reads cache_key_<i> (keys transposed, [batch, heads, dim_head,
// capacity]) and cache_value_<i> ([batch, heads, capacity, dim_head]), of
// which the first cache_len positions are valid, and returns the step's
// positions as new_key_<i> and new_value_<i>; the caller writes them into
// the buffers.
const (
	cacheKeyPrefix   = "cache_key_"
	cacheValuePrefix = "cache_value_"
	cacheLenInput    = "cache_len"
	newKeyPrefix     = "new_key_"
	newValuePrefix   = "new_value_"
)

// minCapacity is the smallest capacity a buffer grows to.
const minCapacity = 16

// bufferLayer names one self-attention layer's buffers and outputs.
type bufferLayer struct {
	key, value       string // cache_key_<i>, cache_value_<i>
	newKey, newValue string // new_key_<i>, new_value_<i>
	heads, dk, dv    int
}

// bufferLayout describes a buffer-layout model's cache.
type bufferLayout struct {
	layers []bufferLayer
}

// parseBufferLayout reads the cache_* inputs of a buffer-layout model
// (inputs maps every input's name) and checks their outputs; it returns
// nil when the model has no cache_len input.
func parseBufferLayout(inputs, outputs map[string]runtime.ValueInfo) (*bufferLayout, error) {
	n, ok := inputs[cacheLenInput]
	if !ok {
		return nil, nil
	}
	if n.DType != runtime.Int64 || len(n.Shape) != 1 || n.Shape[0] != 1 {
		return nil, fmt.Errorf("generate: KV-cache input %s: want int64 [1]", n)
	}
	lay := &bufferLayout{}
	for i := 0; ; i++ {
		k, kok := inputs[cacheKeyPrefix+strconv.Itoa(i)]
		v, vok := inputs[cacheValuePrefix+strconv.Itoa(i)]
		if !kok && !vok {
			break
		}
		if !kok || !vok {
			return nil, fmt.Errorf("generate: the model takes only one of %s%d and %s%d: re-export it with xt2onnx export --kv-cache", cacheKeyPrefix, i, cacheValuePrefix, i)
		}
		l := bufferLayer{key: k.Name, value: v.Name, newKey: newKeyPrefix + strconv.Itoa(i), newValue: newValuePrefix + strconv.Itoa(i)}
		if k.DType != runtime.Float32 || len(k.Shape) != 4 || k.Shape[1] < 1 || k.Shape[2] < 1 {
			return nil, fmt.Errorf("generate: KV-cache input %s: want float32 [batch heads dim_head capacity]", k)
		}
		if v.DType != runtime.Float32 || len(v.Shape) != 4 || v.Shape[1] != k.Shape[1] || v.Shape[3] < 1 {
			return nil, fmt.Errorf("generate: KV-cache input %s: want float32 [batch %d capacity dim_head]", v, k.Shape[1])
		}
		l.heads, l.dk, l.dv = int(k.Shape[1]), int(k.Shape[2]), int(v.Shape[3])
		for _, o := range []string{l.newKey, l.newValue} {
			if _, ok := outputs[o]; !ok {
				return nil, fmt.Errorf("generate: KV-cache input %q has no output %q to feed it: re-export the model with xt2onnx export --kv-cache", k.Name, o)
			}
		}
		lay.layers = append(lay.layers, l)
	}
	if len(lay.layers) == 0 {
		return nil, fmt.Errorf("generate: the model takes %q but no %s0: re-export it with xt2onnx export --kv-cache", cacheLenInput, cacheKeyPrefix)
	}
	for name := range inputs {
		if (strings.HasPrefix(name, cacheKeyPrefix) || strings.HasPrefix(name, cacheValuePrefix)) && !slices.ContainsFunc(lay.layers, func(l bufferLayer) bool { return l.key == name || l.value == name }) {
			return nil, fmt.Errorf("generate: KV-cache input %q is not numbered from 0 on: re-export the model with xt2onnx export --kv-cache", name)
		}
	}
	return lay, nil
}

// sessionIO returns sess's inputs and outputs by name and its buffer
// layout (nil without one).
func sessionIO(sess runtime.Session) (inputs, outputs map[string]runtime.ValueInfo, lay *bufferLayout, err error) {
	inputs, outputs = map[string]runtime.ValueInfo{}, map[string]runtime.ValueInfo{}
	for _, in := range sess.Inputs() {
		inputs[in.Name] = in
	}
	for _, o := range sess.Outputs() {
		outputs[o.Name] = o
	}
	lay, err = parseBufferLayout(inputs, outputs)
	return inputs, outputs, lay, err
}

// isBufferInput reports whether name is an input parseBufferLayout reads.
func isBufferInput(name string) bool {
	return name == cacheLenInput || strings.HasPrefix(name, cacheKeyPrefix) || strings.HasPrefix(name, cacheValuePrefix)
}

// kvBuffers is the cache of one generation with a buffer-layout model: per
// layer a key and a value buffer of one capacity, the first n positions of
// which hold the cache. The buffers grow by doubling (up to the window), so
// appending a position costs O(1) amortised, and a step passes them to the
// model without copying; only the step's new positions are copied in.
type kvBuffers struct {
	lay      *bufferLayout
	batch    int
	n        int // valid positions
	capacity int
	maxSeq   int // the window (0: none): growth stops there
	k, v     [][]float32
	length   []int64 // cache_len's data, [n]
	// newOut holds the buffers the step's new_* outputs are written into
	// (IntoRunner), by output name.
	newOut map[string][]float32
}

// newKVBuffers returns an empty cache with room for capacity positions
// (at least 1).
func newKVBuffers(lay *bufferLayout, batch, capacity, maxSeq int) (*kvBuffers, error) {
	s := &kvBuffers{lay: lay, batch: batch, maxSeq: maxSeq, length: []int64{0}}
	if err := s.resize(max(capacity, 1)); err != nil {
		return nil, err
	}
	return s, nil
}

// resize moves the cache into buffers of the given capacity (≥ n). The
// model file declares the heads and widths, so every buffer is checked
// against the tensor budget (runtime.DefaultMaxTensorBytes) before it is
// allocated.
func (s *kvBuffers) resize(capacity int) error {
	limit := runtime.DefaultMaxTensorBytes()
	for i, l := range s.lay.layers {
		for _, w := range []int{l.dk, l.dv} {
			if n, err := runtime.NumElementsOf([]int64{int64(s.batch), int64(l.heads), int64(w), int64(capacity)}); err != nil || int64(n) > limit/4 {
				return fmt.Errorf("generate: the KV cache of self-attention layer %d would hold batch %d × %d heads × %d × %d positions of float32, more than the tensor budget of %d bytes: use a smaller batch or a model with a shorter max_seq_len",
					i, s.batch, l.heads, w, capacity, limit)
			}
		}
	}
	k := make([][]float32, len(s.lay.layers))
	v := make([][]float32, len(s.lay.layers))
	for i, l := range s.lay.layers {
		rows := s.batch * l.heads
		k[i] = make([]float32, rows*l.dk*capacity)
		v[i] = make([]float32, rows*capacity*l.dv)
		if s.n == 0 || s.k == nil {
			continue
		}
		for r := range rows * l.dk {
			copy(k[i][r*capacity:r*capacity+s.n], s.k[i][r*s.capacity:r*s.capacity+s.n])
		}
		for r := range rows {
			copy(v[i][r*capacity*l.dv:(r*capacity+s.n)*l.dv], s.v[i][r*s.capacity*l.dv:(r*s.capacity+s.n)*l.dv])
		}
	}
	s.k, s.v, s.capacity = k, v, capacity
	return nil
}

// grownCapacity is the capacity for need positions: the next power of two
// (at least minCapacity), but no more than the window when need fits it.
func grownCapacity(need, maxSeq int) int {
	c := max(minCapacity, 1<<bits.Len(uint(need-1)))
	if maxSeq > 0 && need <= maxSeq {
		c = min(c, maxSeq)
	}
	return c
}

// inputs adds the cache inputs of the next step to in, over the buffers.
func (s *kvBuffers) inputs(in map[string]*runtime.Tensor) error {
	s.length[0] = int64(s.n)
	var err error
	if in[cacheLenInput], err = runtime.NewInt64([]int64{1}, s.length); err != nil {
		return err
	}
	for i, l := range s.lay.layers {
		b, h := int64(s.batch), int64(l.heads)
		if in[l.key], err = runtime.NewFloat32([]int64{b, h, int64(l.dk), int64(s.capacity)}, s.k[i]); err != nil {
			return err
		}
		if in[l.value], err = runtime.NewFloat32([]int64{b, h, int64(s.capacity), int64(l.dv)}, s.v[i]); err != nil {
			return err
		}
	}
	return nil
}

// outputs adds to into the tensors a step on seq new positions writes its
// new_* outputs into, reused from step to step.
func (s *kvBuffers) outputs(into map[string]*runtime.Tensor, seq int) error {
	if s.newOut == nil {
		s.newOut = map[string][]float32{}
	}
	for _, l := range s.lay.layers {
		b, h := int64(s.batch), int64(l.heads)
		for _, o := range []struct {
			name  string
			shape []int64
		}{
			{l.newKey, []int64{b, h, int64(l.dk), int64(seq)}},
			{l.newValue, []int64{b, h, int64(seq), int64(l.dv)}},
		} {
			buf := s.newOut[o.name]
			t, err := reusedTensor(&buf, o.shape, 0, o.name)
			if err != nil {
				return err
			}
			s.newOut[o.name] = buf
			into[o.name] = t
		}
	}
	return nil
}

// append writes a step's new_* outputs after the cache, growing the
// buffers when they are full. A step adds as many positions as it had new
// tokens, and the prompt's also its memory tokens (num_memory_tokens).
func (s *kvBuffers) append(outs map[string]*runtime.Tensor) error {
	l0 := s.lay.layers[0]
	t := outs[l0.newKey]
	if t == nil {
		return fmt.Errorf("the model returned no %q", l0.newKey)
	}
	shape := t.Shape()
	if len(shape) != 4 || shape[3] < 1 || shape[3] > math.MaxInt32 {
		return fmt.Errorf("output %q has shape %s, want [%d %d %d seq]", l0.newKey, runtime.FormatShape(shape), s.batch, l0.heads, l0.dk)
	}
	seq := int(shape[3])
	if need := s.n + seq; need > s.capacity {
		if err := s.resize(grownCapacity(need, s.maxSeq)); err != nil {
			return err
		}
	}
	for i, l := range s.lay.layers {
		rows := s.batch * l.heads
		nk, err := newPositions(outs, l.newKey, []int64{int64(s.batch), int64(l.heads), int64(l.dk), int64(seq)})
		if err != nil {
			return err
		}
		nv, err := newPositions(outs, l.newValue, []int64{int64(s.batch), int64(l.heads), int64(seq), int64(l.dv)})
		if err != nil {
			return err
		}
		c := s.capacity
		for r := range rows * l.dk {
			copy(s.k[i][r*c+s.n:r*c+s.n+seq], nk[r*seq:(r+1)*seq])
		}
		for r := range rows {
			copy(s.v[i][(r*c+s.n)*l.dv:(r*c+s.n+seq)*l.dv], nv[r*seq*l.dv:(r+1)*seq*l.dv])
		}
	}
	s.n += seq
	return nil
}

// newPositions returns the data of output name, checked to have shape.
func newPositions(outs map[string]*runtime.Tensor, name string, shape []int64) ([]float32, error) {
	t := outs[name]
	if t == nil {
		return nil, fmt.Errorf("the model returned no %q", name)
	}
	if !slices.Equal(t.Shape(), shape) {
		return nil, fmt.Errorf("output %q has shape %s, want %s", name, runtime.FormatShape(t.Shape()), runtime.FormatShape(shape))
	}
	return t.Float32s()
}

// dropOldest keeps the last keep positions of the cache.
func (s *kvBuffers) dropOldest(keep int) {
	if s.n <= keep {
		return
	}
	shift, c := s.n-keep, s.capacity
	for i, l := range s.lay.layers {
		rows := s.batch * l.heads
		for r := range rows * l.dk {
			copy(s.k[i][r*c:r*c+keep], s.k[i][r*c+shift:r*c+s.n])
		}
		for r := range rows {
			copy(s.v[i][r*c*l.dv:(r*c+keep)*l.dv], s.v[i][(r*c+shift)*l.dv:(r*c+s.n)*l.dv])
		}
	}
	s.n = keep
}

// runBuffered runs a buffer-layout model on out[:, from:] with the cache
// st (the positions before from) and returns the last position's logits
// per row. With commit the new positions are appended to st; without, st
// is left as it was (a benchmark repeating one step, or a window re-run
// that keeps no cache). past holds the token-shift caches (concat form)
// and is replaced by the step's.
func (g *Generator) runBuffered(ctx context.Context, out [][]int64, from, batch int, st *kvBuffers, commit bool, shift map[string]*runtime.Tensor, logitsBuf *[]float32, fixed map[string]*runtime.Tensor) ([][]float32, map[string]*runtime.Tensor, error) {
	seq := len(out[0]) - from
	ids := make([]int64, 0, batch*seq)
	for _, row := range out {
		ids = append(ids, row[from:]...)
	}
	x, err := runtime.NewInt64([]int64{int64(batch), int64(seq)}, ids)
	if err != nil {
		return nil, nil, err
	}
	inputs := map[string]*runtime.Tensor{inputTokens: x}
	for _, name := range g.fixed {
		inputs[name] = fixed[name]
	}
	if err := st.inputs(inputs); err != nil {
		return nil, nil, err
	}
	for _, c := range g.cache {
		if shift != nil {
			inputs[c.past.Name] = shift[c.present]
		} else if inputs[c.past.Name], err = EmptyCache(c.past, batch); err != nil {
			return nil, nil, err
		}
	}
	var outs map[string]*runtime.Tensor
	if ir, ok := g.sess.(runtime.IntoRunner); ok && logitsBuf != nil {
		into := map[string]*runtime.Tensor{}
		if err := st.outputs(into, seq); err != nil {
			return nil, nil, err
		}
		if vocab := g.vocabSize; vocab > 0 {
			if into[g.logits], err = reusedTensor(logitsBuf, []int64{int64(batch), int64(seq), int64(vocab)}, 0, g.logits); err != nil {
				return nil, nil, err
			}
		}
		outs, err = ir.RunInto(ctx, inputs, into)
	} else {
		outs, err = g.sess.Run(ctx, inputs)
	}
	if err != nil {
		return nil, nil, err
	}
	logits, err := lastLogits(outs[g.logits], g.logits, batch, seq)
	if err != nil {
		return nil, nil, err
	}
	if !commit {
		return logits, shift, nil
	}
	if err := st.append(outs); err != nil {
		return nil, nil, err
	}
	if len(g.cache) == 0 {
		return logits, nil, nil
	}
	next, err := g.presents(outs)
	return logits, next, err
}

// reusedTensor returns a tensor of shape over (*buf)[:n], n its element
// count, first replacing *buf by room (at least n) elements when it holds
// fewer than n. The shape comes from the model file, so n and room are
// checked against the tensor budget (runtime.DefaultMaxTensorBytes) before
// anything is allocated; what names the output in the error.
func reusedTensor(buf *[]float32, shape []int64, room int, what string) (*runtime.Tensor, error) {
	n, err := runtime.NumElementsOf(shape)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", what, err)
	}
	room = max(room, n)
	if limit := runtime.DefaultMaxTensorBytes(); int64(room) > limit/4 {
		return nil, fmt.Errorf("generate: output %q of shape %s would take more than the tensor budget of %d bytes", what, runtime.FormatShape(shape), limit)
	}
	if cap(*buf) < n {
		*buf = make([]float32, room)
	}
	return runtime.NewFloat32(shape, (*buf)[:n])
}

// Cache is the KV cache of one batch of sequences for a model exported
// with a KV cache (builder.Options.KVCache), in either layout: it gives
// the cache inputs of the next run and takes each run's outputs. It lets a
// caller step a model by hand (the verify command does) without knowing
// the layout. A Cache is not safe for concurrent use.
type Cache struct {
	concat  []cacheIO
	past    map[string]*runtime.Tensor // concat layout and token-shift caches
	buffers *kvBuffers
}

// IsCacheInput reports whether an input of a model built by xt2onnx
// belongs to its KV cache (past_*, cache_*, cache_len).
func IsCacheInput(name string) bool {
	return strings.HasPrefix(name, "past_") || isBufferInput(name)
}

// IsCacheOutput reports whether an output of a model built by xt2onnx
// belongs to its KV cache (present_*, new_key_*, new_value_*).
func IsCacheOutput(name string) bool {
	return strings.HasPrefix(name, "present_") || strings.HasPrefix(name, newKeyPrefix) || strings.HasPrefix(name, newValuePrefix)
}

// NewCache returns the empty cache of batch sequences for sess; a model
// without a cache gets a Cache that adds nothing.
func NewCache(sess runtime.Session, batch int) (*Cache, error) {
	if sess == nil || batch < 1 {
		return nil, fmt.Errorf("generate: NewCache needs a session and a batch ≥ 1 (got %d)", batch)
	}
	_, outputs, lay, err := sessionIO(sess)
	if err != nil {
		return nil, err
	}
	c := &Cache{}
	if lay != nil {
		if c.buffers, err = newKVBuffers(lay, batch, 1, 0); err != nil {
			return nil, err
		}
	}
	for _, in := range sess.Inputs() {
		if !strings.HasPrefix(in.Name, "past_") {
			continue
		}
		present := "present_" + strings.TrimPrefix(in.Name, "past_")
		if _, ok := outputs[present]; !ok {
			return nil, fmt.Errorf("generate: KV-cache input %q has no output %q to feed it: re-export the model with xt2onnx export --kv-cache", in.Name, present)
		}
		empty, err := EmptyCache(in, batch)
		if err != nil {
			return nil, err
		}
		if c.past == nil {
			c.past = map[string]*runtime.Tensor{}
		}
		c.concat = append(c.concat, cacheIO{past: in, present: present})
		c.past[present] = empty
	}
	return c, nil
}

// Len returns the number of cached positions of the buffer layout (memory
// tokens included), or -1 for the concat layout, whose inputs carry it.
func (c *Cache) Len() int {
	if c.buffers == nil {
		return -1
	}
	return c.buffers.n
}

// Inputs adds the cache inputs of the next run to in.
func (c *Cache) Inputs(in map[string]*runtime.Tensor) error {
	for _, ci := range c.concat {
		in[ci.past.Name] = c.past[ci.present]
	}
	if c.buffers != nil {
		return c.buffers.inputs(in)
	}
	return nil
}

// Update takes a run's outputs into the cache: the present_* outputs
// replace the past, a buffer layout's new_* outputs are appended.
func (c *Cache) Update(outs map[string]*runtime.Tensor) error {
	for _, ci := range c.concat {
		t := outs[ci.present]
		if t == nil {
			return fmt.Errorf("the model returned no %q", ci.present)
		}
		c.past[ci.present] = t
	}
	if c.buffers != nil {
		return c.buffers.append(outs)
	}
	return nil
}
