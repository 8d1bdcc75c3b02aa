package builder

import (
	"fmt"
	"math"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
)

// relPositions returns kpos[None, :] − qpos[:, None], int64 [i, j].
func (mb *modelBuilder) relPositions(p, qpos, kpos string) string {
	b := mb.b
	return b.Op("Sub", p, []string{ops.Unsqueeze(b, p+".k_row", kpos, 0), ops.Unsqueeze(b, p+".q_col", qpos, 1)})
}

// t5Bias emits RelativePositionBias: the T5 bucketed relative position
// embedding, [h, i, j], times dim_head ** 0.5.
func (mb *modelBuilder) t5Bias(prefix string, l *AttentionLayers, qpos, kpos string) string {
	b := mb.b
	p := prefix + "rel_pos"
	rel := mb.relPositions(p+".relative", qpos, kpos)
	n := b.Op("Neg", p+".n", []string{rel})
	numBuckets := int64(l.RelPosNumBuckets)
	var ret string
	if l.Causal() {
		n = b.Op("Max", p+".n_clamped", []string{n, b.ConstInt64("const.zero", nil, 0)})
	} else {
		numBuckets /= 2
		neg := b.Op("Less", p+".is_negative", []string{n, b.ConstInt64("const.zero", nil, 0)})
		ret = b.Op("Mul", p+".sign_bucket", []string{b.Op("Cast", p+".is_negative_i", []string{neg}, graph.AInt("to", int64(graph.Int64))), b.ConstInt64("const.half_buckets", nil, numBuckets)})
		n = b.Op("Abs", p+".n_abs", []string{n})
	}
	maxExact := numBuckets / 2
	isSmall := b.Op("Less", p+".is_small", []string{n, b.ConstInt64("const.max_exact", nil, maxExact)})
	// max_exact + long(log(n / max_exact) / log(max_distance / max_exact) · (buckets − max_exact)),
	// in float32 as PyTorch computes it; n = 0 only occurs where is_small
	// selects n itself, so it is clamped to 1 to keep log finite.
	nf := b.Op("Cast", p+".n_f", []string{n}, graph.AInt("to", int64(graph.Float)))
	nf = b.Op("Max", p+".n_f_safe", []string{nf, b.ConstFloat("const.one", nil, 1)})
	lg := b.Op("Log", p+".log", []string{b.Op("Div", p+".ratio", []string{nf, b.ConstFloat("const.max_exact_f", nil, float32(maxExact))})})
	lg = b.Op("Div", p+".log_scaled", []string{lg, b.ConstFloat("const.log_range", nil, float32(math.Log(float64(l.RelPosMaxDistance)/float64(maxExact))))})
	lg = b.Op("Mul", p+".log_buckets", []string{lg, b.ConstFloat("const.large_buckets", nil, float32(numBuckets-maxExact))})
	large := b.Op("Add", p+".large", []string{b.Op("Cast", p+".large_i", []string{lg}, graph.AInt("to", int64(graph.Int64))), b.ConstInt64("const.max_exact", nil, maxExact)})
	large = b.Op("Min", p+".large_clamped", []string{large, b.ConstInt64("const.last_bucket", nil, numBuckets-1)})
	bucket := b.Op("Where", p+".bucket_in_half", []string{isSmall, n, large})
	if ret != "" {
		bucket = b.Op("Add", p+".bucket", []string{ret, bucket})
	}
	table := mb.weight(p+".relative_attention_bias.weight", initNormal, int64(l.RelPosNumBuckets), int64(l.Heads))
	vals := b.Op("Gather", p+".values", []string{table, bucket}, graph.AInt("axis", 0))
	bias := ops.Transpose(b, p+".bias_hij", vals, 2, 0, 1)
	return b.Op("Mul", p+".bias", []string{bias, b.ConstFloat("const.t5_scale", nil, float32(math.Sqrt(float64(l.DimHead()))))})
}

