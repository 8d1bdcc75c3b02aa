package builder

import (
	"fmt"
	"slices"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
)

// Names of the KV-cache inputs and outputs. Self-attention layers are
// numbered 0, 1, … in order; token-shifting layers by their layer index.
const (
	PastKeyPrefix      = "past_key_"
	PastValuePrefix    = "past_value_"
	PastShiftPrefix    = "past_shift_"
	PresentKeyPrefix   = "present_key_"
	PresentValuePrefix = "present_value_"
	PresentShiftPrefix = "present_shift_"

	// KVLayoutBuffer's names (see KVLayoutBuffer).
	CacheKeyPrefix   = "cache_key_"
	CacheValuePrefix = "cache_value_"
	CacheLenInput    = "cache_len"
	NewKeyPrefix     = "new_key_"
	NewValuePrefix   = "new_value_"
)

// kvState carries a KV-cache decoder's cache values while it is built.
type kvState struct {
	// pastLen is the number of cached positions (memory tokens included),
	// a scalar int64.
	pastLen string
	// pastTokens is the position of the first new token for the wrapper's
	// position embedding (memory tokens excluded), a scalar int64.
	pastTokens string
	// memCount is how many memory tokens this call prepends: all of them
	// for the prompt (empty cache), none afterwards; 1-D int64.
	memCount string

	// buffer: KVLayoutBuffer; pastKeys then hold the transposed key
	// buffers, pastValues the value buffers, capacity their length (a
	// scalar int64) and pastLen cache_len clamped to it.
	buffer   bool
	capacity string

	pastKeys, pastValues []string       // per self-attention layer
	pastShift            map[int]string // per token-shifting layer index
	present              []presentValue // in output order
	attn                 int            // next self-attention layer ordinal
}

type presentValue struct {
	name, value string
	dims        []graph.Dim
}

// cacheInputs declares the past_* inputs of a KV-cache decoder.
func (mb *modelBuilder) cacheInputs(cfg *Config) *kvState {
	b, l := mb.b, cfg.Layers
	kvHeads := int64(l.Heads)
	if l.Attn.OneKVHead {
		kvHeads = 1
	}
	dh, vdh := int64(l.DimHead()), int64(l.ValueDimHead())
	kv := &kvState{pastShift: map[int]string{}, buffer: mb.opts.KVLayout == KVLayoutBuffer}
	for i := range l.NumAttnLayers() {
		if kv.buffer {
			kv.pastKeys = append(kv.pastKeys, mb.input(fmt.Sprint(CacheKeyPrefix, i), graph.Float, graph.Sym("batch"), graph.Fixed(kvHeads), graph.Fixed(dh), graph.Sym("cache_capacity")))
			kv.pastValues = append(kv.pastValues, mb.input(fmt.Sprint(CacheValuePrefix, i), graph.Float, graph.Sym("batch"), graph.Fixed(kvHeads), graph.Sym("cache_capacity"), graph.Fixed(vdh)))
			continue
		}
		kv.pastKeys = append(kv.pastKeys, mb.input(fmt.Sprint(PastKeyPrefix, i), graph.Float, graph.Sym("batch"), graph.Fixed(kvHeads), graph.Sym("past_seq"), graph.Fixed(dh)))
		kv.pastValues = append(kv.pastValues, mb.input(fmt.Sprint(PastValuePrefix, i), graph.Float, graph.Sym("batch"), graph.Fixed(kvHeads), graph.Sym("past_seq"), graph.Fixed(vdh)))
	}
	for i := range l.LayerTypes() {
		if shifts := l.TokenShifts(i); len(shifts) > 0 {
			s := int64(slices.Max(shifts))
			kv.pastShift[i] = mb.input(fmt.Sprint(PastShiftPrefix, i), graph.Float, graph.Sym("batch"), graph.Fixed(s), graph.Fixed(int64(l.Dim)))
		}
	}
	if kv.buffer {
		n := mb.input(CacheLenInput, graph.Int64, graph.Fixed(1))
		capacity := b.Op("Shape", "cache.capacity_1d", []string{kv.pastValues[0]}, graph.AInt("start", 2), graph.AInt("end", 3))
		kv.capacity = b.Op("Squeeze", "cache.capacity", []string{capacity, b.Ints1D("const.zero_1d", 0)})
		// A cache_len beyond the buffers (or below 0) cannot index
		// anything: it is clamped to [0, capacity].
		clamped := b.Op("Max", "cache.len_nonneg", []string{b.Op("Min", "cache.len_capped", []string{n, capacity}), b.Ints1D("const.zero_1d", 0)})
		kv.pastLen = b.Op("Squeeze", "cache.past_len", []string{clamped, b.Ints1D("const.zero_1d", 0)})
	} else {
		kv.pastLen = b.Op("Squeeze", "cache.past_len", []string{
			b.Op("Shape", "cache.past_len_1d", []string{kv.pastKeys[0]}, graph.AInt("start", 2), graph.AInt("end", 3)),
			b.Ints1D("const.zero_1d", 0)})
	}
	kv.pastTokens = kv.pastLen
	if numMem := int64(cfg.NumMemoryTokens()); numMem > 0 {
		empty := b.Op("Equal", "cache.empty", []string{kv.pastLen, b.ConstInt64("const.zero", nil, 0)})
		kv.memCount = b.Op("Where", "cache.memory_tokens", []string{ops.Unsqueeze(b, "cache.empty_1d", empty, 0), b.Ints1D("const.num_memory_tokens", numMem), b.Ints1D("const.zero_1d", 0)})
		kv.pastTokens = b.Op("Max", "cache.past_tokens", []string{
			b.Op("Sub", "cache.past_minus_memory", []string{kv.pastLen, b.ConstInt64("const.num_memory_tokens_s", nil, numMem)}),
			b.ConstInt64("const.zero", nil, 0)})
	}
	return kv
}

