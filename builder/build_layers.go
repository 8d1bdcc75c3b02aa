package builder

import (
	"fmt"
	"math"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
)

// layerContext carries the cross-attention inputs of an AttentionLayers.
type layerContext struct {
	context     string // [batch, context_seq, dim], or ""
	contextMask string // [batch, context_seq] bool, or ""
}

// attentionLayers emits AttentionLayers.forward(x, mask, context,
// context_mask) with parameters under prefix ("attn_layers.", or "" for a
// bare CrossAttender). x is [batch, seq, dim].
func (mb *modelBuilder) attentionLayers(prefix string, l *AttentionLayers, x, mask string, ctx layerContext) string {
	b := mb.b
	types := l.LayerTypes()
	var self, cross *attnSite
	for _, t := range types {
		switch {
		case t == LayerSelfAttention && self == nil:
			self = mb.selfSite(prefix, l, x, mask)
		case t == LayerCrossAttention && cross == nil:
			cross = mb.crossSite(prefix, l, x, mask, ctx)
		}
	}
	if self == nil {
		// Without self-attention layers (only_cross, custom layers) 1.9.2
		// still creates the position bias but never uses it.
		mb.unusedPrefix(prefix + "rel_pos.")
	}
	preNorm, sandwich := l.EffectivePreNorm(), l.EffectiveSandwichNorm()
	prevAttn, prevCross := "", ""
	for i, t := range types {
		path := fmt.Sprintf("%slayers.%d", prefix, i)
		isLast := i == len(types)-1
		residual := x
		if preNorm {
			x = mb.norm(l, path+".0.0", x)
		}
		block := path + ".1"
		if shifts := l.TokenShifts(i); len(shifts) > 0 {
			block += ".fn"
			m := mask
			if t == LayerFeedForward {
				m = "" // FeedForward is called without the mask kwarg
			}
			past := ""
			if mb.kv != nil {
				past = mb.kv.pastShift[i]
			}
			x = mb.shiftTokens(path+".shift_tokens", x, int64(l.Dim), shifts, m, past, i)
		}
		var out string
		switch t {
		case LayerSelfAttention:
			var pre string
			out, pre = mb.attention(block, l, self, x, x, mask, prevAttn, l.ResidualAttn)
			if l.ResidualAttn {
				prevAttn = pre
			}
		case LayerCrossAttention:
			var pre string
			out, pre = mb.attention(block, l, cross, x, ctx.context, mask, prevCross, l.CrossResidualAttn)
			if l.CrossResidualAttn {
				prevCross = pre
			}
		case LayerFeedForward:
			if l.Macaron {
				out = mb.feedForward(block+".fn", l, x)
				out = b.Op("Mul", block+".scale", []string{out, b.ConstFloat("const.half", nil, 0.5)})
			} else {
				out = mb.feedForward(block, l, x)
			}
		}
		if sandwich {
			out = mb.norm(l, path+".0.1", out)
		}
		x = mb.residual(l, path+".2", out, residual)
		if !preNorm && !isLast {
			x = mb.norm(l, path+".0.2", x)
		}
	}
	return x
}

// norm emits the AttentionLayers norm (LayerNorm, ScaleNorm or RMSNorm) at
// module path.
func (mb *modelBuilder) norm(l *AttentionLayers, path, x string) string {
	b, dim := mb.b, int64(l.Dim)
	switch l.NormKind() {
	case NormScaleNorm:
		// x / clamp(‖x‖, 1e-5) · g, g a scalar parameter.
		g := mb.weightValue(path+".g", float32(math.Pow(float64(dim), -0.5)), 1)
		n := ops.ReduceL2(b, path+".norm", x, true, -1)
		n = b.Op("Max", path+".clamped", []string{n, b.ConstFloat("const.scalenorm_eps", nil, 1e-5)})
		y := b.Op("Div", path+".normalized", []string{x, n})
		return b.Op("Mul", path, []string{y, g})
	case NormRMSNorm:
		g := mb.weight(path+".g", initOnes, dim)
		// x / clamp(‖x‖·d^-½, 1e-8) · g. 1.9.2 clamps the norm instead of
		// adding eps, so opset 23's RMSNormalization (x / √(mean(x²) + ε))
		// is never exact: with ε = 1e-8 under the root it already differs
		// for activations of rms 1e-3, and with ε = 0 it gives NaN for a
		// zero row. Every opset writes the clamp out.
		n := ops.ReduceL2(b, path+".norm", x, true, -1)
		n = b.Op("Mul", path+".rms", []string{n, b.ConstFloat("const.rms_scale", nil, float32(math.Pow(float64(dim), -0.5)))})
		n = b.Op("Max", path+".clamped", []string{n, b.ConstFloat("const.rmsnorm_eps", nil, 1e-8)})
		y := b.Op("Div", path+".normalized", []string{x, n})
		return b.Op("Mul", path, []string{y, g})
	}
	return mb.layerNorm(path, x, dim)
}

