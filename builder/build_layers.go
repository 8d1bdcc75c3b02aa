package builder

import (
	"fmt"
	"math"

	"github.com/xt2onnx/xt2onnx/ops"
)

// attentionLayers emits AttentionLayers.forward(x, mask) under the module
// path "attn_layers". seqLen is the 1-D sequence length of x.
func (mb *modelBuilder) attentionLayers(x, mask, seqLen string) string {
	l, b := mb.cfg.Layers, mb.b
	keep := mb.keepMask(mask, seqLen)
	for i, t := range l.LayerTypes() {
		path := fmt.Sprintf("attn_layers.layers.%d", i)
		residual := x
		h := mb.layerNorm(path+".0.0", x, int64(l.Dim))
		var out string
		switch t {
		case LayerSelfAttention:
			out = mb.attention(path+".1", h, keep, mask)
		case LayerFeedForward:
			out = mb.feedForward(path+".1", h)
		}
		x = b.Op("Add", path+".residual", []string{out, residual})
	}
	return x
}

// keepMask emits the boolean mask of the attention logits to keep: the
// causal lower triangle [seq, seq] for a Decoder, the key-padding mask
// [batch, 1, 1, seq] when the model takes one, their conjunction when both,
// or "" when attention is unmasked.
func (mb *modelBuilder) keepMask(mask, seqLen string) string {
	b := mb.b
	keep := ""
	if mb.cfg.Layers.Causal() {
		n := b.Op("Squeeze", "attn_layers.causal.n", []string{seqLen, b.Ints1D("const.zero_1d", 0)})
		r := b.Op("Range", "attn_layers.causal.positions", []string{b.ConstInt64("const.zero", nil, 0), n, b.ConstInt64("const.one_i64", nil, 1)})
		keys := ops.Unsqueeze(b, "attn_layers.causal.keys", r, 0)
		queries := ops.Unsqueeze(b, "attn_layers.causal.queries", r, 1)
		keep = b.Op("LessOrEqual", "attn_layers.causal", []string{keys, queries})
	}
	if mask != "" {
		pad := ops.Unsqueeze(b, "attn_layers.key_padding", mask, 1, 2)
		if keep == "" {
			return pad
		}
		keep = b.Op("And", "attn_layers.keep", []string{keep, pad})
	}
	return keep
}

// attention emits Attention.forward for self-attention at module path.
func (mb *modelBuilder) attention(path, x, keep, mask string) string {
	l, b := mb.cfg.Layers, mb.b
	a := &l.Attn
	dim, heads, dh := int64(l.Dim), int64(l.Heads), int64(l.DimHead())
	q := ops.SplitHeads(b, path+".q", mb.linear(path+".to_q", x, dim, heads*dh, false), heads)
	k := ops.SplitHeads(b, path+".k", mb.linear(path+".to_k", x, dim, heads*dh, false), heads)
	v := ops.SplitHeads(b, path+".v", mb.linear(path+".to_v", x, dim, heads*dh, false), heads)

	var out string
	if a.QKNorm {
		groups, scale := int64(a.QKNormGroups), float32(a.QKNormScale)
		var qg, kg string
		if a.QKNormDimScale {
			qg = mb.weight(path+".qk_norm_q_scale", initOnes, dh)
			kg = mb.weight(path+".qk_norm_k_scale", initOnes, dh)
		} else {
			qg = b.ConstFloat("const.one", nil, 1)
			kg = qg
		}
		if keep != "" {
			out = ops.CallCosineSimAttention(b, mb.lib, path+".attend", q, k, v, keep, qg, kg, groups, scale)
		} else {
			qn := ops.CallQKNorm(b, mb.lib, path+".q_norm", q, qg, groups)
			kn := ops.CallQKNorm(b, mb.lib, path+".k_norm", k, kg, groups)
			out = ops.Attend(b, path+".attend", qn, kn, v, scale)
		}
	} else {
		scale := float32(math.Pow(float64(dh), -0.5))
		if keep != "" {
			out = ops.CallAttention(b, mb.lib, path+".attend", q, k, v, keep, scale)
		} else {
			out = ops.Attend(b, path+".attend", q, k, v, scale)
		}
	}
	out = ops.MergeHeads(b, path+".merge_heads", out)
	out = mb.linear(path+".to_out", out, heads*dh, dim, false)
	if mask != "" {
		// x-transformers zeroes the outputs of padded query positions.
		m := ops.Unsqueeze(b, path+".query_mask", mask, 2)
		out = b.Op("Where", path+".masked_out", []string{m, out, b.ConstFloat("const.zero_f", nil, 0)})
	}
	return out
}

// feedForward emits FeedForward.forward at module path: Linear, GELU,
// Linear.
func (mb *modelBuilder) feedForward(path, x string) string {
	l := mb.cfg.Layers
	dim := int64(l.Dim)
	inner := int64(l.FF.InnerDim(l.Dim))
	h := mb.linear(path+".ff.0.0", x, dim, inner, true)
	h = ops.Gelu(mb.b, path+".ff.0.1", h)
	return mb.linear(path+".ff.3", h, inner, int64(l.FF.OutDim(l.Dim)), true)
}