// cacheOutputs declares the present_* outputs collected while building.
func (mb *modelBuilder) cacheOutputs() {
	for _, p := range mb.kv.present {
		v := mb.b.Op("Identity", p.name, []string{p.value})
		mb.outputs = append(mb.outputs, graph.ValueInfo{Name: v, DType: graph.Float, Shape: p.dims})
	}
}

// cacheKV extends a self-attention layer's new keys and values ([b, h, n,
// d], after rotary) with the cached ones, records the extended tensors as
// present outputs, and returns them.
func (mb *modelBuilder) cacheKV(path, k, v string, kvHeads, dh, vdh int64) (string, string) {
	b, kv := mb.b, mb.kv
	i := kv.attn
	kv.attn++
	k = b.Op("Concat", path+".k_cached", []string{kv.pastKeys[i], k}, graph.AInt("axis", 2))
	v = b.Op("Concat", path+".v_cached", []string{kv.pastValues[i], v}, graph.AInt("axis", 2))
	seq := graph.Sym("present_seq")
	kv.present = append(kv.present,
		presentValue{fmt.Sprint(PresentKeyPrefix, i), k, []graph.Dim{graph.Sym("batch"), graph.Fixed(kvHeads), seq, graph.Fixed(dh)}},
		presentValue{fmt.Sprint(PresentValuePrefix, i), v, []graph.Dim{graph.Sym("batch"), graph.Fixed(kvHeads), seq, graph.Fixed(vdh)}})
	return k, v
}

// cacheNew records a KVLayoutBuffer layer's new keys and values ([b, h, n,
// d], after rotary) as its new_* outputs, the keys transposed, and returns
// the layer's cache buffers and the transposed new keys.
func (mb *modelBuilder) cacheNew(path, k, v string, kvHeads, dh, vdh int64) (bufK, bufV, kt string) {
	b, kv := mb.b, mb.kv
	i := kv.attn
	kv.attn++
	kt = ops.Transpose(b, path+".k_new_t", k, 0, 1, 3, 2)
	seq := graph.Sym("seq")
	kv.present = append(kv.present,
		presentValue{fmt.Sprint(NewKeyPrefix, i), kt, []graph.Dim{graph.Sym("batch"), graph.Fixed(kvHeads), graph.Fixed(dh), seq}},
		presentValue{fmt.Sprint(NewValuePrefix, i), v, []graph.Dim{graph.Sym("batch"), graph.Fixed(kvHeads), seq, graph.Fixed(vdh)}})
	return kv.pastKeys[i], kv.pastValues[i], kt
}

// CacheSlides reports whether a KV-cache decoder of cfg can slide its
// window by dropping the oldest cached position, with the tokens of 1.9.2's
// generate, which re-runs the last max_seq_len tokens at every step.
//
// Once the window slides, 1.9.2 computes every position of the window anew,
// each seeing only the window's positions up to itself. A cached entry is
// still right only when it does not depend on where the window starts:
//
//   - Layers after the first self-attention layer see the first layer's
//     output, which for position p mixes every window position before p; the
//     window start changes that mix, so their cache is stale (true for every
//     position scheme). Only a model with one self-attention layer
//     qualifies.
//   - The first layer's keys and values are then a function of the token
//     alone, unless an absolute position embedding (absolute or scaled
//     sinusoidal) is added to it, or rotary embeddings rotate it by its
//     index in the window: 1.9.2 rotates the values too, and a value's
//     rotation, unlike the query-key product, is not relative, so a value
//     cached at index p would need index p-1 after one slide; or token
//     shifting mixes in the previous position (zeros at the window start in
//     1.9.2, the dropped token in the cache), or memory tokens
//     (num_memory_tokens) occupy the cache's first positions.
//   - What the new query adds to the scores depends only on its distance to
//     each key: ALiBi (learned or not), T5's bucketed relative bias and the
//     dynamic position bias are functions of i - j, and so is
//     max_attend_past; num_mem_kv is excluded only for want of a reference.
//
// Under those conditions the last position's logits, the only ones
// generation reads, are the same computation either way.
func (c *Config) CacheSlides() bool {
	if c == nil || (c.Kind != KindTransformerWrapper && c.Kind != KindContinuousTransformerWrapper) || c.Layers == nil || !c.Layers.Causal() {
		return false
	}
	l := c.Layers
	if c.PosEmb() != PosEmbNone || l.UsesRotary() || c.NumMemoryTokens() > 0 || l.NumAttnLayers() != 1 || l.Attn.NumMemKV > 0 {
		return false
	}
	for i := range l.LayerTypes() {
		if len(l.TokenShifts(i)) > 0 {
			return false
		}
	}
	return true
}