// residual emits Residual or GRUGating(out, residual) at module path.
func (mb *modelBuilder) residual(l *AttentionLayers, path, out, residual string) string {
	b, dim := mb.b, int64(l.Dim)
	if l.EffectiveScaleResidual() {
		s := mb.weight(path+".residual_scale", initOnes, dim)
		residual = b.Op("Mul", path+".scaled_residual", []string{residual, s})
	}
	if l.GateResidual {
		return mb.gru(path+".gru", out, residual, dim)
	}
	if c := l.EffectiveScaleResidualConstant(); c != 1 {
		residual = b.Op("Mul", path+".residual_constant", []string{residual, b.ConstFloat("const.residual_constant", nil, float32(c))})
	}
	return b.Op("Add", path, []string{out, residual})
}

// gru emits torch.nn.GRUCell(input x, hidden h) over the last axis:
// r = σ(W_ir x + b_ir + W_hr h + b_hr), z likewise,
// n = tanh(W_in x + b_in + r·(W_hn h + b_hn)), h' = (1 − z)·n + z·h.
func (mb *modelBuilder) gru(path, x, h string, dim int64) string {
	b := mb.b
	gi := ops.Linear(b, path+".gi", x, mb.linearWeight(path+".weight_ih", 3*dim, dim), mb.weight(path+".bias_ih", initZeros, 3*dim))
	gh := ops.Linear(b, path+".gh", h, mb.linearWeight(path+".weight_hh", 3*dim, dim), mb.weight(path+".bias_hh", initZeros, 3*dim))
	split := b.Ints1D("const.gru_split", dim, dim, dim)
	i := splitN(b, path+".gi_split", gi, split, 3)
	hh := splitN(b, path+".gh_split", gh, split, 3)
	r := b.Op("Sigmoid", path+".r", []string{b.Op("Add", path+".r_in", []string{i[0], hh[0]})})
	z := b.Op("Sigmoid", path+".z", []string{b.Op("Add", path+".z_in", []string{i[1], hh[1]})})
	n := b.Op("Tanh", path+".n", []string{b.Op("Add", path+".n_in", []string{i[2], b.Op("Mul", path+".r_hn", []string{r, hh[2]})})})
	// (1 − z)·n + z·h
	oneMinusZ := b.Op("Sub", path+".one_minus_z", []string{b.ConstFloat("const.one", nil, 1), z})
	return b.Op("Add", path, []string{b.Op("Mul", path+".keep_n", []string{oneMinusZ, n}), b.Op("Mul", path+".keep_h", []string{z, h})})
}

// splitN splits x along the last axis into n parts of the given sizes.
func splitN(b *graph.Builder, name, x, sizes string, n int) []string {
	return b.OpN(graph.DomainONNX, "Split", name, []string{x, sizes}, n, graph.AInt("axis", -1))
}

// shiftTokens emits ShiftTokens: the first len(shifts) feature chunks of
// width dim/len(shifts) are shifted along the sequence by shifts[k] (zeros
// shifted in; masked positions zeroed first when a mask is given); the
// remaining features pass through.
//
// With a KV cache, past holds the last max(shifts) block inputs before x
// (zeros before the sequence starts); the shifted rows are read from
// past ++ x and the new last rows become present_shift_<layer>.
func (mb *modelBuilder) shiftTokens(path, x string, dim int64, shifts []int, mask, past string, layer int) string {
	b := mb.b
	if past != "" {
		return mb.shiftTokensCached(path, x, dim, shifts, past, layer)
	}
	segs := int64(len(shifts))
	feats := dim / segs
	var parts []string
	var m string
	if mask != "" {
		m = ops.Unsqueeze(b, path+".mask", mask, 2)
	}
	n := mb.seqLen(path+".seq_len", x)
	for k, amount := range shifts {
		seg := b.Op("Slice", fmt.Sprintf("%s.seg%d", path, k), []string{x, b.Ints1D("const.seg_start", int64(k)*feats), b.Ints1D("const.seg_end", int64(k+1)*feats), b.Ints1D("const.minus_one_1d", -1)})
		if amount == 0 {
			parts = append(parts, seg)
			continue
		}
		if m != "" {
			seg = b.Op("Where", fmt.Sprintf("%s.seg%d.masked", path, k), []string{m, seg, b.ConstFloat("const.zero_f", nil, 0)})
		}
		a := int64(amount)
		if a > 0 {
			p := b.Op("Pad", fmt.Sprintf("%s.seg%d.pad", path, k), []string{seg, b.Ints1D("const.pads_front", 0, a, 0, 0, 0, 0)})
			seg = b.Op("Slice", fmt.Sprintf("%s.seg%d.shifted", path, k), []string{p, b.Ints1D("const.zero_1d", 0), n, b.Ints1D("const.one_1d", 1)})
		} else {
			s := b.Op("Slice", fmt.Sprintf("%s.seg%d.crop", path, k), []string{seg, b.Ints1D("const.crop_start", -a), b.Ints1D("const.int_max", math.MaxInt64), b.Ints1D("const.one_1d", 1)})
			seg = b.Op("Pad", fmt.Sprintf("%s.seg%d.shifted", path, k), []string{s, b.Ints1D("const.pads_back", 0, 0, 0, 0, -a, 0)})
		}
		parts = append(parts, seg)
	}
	if segs*feats < dim {
		parts = append(parts, b.Op("Slice", path+".rest", []string{x, b.Ints1D("const.seg_start", segs*feats), b.Ints1D("const.int_max", math.MaxInt64), b.Ints1D("const.minus_one_1d", -1)}))
	}
	return b.Op("Concat", path, parts, graph.AInt("axis", -1))
}