// alibiSlopes returns ALiBi's per-head slopes (x-transformers'
// _get_slopes): a geometric sequence for a power-of-two head count,
// interleaved from the next power of two otherwise.
func alibiSlopes(heads int) []float64 {
	pow2 := func(n int) []float64 {
		start := math.Pow(2, -math.Pow(2, -(math.Log2(float64(n))-3)))
		out := make([]float64, n)
		for i := range out {
			out[i] = start * math.Pow(start, float64(i))
		}
		return out
	}
	if l := math.Log2(float64(heads)); l == math.Trunc(l) {
		return pow2(heads)
	}
	closest := 1 << int(math.Floor(math.Log2(float64(heads))))
	out := pow2(closest)
	extra := pow2(2 * closest)
	for i := 0; i < len(extra) && len(out) < heads; i += 2 {
		out = append(out, extra[i])
	}
	return out
}

// alibiBias emits ALiBi: −|j − i| times a per-head slope, [h, i, j];
// heads beyond alibi_num_heads get no bias. Learned ALiBi takes the slopes
// from exp(learned_logslopes).
func (mb *modelBuilder) alibiBias(prefix string, l *AttentionLayers, qpos, kpos string) string {
	b := mb.b
	p := prefix + "rel_pos"
	dist := b.Op("Abs", p+".distance", []string{mb.relPositions(p+".relative", qpos, kpos)})
	neg := b.Op("Neg", p+".neg_distance", []string{b.Op("Cast", p+".distance_f", []string{dist}, graph.AInt("to", int64(graph.Float)))})
	h, ha := l.Heads, l.AlibiHeads()
	s := alibiSlopes(ha)
	var slopes string
	if l.RelPos() == RelPosLearnedAlibi {
		logs := make([]float32, ha)
		for i, v := range s {
			logs[i] = float32(math.Log(float64(float32(v))))
		}
		w := mb.param(paramSpec{name: p + ".learned_logslopes", shape: []int64{int64(ha), 1, 1}, init: initValues, values: logs})
		slopes = b.Op("Exp", p+".slopes", []string{w})
	} else {
		vals := make([]float32, h)
		for i := range ha {
			vals[i] = float32(s[i])
		}
		slopes = b.ConstFloat(fmt.Sprintf("%s.slopes", p), []int64{int64(h), 1, 1}, vals...)
	}
	return b.Op("Mul", p+".bias", []string{ops.Unsqueeze(b, p+".neg_distance_1", neg, 0), slopes})
}

// dynamicBias emits DynamicPositionBias: an MLP over the relative
// distances −(j−1) … j−1, gathered to [h, j, j].
func (mb *modelBuilder) dynamicBias(prefix string, l *AttentionLayers, kpos string) string {
	b := mb.b
	p := prefix + "rel_pos"
	x, jm1 := mb.dynamicTable(p, l, kpos)
	// indices[a, c] = a − c + j − 1
	idx := b.Op("Add", p+".indices", []string{b.Op("Sub", p+".diff", []string{ops.Unsqueeze(b, p+".a", kpos, 1), ops.Unsqueeze(b, p+".c", kpos, 0)}), jm1})
	vals := b.Op("Gather", p+".values", []string{x, idx}, graph.AInt("axis", 0))
	return ops.Transpose(b, p+".bias", vals, 2, 0, 1)
}

// dynamicTable emits DynamicPositionBias's MLP over the distances
// −(j−1) … j−1 for the j keys kpos: [2j−1, heads], and j − 1.
func (mb *modelBuilder) dynamicTable(p string, l *AttentionLayers, kpos string) (string, string) {
	b := mb.b
	dim := int64(l.Dim / 4)
	j := b.Op("Squeeze", p+".j", []string{b.Op("Shape", p+".j_1d", []string{kpos}), b.Ints1D("const.zero_1d", 0)})
	jm1 := b.Op("Sub", p+".j_minus_1", []string{j, b.ConstInt64("const.one_i64", nil, 1)})
	start := b.Op("Neg", p+".start", []string{jm1})
	pos := b.Op("Range", p+".distances", []string{start, j, b.ConstInt64("const.one_i64", nil, 1)})
	x := ops.Unsqueeze(b, p+".pos", b.Op("Cast", p+".pos_f", []string{pos}, graph.AInt("to", int64(graph.Float))), 1)
	if l.DynamicPosBiasLogDistance {
		abs1 := b.Op("Add", p+".abs_plus_1", []string{b.Op("Abs", p+".abs", []string{x}), b.ConstFloat("const.one", nil, 1)})
		x = b.Op("Mul", p+".log_distance", []string{b.Op("Sign", p+".sign", []string{x}), b.Op("Log", p+".log", []string{abs1})})
	}
	in := int64(1)
	for k := 0; k < l.DynamicPosBiasMLPDepth; k++ {
		lp := fmt.Sprintf("%s.mlp.%d", p, k)
		x = mb.linear(lp+".0", x, in, dim, true)
		if l.DynamicPosBiasNorm {
			x = mb.layerNorm(lp+".1", x, dim)
		}
		x = b.Op("Mul", lp+".2", []string{x, b.Op("Sigmoid", lp+".2.sigmoid", []string{x})})
		in = dim
	}
	return mb.linear(fmt.Sprintf("%s.mlp.%d", p, l.DynamicPosBiasMLPDepth), x, in, int64(l.Heads), true), jm1
}

