package builder

import (
	"bytes"
	"fmt"
	"math"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
)

// attnSite holds what every attention layer of one kind (self 'a' or cross
// 'c') in an AttentionLayers shares: the keep mask, the position bias and
// the rotary tables. They are emitted once and reused by every layer.
type attnSite struct {
	self bool    // self-attention (cached in a KV-cache decoder)
	keep string  // bool, broadcasts to [b, h, i, j]; "" when unmasked
	bias string  // float [h, i, j] added to the logits; "" when none
	rot  *rotary // rotary tables; nil when none
}

// rotary holds the tables of x-transformers' RotaryEmbedding for a
// sequence: cos and sin of the position angles [n, width], and the xpos
// scales for queries and for keys/values (empty without xpos).
type rotary struct {
	width            int64
	cos, sin         string
	qScale, kScale   string
	positionIDs      string // [batch, n] int64, for the opset-23 operator
	cosHalf, sinHalf string // [n, width/2] (opset 23)
	qCos, qSin       string // xpos-scaled [n, width/2] (opset 23)
	kCos, kSin       string
}

// scalarLen returns axis 1 of x as a scalar int64.
func (mb *modelBuilder) scalarLen(name, x string) string {
	b := mb.b
	return b.Op("Squeeze", name, []string{mb.seqLen(name+".1d", x), b.Ints1D("const.zero_1d", 0)})
}

// rangeOf emits Range(0, n) for a scalar int64 n.
func (mb *modelBuilder) rangeOf(name, n string) string {
	b := mb.b
	return b.Op("Range", name, []string{b.ConstInt64("const.zero", nil, 0), n, b.ConstInt64("const.one_i64", nil, 1)})
}

// selfSite emits the shared pieces of the self-attention layers: i = n
// queries attend to j = num_mem_kv + n keys.
func (mb *modelBuilder) selfSite(prefix string, l *AttentionLayers, x, mask string) *attnSite {
	b := mb.b
	p := prefix + "self_attn"
	mem := int64(l.Attn.NumMemKV)
	n := mb.scalarLen(p+".n", x)
	qpos := mb.rangeOf(p+".query_positions", n)
	kpos := qpos
	// Keys: num_mem_kv memory keys, the cached positions, the new ones;
	// queries are the last n of them.
	past := ""
	if mb.kv != nil {
		past = mb.kv.pastLen
	}
	var valid string // KVLayoutBuffer: which keys hold a position
	if mb.kv != nil && mb.kv.buffer {
		// Keys: num_mem_kv memory keys, the buffer's capacity slots (the
		// first past of them valid), the new ones; queries are the new
		// ones, at mem + past + 0 … n−1.
		qpos = b.Op("Add", p+".query_positions.past", []string{qpos, past})
		slots := mb.rangeOf(p+".slots", mb.kv.capacity)
		bufPos, newPos := slots, qpos
		parts, keep := []string{}, []string{}
		if mem > 0 {
			m := b.ConstInt64("const.mem_kv", nil, mem)
			bufPos = b.Op("Add", p+".slot_positions", []string{slots, m})
			newPos = b.Op("Add", p+".query_positions.offset", []string{qpos, m})
			parts = append(parts, mb.rangeOf(p+".mem_positions", m))
			keep = append(keep, b.Const("const.mem_valid", &graph.Tensor{DType: graph.Bool, Dims: []int64{mem}, Raw: bytes.Repeat([]byte{1}, int(mem))}))
		}
		qpos = newPos
		parts = append(parts, bufPos, newPos)
		kpos = b.Op("Concat", p+".key_positions", parts, graph.AInt("axis", 0))
		keep = append(keep, b.Op("Less", p+".slot_valid", []string{slots, past}),
			b.Op("Expand", p+".new_valid", []string{b.Const("const.true_1d", &graph.Tensor{DType: graph.Bool, Dims: []int64{1}, Raw: []byte{1}}), ops.Unsqueeze(b, p+".n_1d", n, 0)}))
		valid = b.Op("Concat", p+".key_valid", keep, graph.AInt("axis", 0))
	} else if mem > 0 || past != "" {
		j := n
		if past != "" {
			qpos = b.Op("Add", p+".query_positions.past", []string{qpos, past})
			j = b.Op("Add", p+".total", []string{j, past})
		}
		if mem > 0 {
			qpos = b.Op("Add", p+".query_positions.offset", []string{qpos, b.ConstInt64("const.mem_kv", nil, mem)})
			j = b.Op("Add", p+".j", []string{j, b.ConstInt64("const.mem_kv", nil, mem)})
		}
		kpos = mb.rangeOf(p+".key_positions", j)
	}
	s := &attnSite{self: true, keep: mb.keepMask(p, l, l.Causal(), qpos, kpos, mask, mem)}
	if valid != "" {
		v := ops.Unsqueeze(b, p+".key_valid_row", valid, 0)
		if s.keep == "" {
			s.keep = v
		} else {
			s.keep = b.Op("And", p+".keep_valid", []string{s.keep, v})
		}
	}
	switch l.RelPos() {
	case RelPosT5:
		s.bias = mb.t5Bias(prefix, l, qpos, kpos)
	case RelPosAlibi, RelPosLearnedAlibi:
		s.bias = mb.alibiBias(prefix, l, qpos, kpos)
	case RelPosDynamic:
		if valid != "" {
			s.bias = mb.dynamicBiasRows(prefix, l, qpos, kpos)
			break
		}
		s.bias = mb.dynamicBias(prefix, l, kpos)
		if past != "" {
			// the rows of the new queries only
			s.bias = b.Op("Slice", p+".bias_new_rows", []string{s.bias, ops.Unsqueeze(b, p+".past_1d", past, 0), b.Ints1D("const.int_max", math.MaxInt64), b.Ints1D("const.one_1d", 1)})
		}
	}
	if l.UsesRotary() {
		s.rot = mb.rotaryTables(prefix, l, x, n, past)
	}
	return s
}