// feedForward emits FeedForward.forward at module path.
func (mb *modelBuilder) feedForward(path string, l *AttentionLayers, x string) string {
	b, f := mb.b, &l.FF
	dim := int64(l.Dim)
	inner := int64(f.InnerDim(l.Dim))
	act := func(name, h string) string {
		switch f.Activation() {
		case ActivationReluSquared:
			r := b.Op("Relu", name+".relu", []string{h})
			return b.Op("Mul", name, []string{r, r})
		case ActivationSiLU:
			return b.Op("Mul", name, []string{h, b.Op("Sigmoid", name+".sigmoid", []string{h})})
		}
		return ops.Gelu(b, name, h)
	}
	var h string
	if f.GLU {
		// GLU: proj (always with bias) to 2·inner, x · act(gate).
		p := mb.linear(path+".ff.0.proj", x, dim, 2*inner, true)
		parts := splitN(b, path+".ff.0.chunk", p, b.Ints1D("const.glu_split", inner, inner), 2)
		h = b.Op("Mul", path+".ff.0", []string{parts[0], act(path+".ff.0.act", parts[1])})
	} else {
		h = act(path+".ff.0.1", mb.linear(path+".ff.0.0", x, dim, inner, !f.NoBias))
	}
	if f.PostActLN {
		h = mb.layerNorm(path+".ff.1", h, inner)
	}
	return mb.linear(path+".ff.3", h, inner, int64(f.OutDim(l.Dim)), !f.NoBias)
}

// shiftTokensCached is shiftTokens for a KV-cache step (causal shifts ≥ 0,
// no mask).
func (mb *modelBuilder) shiftTokensCached(path, x string, dim int64, shifts []int, past string, layer int) string {
	b := mb.b
	segs := int64(len(shifts))
	feats := dim / segs
	maxShift := int64(0)
	for _, a := range shifts {
		maxShift = max(maxShift, int64(a))
	}
	full := b.Op("Concat", path+".with_past", []string{past, x}, graph.AInt("axis", 1))
	n := mb.seqLen(path+".seq_len", x)
	var parts []string
	for k, amount := range shifts {
		// rows maxShift − a … maxShift − a + n − 1 of past ++ x
		start := b.Ints1D("const.shift_start", maxShift-int64(amount))
		end := b.Op("Add", fmt.Sprintf("%s.seg%d.end", path, k), []string{start, n})
		parts = append(parts, b.Op("Slice", fmt.Sprintf("%s.seg%d", path, k), []string{full,
			b.Op("Concat", fmt.Sprintf("%s.seg%d.starts", path, k), []string{start, b.Ints1D("const.seg_start", int64(k)*feats)}, graph.AInt("axis", 0)),
			b.Op("Concat", fmt.Sprintf("%s.seg%d.ends", path, k), []string{end, b.Ints1D("const.seg_end", int64(k+1)*feats)}, graph.AInt("axis", 0)),
			b.Ints1D("const.axes_seq_feat", 1, 2)}))
	}
	if segs*feats < dim {
		parts = append(parts, b.Op("Slice", path+".rest", []string{x, b.Ints1D("const.seg_start", segs*feats), b.Ints1D("const.int_max", math.MaxInt64), b.Ints1D("const.minus_one_1d", -1)}))
	}
	present := b.Op("Slice", path+".present", []string{full, b.Ints1D("const.neg_shift", -maxShift), b.Ints1D("const.int_max", math.MaxInt64), b.Ints1D("const.one_1d", 1)})
	mb.kv.present = append(mb.kv.present, presentValue{fmt.Sprint(PresentShiftPrefix, layer), present,
		[]graph.Dim{graph.Sym("batch"), graph.Fixed(maxShift), graph.Fixed(dim)}})
	return b.Op("Concat", path, parts, graph.AInt("axis", -1))
}