// dynamicBiasRows is dynamicBias for queries at qpos and keys at kpos in
// any order (a KVLayoutBuffer cache): the MLP over the distances
// −(j−1) … j−1 for j keys, gathered at qpos[a] − kpos[c], [h, i, j]. Every
// distance of a valid key falls in that range when the queries are the
// last positions and no key lies beyond j − 1 of them.
func (mb *modelBuilder) dynamicBiasRows(prefix string, l *AttentionLayers, qpos, kpos string) string {
	b := mb.b
	p := prefix + "rel_pos"
	table, jm1 := mb.dynamicTable(p, l, kpos)
	idx := b.Op("Add", p+".indices", []string{b.Op("Sub", p+".diff", []string{ops.Unsqueeze(b, p+".a", qpos, 1), ops.Unsqueeze(b, p+".c", kpos, 0)}), jm1})
	vals := b.Op("Gather", p+".values", []string{table, idx}, graph.AInt("axis", 0))
	return ops.Transpose(b, p+".bias", vals, 2, 0, 1)
}

// rotaryTables emits RotaryEmbedding(rotary_emb_dim, xpos) for the
// sequence of x: angles t·inv_freq for t = 0 … n−1, duplicated to the full
// rotary width, and with xpos the scales scale^((t − n//2)/scale_base) for
// queries and their reciprocals for keys and values.
//
// past (a scalar int64 or "") offsets the positions of a KV-cache step.
func (mb *modelBuilder) rotaryTables(prefix string, l *AttentionLayers, x, n, past string) *rotary {
	b := mb.b
	p := prefix + "rotary_pos_emb"
	r := l.RotaryEmbDim()
	half := (r + 1) / 2
	inv := make([]float32, half)
	for i := range inv {
		e := float32(2*i) / float32(r)
		inv[i] = float32(1 / math.Pow(10000, float64(e)))
	}
	invFreq := mb.buffer(p+".inv_freq", inv, int64(half))
	invFull := b.Op("Concat", p+".inv_freq_full", []string{invFreq, invFreq}, graph.AInt("axis", 0))
	positions := mb.rangeOf(p+".positions", n)
	if past != "" {
		positions = b.Op("Add", p+".positions.past", []string{positions, past})
	}
	t := b.Op("Cast", p+".t", []string{positions}, graph.AInt("to", int64(graph.Float)))
	tcol := ops.Unsqueeze(b, p+".t_col", t, 1)
	freqs := b.Op("Mul", p+".freqs", []string{tcol, invFull})
	rot := &rotary{width: int64(2 * half)}
	rot.cos = b.Op("Cos", p+".cos", []string{freqs})
	rot.sin = b.Op("Sin", p+".sin", []string{freqs})
	if l.RotaryXPos {
		scales := make([]float32, half)
		for i := range scales {
			scales[i] = (float32(2*i) + float32(0.4*float64(r))) / float32(1.4*float64(r))
		}
		sb := mb.buffer(p+".scale", scales, int64(half))
		sbFull := b.Op("Concat", p+".scale_full", []string{sb, sb}, graph.AInt("axis", 0))
		base := b.ConstFloat("const.xpos_base", nil, float32(l.RotaryXPosScaleBase))
		center := b.Op("Div", p+".center", []string{n, b.ConstInt64("const.two", nil, 2)})
		shifted := b.Op("Sub", p+".shifted", []string{positions, center})
		power := b.Op("Div", p+".power", []string{b.Op("Cast", p+".shifted_f", []string{shifted}, graph.AInt("to", int64(graph.Float))), base})
		rot.qScale = b.Op("Pow", p+".q_scale", []string{sbFull, ops.Unsqueeze(b, p+".power_col", power, 1)})
		rot.kScale = b.Op("Reciprocal", p+".k_scale", []string{rot.qScale})
	}
	if b.Opset() >= 23 {
		// RotaryEmbedding takes the half-width caches and position ids.
		hw := int64(half)
		cut := func(name, v string) string {
			return b.Op("Slice", name, []string{v, b.Ints1D("const.zero_1d", 0), b.Ints1D("const.rot_half", hw), b.Ints1D("const.one_1d", 1)})
		}
		rot.cosHalf, rot.sinHalf = cut(p+".cos_half", rot.cos), cut(p+".sin_half", rot.sin)
		rot.qCos, rot.qSin, rot.kCos, rot.kSin = rot.cosHalf, rot.sinHalf, rot.cosHalf, rot.sinHalf
		if l.RotaryXPos {
			qs, ks := cut(p+".q_scale_half", rot.qScale), cut(p+".k_scale_half", rot.kScale)
			rot.qCos = b.Op("Mul", p+".q_cos", []string{rot.cosHalf, qs})
			rot.qSin = b.Op("Mul", p+".q_sin", []string{rot.sinHalf, qs})
			rot.kCos = b.Op("Mul", p+".k_cos", []string{rot.cosHalf, ks})
			rot.kSin = b.Op("Mul", p+".k_sin", []string{rot.sinHalf, ks})
		}
		batch := b.Op("Shape", p+".batch", []string{x}, graph.AInt("start", 0), graph.AInt("end", 1))
		shape := b.Op("Concat", p+".ids_shape", []string{batch, mb.seqLen(p+".n_1d", x)}, graph.AInt("axis", 0))
		rot.positionIDs = b.Op("Expand", p+".position_ids", []string{ops.Unsqueeze(b, p+".ids_row", mb.rangeOf(p+".ids", n), 0), shape})
	}
	return rot
}