// crossSite emits the shared pieces of the cross-attention layers: i = n
// queries attend to j = num_mem_kv + context length keys. The keys are
// masked by context_mask or, without one, by the query mask: 1.9.2's
// Attention takes default(context_mask, mask), which only runs when the
// context is as long as the (memory-token padded) sequence.
func (mb *modelBuilder) crossSite(prefix string, l *AttentionLayers, x, mask string, ctx layerContext) *attnSite {
	b := mb.b
	p := prefix + "cross_attn"
	mem := int64(l.Attn.NumMemKV)
	var qpos, kpos string
	if l.Attn.MaxAttendPast != nil {
		n := mb.scalarLen(p+".n", x)
		var j string
		if mb.crossKV != nil {
			// An XTransformer decoder part: the context length is the
			// cross keys' axis 2.
			j = b.Op("Squeeze", p+".context_len", []string{
				b.Op("Shape", p+".context_len_1d", []string{ctx.context}, graph.AInt("start", 2), graph.AInt("end", 3)),
				b.Ints1D("const.zero_1d", 0)})
		} else {
			j = mb.scalarLen(p+".context_len", ctx.context)
		}
		if mem > 0 {
			j = b.Op("Add", p+".j", []string{j, b.ConstInt64("const.mem_kv", nil, mem)})
		}
		kpos = mb.rangeOf(p+".key_positions", j)
		// queries sit at j − i … j − 1, as x-transformers counts them.
		off := b.Op("Sub", p+".query_offset", []string{j, n})
		qpos = b.Op("Add", p+".query_positions", []string{mb.rangeOf(p+".query_range", n), off})
	}
	keyMask := ctx.contextMask
	if keyMask == "" {
		keyMask = mask
	}
	return &attnSite{keep: mb.keepMask(p, l, false, qpos, kpos, keyMask, mem)}
}

// keepMask combines the causal mask, max_attend_past and a key-padding mask
// (padded with num_mem_kv true columns) into one boolean keep mask, or ""
// when nothing is masked. qpos and kpos are the int64 positions of queries
// and keys.
func (mb *modelBuilder) keepMask(p string, l *AttentionLayers, causal bool, qpos, kpos, mask string, mem int64) string {
	b := mb.b
	var keep string
	and := func(name, m string) {
		if keep == "" {
			keep = m
			return
		}
		keep = b.Op("And", name, []string{keep, m})
	}
	var q, k string
	if causal || l.Attn.MaxAttendPast != nil {
		q = ops.Unsqueeze(b, p+".q_col", qpos, 1)
		k = ops.Unsqueeze(b, p+".k_row", kpos, 0)
	}
	if causal {
		and(p+".keep_causal", b.Op("LessOrEqual", p+".causal", []string{k, q}))
	}
	if m := l.Attn.MaxAttendPast; m != nil {
		dist := b.Op("Sub", p+".distance", []string{q, k})
		and(p+".keep_recent", b.Op("LessOrEqual", p+".recent", []string{dist, b.ConstInt64("const.max_attend_past", nil, int64(*m))}))
	}
	if mask != "" {
		if mem > 0 {
			mask = mb.padMaskLeft(p+".mask_with_mem_kv", mask, mem)
		}
		and(p+".keep", ops.Unsqueeze(b, p+".key_padding", mask, 1, 2))
	}
	return keep
}

// attention emits Attention.forward at module path for queries from x and
// keys/values from kvIn (x itself for self-attention). queryMask zeroes the
// outputs of padded queries; prev is the previous layer's pre-softmax
// logits (residual attention) or "". It returns the output and, when
// wantPre, the pre-softmax logits.
func (mb *modelBuilder) attention(path string, l *AttentionLayers, site *attnSite, x, kvIn, queryMask, prev string, wantPre bool) (string, string) {
	b, a := mb.b, &l.Attn
	dim, h := int64(l.Dim), int64(l.Heads)
	dh, vdh := int64(l.DimHead()), int64(l.ValueDimHead())
	qDim, kDim, vDim := h*dh, h*dh, h*vdh
	outDim := vDim
	if a.OneKVHead {
		kDim, vDim = dh, vdh
	}

	q := mb.linear(path+".to_q", x, dim, qDim, false)
	r := ""
	if a.TensorProduct {
		r = mb.linear(path+".to_r", x, dim, vDim, false)
	}
	q = ops.SplitHeads(b, path+".q", q, h)
	if r != "" && !a.OneKVHead {
		r = ops.SplitHeads(b, path+".r", r, h)
	}
	var k, v string
	if c := mb.crossKV; c != nil && !site.self {
		// An XTransformer decoder part: the encoder part computed them.
		k, v = c.keys[c.next], c.values[c.next]
		c.next++
	} else {
		k = mb.linear(path+".to_k", kvIn, dim, kDim, false)
		v = k
		if !a.SharedKV {
			v = mb.linear(path+".to_v", kvIn, dim, vDim, false)
		}
		if a.OneKVHead {
			k = ops.Unsqueeze(b, path+".k", k, 1)
			v = ops.Unsqueeze(b, path+".v", v, 1)
		} else {
			k = ops.SplitHeads(b, path+".k", k, h)
			v = ops.SplitHeads(b, path+".v", v, h)
		}
	}

	buffered := mb.kv != nil && mb.kv.buffer && site.self
	composite := prev != "" || wantPre || a.TalkingHeads || site.bias != "" || a.SparseTopK != nil || buffered
	scale := float32(math.Pow(float64(dh), -0.5))
	var qGain, kGain string
	fused := false // q, k normalised inside CosineSimAttention
	if a.QKNorm {
		scale = float32(a.QKNormScale)
		if a.QKNormDimScale {
			// 1.9.2 starts the gains at 1 and scales the logits by
			// qk_norm_scale; 1.9.1 starts them at √qk_norm_scale and
			// scales the logits by 1.
			gain := float32(1)
			if mb.cfg.QKNormDimScaleLogitsUnscaled() {
				gain, scale = float32(math.Sqrt(a.QKNormScale)), 1
			}
			qGain = mb.weightValue(path+".qk_norm_q_scale", gain, dh)
			kGain = mb.weightValue(path+".qk_norm_k_scale", gain, dh)
		} else {
			qGain = b.ConstFloat("const.one", nil, 1)
			kGain = qGain
		}
		fused = !composite && site.keep != "" && site.rot == nil && a.NumMemKV == 0
		if !fused {
			groups := int64(a.QKNormGroups)
			q = ops.CallQKNorm(b, mb.lib, path+".q_norm", q, qGain, groups)
			k = ops.CallQKNorm(b, mb.lib, path+".k_norm", k, kGain, groups)
		}
	}
	if site.rot != nil {
		q = mb.applyRotary(path+".q_rotary", q, site.rot, site.rot.qScale, site.rot.qCos, site.rot.qSin)
		k = mb.applyRotary(path+".k_rotary", k, site.rot, site.rot.kScale, site.rot.kCos, site.rot.kSin)
		v = mb.applyRotary(path+".v_rotary", v, site.rot, site.rot.kScale, site.rot.kCos, site.rot.kSin)
	}
	var blocks []kvBlock // buffered: the key/value blocks the queries attend to
	if mb.kv != nil && site.self {
		kvHeads := h
		if a.OneKVHead {
			kvHeads = 1
		}
		if buffered {
			bufK, bufV, kt := mb.cacheNew(path, k, v, kvHeads, dh, vdh)
			blocks = []kvBlock{{kt: bufK, v: bufV, size: mb.kv.capacity}, {kt: kt, v: v, size: mb.scalarLen(path+".n_new", x)}}
		} else {
			k, v = mb.cacheKV(path, k, v, kvHeads, dh, vdh)
		}
	}
	if m := int64(a.NumMemKV); m > 0 {
		batch := b.Op("Shape", path+".batch", []string{x}, graph.AInt("start", 0), graph.AInt("end", 1))
		shape := b.Op("Concat", path+".mem_shape", []string{batch, b.Ints1D("const.ones_3", 1, 1, 1)}, graph.AInt("axis", 0))
		memK := b.Op("Expand", path+".mem_k.batched", []string{ops.Unsqueeze(b, path+".mem_k.1", mb.weight(path+".mem_k", initNormal, h, m, dh), 0), shape})
		memV := b.Op("Expand", path+".mem_v.batched", []string{ops.Unsqueeze(b, path+".mem_v.1", mb.weight(path+".mem_v", initNormal, h, m, dh), 0), shape})
		if a.QKNorm {
			// 1.9.2 normalises memory keys without groups.
			memK = mb.l2norm(path+".mem_k.l2norm", memK, 1)
			memK = b.Op("Mul", path+".mem_k.scaled", []string{memK, kGain})
		}
		if buffered {
			blocks = append([]kvBlock{{kt: ops.Transpose(b, path+".mem_k_t", memK, 0, 1, 3, 2), v: memV, size: b.ConstInt64("const.mem_kv", nil, m)}}, blocks...)
		} else {
			k = b.Op("Concat", path+".k_with_mem", []string{memK, k}, graph.AInt("axis", 2))
			v = b.Op("Concat", path+".v_with_mem", []string{memV, v}, graph.AInt("axis", 2))
		}
	}

	var out, pre string
	switch {
	case fused:
		out = ops.CallCosineSimAttention(b, mb.lib, path+".attend", q, k, v, site.keep, qGain, kGain, int64(a.QKNormGroups), scale)
	case !composite && site.keep != "":
		out = ops.CallAttention(b, mb.lib, path+".attend", q, k, v, site.keep, scale)
	case !composite:
		out = ops.Attend(b, path+".attend", q, k, v, scale)
	case buffered:
		out, pre = mb.blockAttention(path, l, site, q, blocks, prev, scale)
	default:
		out, pre = mb.compositeAttention(path, l, site, q, k, v, prev, scale)
	}
	if r != "" {
		out = b.Op("Add", path+".tensor_product", []string{b.Op("Mul", path+".out_r", []string{out, r}), out})
	}
	if a.HeadScale {
		out = b.Op("Mul", path+".head_scaled", []string{out, mb.weight(path+".head_scale_params", initOnes, 1, h, 1, 1)})
	}
	out = ops.MergeHeads(b, path+".merge_heads", out)
	if a.GateValues {
		g := mb.linear(path+".to_v_gate", x, dim, outDim, true)
		out = b.Op("Mul", path+".gated", []string{out, b.Op("Sigmoid", path+".gates", []string{g})})
	}
	if a.OnAttn {
		o := mb.linear(path+".to_out.0", out, outDim, 2*dim, false)
		parts := splitN(b, path+".to_out.glu", o, b.Ints1D("const.glu_dim", dim, dim), 2)
		out = b.Op("Mul", path+".to_out", []string{parts[0], b.Op("Sigmoid", path+".to_out.gate", []string{parts[1]})})
	} else {
		out = mb.linear(path+".to_out", out, outDim, dim, false)
	}
	if queryMask != "" {
		// x-transformers zeroes the outputs of padded query positions.
		m := ops.Unsqueeze(b, path+".query_mask", queryMask, 2)
		out = b.Op("Where", path+".masked_out", []string{m, out, b.ConstFloat("const.zero_f", nil, 0)})
	}
	return out, pre
}