// applyRotary rotates the first width features of t ([b, h, n, d]) by the
// rotary tables: t·cos·s + rotate_half(t)·sin·s, the rest unchanged. At
// opset 23 it uses the RotaryEmbedding operator with the given caches.
func (mb *modelBuilder) applyRotary(name, t string, rot *rotary, scale, cos23, sin23 string) string {
	b := mb.b
	if b.Opset() >= 23 {
		return b.Op("RotaryEmbedding", name, []string{t, cos23, sin23, rot.positionIDs},
			graph.AInt("interleaved", 0), graph.AInt("rotary_embedding_dim", rot.width))
	}
	w, hw := rot.width, rot.width/2
	slice := func(n, x string, from, to int64) string {
		return b.Op("Slice", n, []string{x, b.Ints1D("const.slice_from", from), b.Ints1D("const.slice_to", to), b.Ints1D("const.minus_one_1d", -1)})
	}
	tl := slice(name+".rotated_part", t, 0, w)
	x1 := slice(name+".x1", tl, 0, hw)
	x2 := slice(name+".x2", tl, hw, w)
	rh := b.Op("Concat", name+".rotate_half", []string{b.Op("Neg", name+".neg_x2", []string{x2}), x1}, graph.AInt("axis", -1))
	c := b.Op("Mul", name+".t_cos", []string{tl, rot.cos})
	s := b.Op("Mul", name+".rh_sin", []string{rh, rot.sin})
	if scale != "" {
		c = b.Op("Mul", name+".t_cos_scaled", []string{c, scale})
		s = b.Op("Mul", name+".rh_sin_scaled", []string{s, scale})
	}
	out := b.Op("Add", name+".rotated", []string{c, s})
	rest := slice(name+".rest", t, w, math.MaxInt64)
	return b.Op("Concat", name, []string{out, rest}, graph.AInt("axis", -1))
}