// compositeAttention emits the attention core in primitive operators, for
// the options that act between the logits and the softmax: residual
// attention, talking heads, a position bias and sparse top-k.
func (mb *modelBuilder) compositeAttention(path string, l *AttentionLayers, site *attnSite, q, k, v, prev string, scale float32) (string, string) {
	b := mb.b
	kt := ops.Transpose(b, path+".k_t", k, 0, 1, 3, 2)
	attn, pre := mb.attentionWeights(path, l, site, b.Op("MatMul", path+".qk", []string{q, kt}), prev, scale)
	return b.Op("MatMul", path+".attend", []string{attn, v}), pre
}

// kvBlock is one part of the keys and values a KVLayoutBuffer
// self-attention layer attends to: keys transposed [b, h, d, size], values
// [b, h, size, d], size a scalar int64.
type kvBlock struct{ kt, v, size string }

// blockAttention is compositeAttention over keys and values held in
// separate blocks (memory key/values, the cache buffer, the new
// positions): the logits of each block are concatenated, so the softmax
// and everything before it see one row, and the weights are split again
// to weigh each block's values. No block is copied.
func (mb *modelBuilder) blockAttention(path string, l *AttentionLayers, site *attnSite, q string, blocks []kvBlock, prev string, scale float32) (string, string) {
	b := mb.b
	dots := make([]string, len(blocks))
	sizes := make([]string, len(blocks))
	for i, blk := range blocks {
		dots[i] = b.Op("MatMul", fmt.Sprintf("%s.qk_%d", path, i), []string{q, blk.kt})
		sizes[i] = ops.Unsqueeze(b, fmt.Sprintf("%s.block_size_%d", path, i), blk.size, 0)
	}
	attn, pre := mb.attentionWeights(path, l, site, b.Op("Concat", path+".qk", dots, graph.AInt("axis", -1)), prev, scale)
	split := b.Op("Concat", path+".block_sizes", sizes, graph.AInt("axis", 0))
	weights := b.OpN(graph.DomainONNX, "Split", path+".attn_blocks", []string{attn, split}, len(blocks), graph.AInt("axis", -1))
	var out string
	for i, blk := range blocks {
		o := b.Op("MatMul", fmt.Sprintf("%s.attend_%d", path, i), []string{weights[i], blk.v})
		if out == "" {
			out = o
		} else {
			out = b.Op("Add", fmt.Sprintf("%s.attend_sum_%d", path, i), []string{out, o})
		}
	}
	return out, pre
}

// attentionWeights turns the raw logits q·kᵀ [b, h, i, j] into attention
// weights: the scale, residual attention, talking heads, the position
// bias, the keep mask, sparse top-k and the softmax. It also returns the
// pre-softmax logits residual attention passes on.
func (mb *modelBuilder) attentionWeights(path string, l *AttentionLayers, site *attnSite, dots, prev string, scale float32) (string, string) {
	b, a := mb.b, &l.Attn
	h := int64(l.Heads)
	dots = b.Op("Mul", path+".dots", []string{dots, b.ConstFloat("const.scale", nil, scale)})
	if prev != "" {
		dots = b.Op("Add", path+".dots_residual", []string{dots, prev})
	}
	pre := dots
	if a.TalkingHeads {
		w := mb.weight(path+".pre_softmax_talking_heads.weight", initLinear, h, h, 1, 1)
		dots = b.Op("Conv", path+".pre_softmax_talking_heads", []string{dots, w})
	}
	if site.bias != "" {
		dots = b.Op("Add", path+".dots_biased", []string{dots, site.bias})
	}
	if site.keep != "" {
		dots = ops.MaskFill(b, path+".dots_masked", site.keep, dots, ops.MaxNegFloat32)
	}
	if a.SparseTopK != nil {
		// keep the top k logits of each row (all of them when k ≥ j).
		j := b.Op("Shape", path+".topk.j", []string{dots}, graph.AInt("start", -1))
		kk := b.Op("Min", path+".topk.k", []string{j, b.Ints1D("const.topk", int64(*a.SparseTopK))})
		top := b.OpN(graph.DomainONNX, "TopK", path+".topk", []string{dots, kk}, 2, graph.AInt("axis", -1))[0]
		last := b.Op("Sub", path+".topk.last", []string{kk, b.Ints1D("const.one_1d", 1)})
		vk := b.Op("Gather", path+".topk.kth", []string{top, b.Op("Squeeze", path+".topk.last_s", []string{last, b.Ints1D("const.zero_1d", 0)})}, graph.AInt("axis", -1))
		vk = ops.Unsqueeze(b, path+".topk.kth_col", vk, -1)
		below := b.Op("Less", path+".topk.below", []string{dots, vk})
		dots = b.Op("Where", path+".topk.masked", []string{below, b.ConstFloat("const.fill", nil, ops.MaxNegFloat32), dots})
	}
	attn := b.Op("Softmax", path+".attn", []string{dots}, graph.AInt("axis", -1))
	if a.TalkingHeads {
		w := mb.weight(path+".post_softmax_talking_heads.weight", initLinear, h, h, 1, 1)
		attn = b.Op("Conv", path+".post_softmax_talking_heads", []string{attn, w})
	}
	return attn, pre
}

// l2norm emits F.normalize over the last axis in groups.
func (mb *modelBuilder) l2norm(name, x string, groups int64) string {
	return mb.b.Call(mb.lib.L2NormGroups(), name, []string{x}, graph.AInt("groups", groups))[0]
}
