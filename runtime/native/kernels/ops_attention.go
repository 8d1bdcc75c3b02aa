package kernels

// Attention and rotary position embedding (opset 23).
//
// Attention — https://onnx.ai/onnx/operators/onnx__Attention.html
//   Attributes: is_causal (int, default 0), q_num_heads, kv_num_heads (int;
//   required for 3-D inputs), qk_matmul_output_mode (int 0–3, default 0),
//   scale (float, default 1/sqrt(head size)), softcap (float, default 0: off),
//   softmax_precision (int; accepted, the softmax is always float64).
//   Inputs: Q, K, V (4-D [batch, heads, seq, head_size] or 3-D [batch, seq,
//   heads·head_size]), attn_mask (optional; bool: true attends, or float:
//   added; broadcast to [batch, q_heads, q_seq, total_seq], a shorter last
//   dim is padded with false/-Inf), past_key, past_value (optional 4-D,
//   concatenated before K and V along the sequence), nonpad_kv_seqlen
//   (opset 24, optional int64 [batch]: keys from that position on are
//   masked).
//   Outputs: Y (Q's layout), present_key, present_value (4-D), qk_matmul_output
//   (mode 0: scaled Q·Kᵀ, 1: after softcap, 2: plus the mask, 3: after
//   softmax; the softcap is applied before the mask, so masked entries stay
//   -Inf).
//   Grouped-query attention (q_heads a multiple of kv_heads): query head h
//   reads kv head h / (q_heads/kv_heads). The causal mask is aligned to the
//   bottom right (query i sees keys up to i + past length). Computed in
//   float64 (gonum Dgemm); float16/bfloat16 via float32.
//   Opsets 23, 24 (nonpad_kv_seqlen). Gap: a row masked entirely gives NaN,
//   as in the reference.
// RotaryEmbedding — https://onnx.ai/onnx/operators/onnx__RotaryEmbedding.html
//   Attributes: interleaved (int, default 0), num_heads (int; required for
//   3-D input), rotary_embedding_dim (int, default 0: the whole head).
//   Inputs: X (4-D [batch, heads, seq, head_size] or 3-D [batch, seq,
//   hidden]), cos_cache, sin_cache ([max_pos, rot/2] with position_ids,
//   else [batch, seq, rot/2]), position_ids (optional int64 [batch, seq]).
//   Output: Y, shaped like X. Opset 23.

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

func registerAttention(r *Registry) {
	r.Register(spec("Attention", 23, 3, 6, 4, convertAttention))
	r.Register(spec("Attention", 24, 3, 7, 4, convertAttention))
	r.Register(spec("RotaryEmbedding", 23, 3, 4, 1, convertRotary))
	r.SetShape("", "RotaryEmbedding", sameAsInput)
}

type attentionParams struct {
	causal          bool
	qHeads, kvHeads int
	mode            int64
	scale           float64 // 0: default
	softcap         float64
}

func convertAttention(n *Node) (Kernel, error) {
	a := attrsOf(n)
	var p attentionParams
	p.causal = a.Bool("is_causal", false)
	p.qHeads = int(a.Int("q_num_heads", 0))
	p.kvHeads = int(a.Int("kv_num_heads", 0))
	p.mode = a.Int("qk_matmul_output_mode", 0)
	p.scale = float64(a.Float("scale", 0))
	p.softcap = float64(a.Float("softcap", 0))
	a.Int("softmax_precision", 1)
	if err := a.Err(); err != nil {
		return nil, err
	}
	if p.mode < 0 || p.mode > 3 {
		return nil, fmt.Errorf("qk_matmul_output_mode %d is not 0–3", p.mode)
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return attention(ec, in, p, wants(n, 3))
	}), nil
}

// to4D returns a [batch, heads, seq, size] float64 copy of a 3-D or 4-D
// attention input.
func to4D(ec *ExecContext, x *tensor.Dense, heads int, what string) ([]float64, []int, error) {
	v, err := toFloat64s(ec, x)
	if err != nil {
		return nil, nil, err
	}
	sh := x.Shape()
	switch len(sh) {
	case 4:
		return v, shapeOf(x), nil
	case 3:
		if heads <= 0 || sh[2]%heads != 0 {
			return nil, nil, fmt.Errorf("3-D %s of shape %v needs a head count that divides %d (q_num_heads/kv_num_heads)", what, sh, sh[2])
		}
		b, s, d := sh[0], sh[1], sh[2]/heads
		out := make([]float64, len(v))
		for bi := 0; bi < b; bi++ {
			for si := 0; si < s; si++ {
				for h := 0; h < heads; h++ {
					copy(out[((bi*heads+h)*s+si)*d:][:d], v[(bi*s+si)*heads*d+h*d:][:d])
				}
			}
		}
		return out, []int{b, heads, s, d}, nil
	}
	return nil, nil, fmt.Errorf("%s must be 3-D or 4-D, got shape %v", what, sh)
}

func attention(ec *ExecContext, in []*tensor.Dense, p attentionParams, wantQK bool) ([]*tensor.Dense, error) {
	q, k, v := in[0], in[1], in[2]
	mask, pastK, pastV, nonpad := input(in, 3), input(in, 4), input(in, 5), input(in, 6)
	if err := sameType(q, k, v, pastK, pastV); err != nil {
		return nil, err
	}
	dt := q.Dtype()
	if dt != tensor.Float32 && dt != tensor.Float64 {
		return nil, fmt.Errorf("element type %s is not supported", dtName(dt))
	}
	if q.Dims() != k.Dims() || q.Dims() != v.Dims() {
		return nil, fmt.Errorf("query, key and value must have the same rank, got shapes %v, %v, %v", q.Shape(), k.Shape(), v.Shape())
	}
	threeD := q.Dims() == 3
	qv, qs, err := to4D(ec, q, p.qHeads, "Q")
	if err != nil {
		return nil, err
	}
	kv, ks, err := to4D(ec, k, p.kvHeads, "K")
	if err != nil {
		return nil, err
	}
	vv, vs, err := to4D(ec, v, p.kvHeads, "V")
	if err != nil {
		return nil, err
	}
	b, hq, sq, d := qs[0], qs[1], qs[2], qs[3]
	hkv, dv := ks[1], vs[3]
	if ks[0] != b || vs[0] != b || vs[1] != hkv || ks[3] != d || vs[2] != ks[2] {
		return nil, fmt.Errorf("query %v, key %v and value %v (as [batch, heads, seq, size]) do not fit together", qs, ks, vs)
	}
	if hkv == 0 || hq%hkv != 0 {
		return nil, fmt.Errorf("query heads %d are not a multiple of key/value heads %d", hq, hkv)
	}
	// The key/value cache.
	past := 0
	if (pastK == nil) != (pastV == nil) {
		return nil, fmt.Errorf("past_key and past_value must be given together")
	}
	if pastK != nil {
		pk, pv := pastK.Shape(), pastV.Shape()
		if len(pk) != 4 || len(pv) != 4 || pk[0] != b || pk[1] != hkv || pk[3] != d || pv[0] != b || pv[1] != hkv || pv[3] != dv || pv[2] != pk[2] {
			return nil, fmt.Errorf("past_key %v and past_value %v do not fit K %v and V %v", pk, pv, ks, vs)
		}
		past = pk[2]
		pkv, _ := toFloat64s(ec, pastK)
		pvv, _ := toFloat64s(ec, pastV)
		kv = catSeq(ec, pkv, kv, b*hkv, past, ks[2], d)
		vv = catSeq(ec, pvv, vv, b*hkv, past, vs[2], dv)
	}
	skv := past + ks[2]
	scale := p.scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(d))
	}
	// Additive bias [batch, q_heads, sq, skv] from the mask, causality and
	// padding.
	bias, err := attentionBias(ec, mask, nonpad, p.causal, b, hq, sq, skv, past)
	if err != nil {
		return nil, err
	}
	// Scores = scale · Q·Kᵀ per (batch, query head).
	rep := hq / hkv
	scores := allocSlice[float64](ec, mulElems(b, hq, sq, skv), "attention scores")
	jobs := allocSlice[gemmJob](ec, mulElems(b, hq), "attention batch")[:0]
	for bi := 0; bi < b; bi++ {
		for h := 0; h < hq; h++ {
			jobs = append(jobs, gemmJob{a: (bi*hq + h) * sq * d, b: (bi*hkv + h/rep) * skv * d, c: (bi*hq + h) * sq * skv})
		}
	}
	batchGemmFloat(ec, false, true, sq, skv, d, qv, kv, scores, jobs)
	var qk []float64
	for i := range scores {
		s := scores[i] * scale
		if p.mode == 0 && wantQK {
			if qk == nil {
				qk = make([]float64, len(scores))
			}
			qk[i] = s
		}
		if p.softcap > 0 {
			s = p.softcap * math.Tanh(s/p.softcap)
		}
		if p.mode == 1 && wantQK {
			if qk == nil {
				qk = make([]float64, len(scores))
			}
			qk[i] = s
		}
		if bias != nil {
			s += bias[i]
		}
		if p.mode == 2 && wantQK {
			if qk == nil {
				qk = make([]float64, len(scores))
			}
			qk[i] = s
		}
		scores[i] = s
	}
	for r := 0; r < b*hq*sq; r++ {
		row := scores[r*skv : (r+1)*skv]
		m := math.Inf(-1)
		for _, s := range row {
			m = math.Max(m, s)
		}
		sum := 0.0
		for j, s := range row {
			row[j] = math.Exp(s - m)
			sum += row[j]
		}
		for j := range row {
			row[j] /= sum
		}
	}
	if p.mode == 3 && wantQK {
		qk = scores
	}
	// Y = P·V.
	y := allocSlice[float64](ec, mulElems(b, hq, sq, dv), "attention output")
	for i := range jobs {
		bi, h := i/hq, i%hq
		jobs[i] = gemmJob{a: (bi*hq + h) * sq * skv, b: (bi*hkv + h/rep) * skv * dv, c: (bi*hq + h) * sq * dv}
	}
	batchGemmFloat(ec, false, false, sq, dv, skv, scores, vv, y, jobs)
	yShape := []int{b, hq, sq, dv}
	yt, err := fromFloat64s(ec, dt, yShape, y)
	if err != nil {
		return nil, err
	}
	if threeD {
		yt = reshaped(transpose(ec, yt, []int{0, 2, 1, 3}), []int{b, sq, hq * dv})
	}
	pk, err := fromFloat64s(ec, dt, []int{b, hkv, skv, d}, kv)
	if err != nil {
		return nil, err
	}
	pv, err := fromFloat64s(ec, dt, []int{b, hkv, skv, dv}, vv)
	if err != nil {
		return nil, err
	}
	out := []*tensor.Dense{yt, pk, pv, nil}
	if wantQK {
		if qk == nil {
			qk = make([]float64, len(scores))
		}
		if out[3], err = fromFloat64s(ec, dt, []int{b, hq, sq, skv}, qk); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// catSeq concatenates [n, s1, d] and [n, s2, d] along the middle axis.
func catSeq(ec *ExecContext, a, b []float64, n, s1, s2, d int) []float64 {
	out := allocSlice[float64](ec, mulElems(n, s1+s2, d), "concatenated cache")
	for i := 0; i < n; i++ {
		copy(out[i*(s1+s2)*d:], a[i*s1*d:(i+1)*s1*d])
		copy(out[(i*(s1+s2)+s1)*d:], b[i*s2*d:(i+1)*s2*d])
	}
	return out
}

// attentionBias builds the additive attention bias, or nil when nothing
// masks.
func attentionBias(ec *ExecContext, mask, nonpad *tensor.Dense, causal bool, b, hq, sq, skv, past int) ([]float64, error) {
	if mask == nil && nonpad == nil && !causal {
		return nil, nil
	}
	full := []int{b, hq, sq, skv}
	bias := allocSlice[float64](ec, shapeElems(full), "attention bias")
	if mask != nil {
		ms := shapeOf(mask)
		if len(ms) == 0 || ms[len(ms)-1] > skv {
			return nil, fmt.Errorf("attn_mask of shape %v does not fit %d keys", ms, skv)
		}
		mv, err := toFloat64s(ec, mask)
		if err != nil {
			return nil, err
		}
		if mask.Dtype() == tensor.Bool {
			for i, x := range mv {
				if x == 0 {
					mv[i] = math.Inf(-1)
				} else {
					mv[i] = 0
				}
			}
		}
		// Pad a short last dimension with -Inf (false).
		last := ms[len(ms)-1]
		if last < skv {
			rows := numel(ms[:len(ms)-1])
			padded := allocSlice[float64](ec, mulElems(rows, skv), "padded mask")
			for r := 0; r < rows; r++ {
				copy(padded[r*skv:], mv[r*last:(r+1)*last])
				for j := last; j < skv; j++ {
					padded[r*skv+j] = math.Inf(-1)
				}
			}
			mv, ms[len(ms)-1] = padded, skv
		}
		if bs, err := broadcastShape(ms, full); err != nil || !sameShape(bs, full) {
			return nil, fmt.Errorf("attn_mask of shape %v does not broadcast to %v", mask.Shape(), full)
		}
		bt := broadcastTo(ec, fromSlice(ms, mv), full)
		copy(bias, view[float64](bt))
	}
	var lens []int64
	if nonpad != nil {
		var err error
		if lens, err = int64sOf(nonpad, "nonpad_kv_seqlen"); err != nil {
			return nil, err
		}
		if len(lens) != b {
			return nil, fmt.Errorf("nonpad_kv_seqlen has %d entries for batch %d", len(lens), b)
		}
	}
	for bi := 0; bi < b; bi++ {
		offset := past
		if lens != nil && past == 0 {
			offset = int(lens[bi]) - sq
		}
		for h := 0; h < hq; h++ {
			for i := 0; i < sq; i++ {
				row := bias[((bi*hq+h)*sq+i)*skv:][:skv]
				for j := range row {
					if (causal && j > i+offset) || (lens != nil && int64(j) >= lens[bi]) {
						row[j] = math.Inf(-1)
					}
				}
			}
		}
	}
	return bias, nil
}

func convertRotary(n *Node) (Kernel, error) {
	a := attrsOf(n)
	interleaved := a.Bool("interleaved", false)
	heads := int(a.Int("num_heads", 0))
	rot := int(a.Int("rotary_embedding_dim", 0))
	if err := a.Err(); err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(rotary(ec, in[0], in[1], in[2], input(in, 3), interleaved, heads, rot))
	}), nil
}

func rotary(ec *ExecContext, x, cosT, sinT, pos *tensor.Dense, interleaved bool, heads, rot int) (*tensor.Dense, error) {
	if err := sameType(x, cosT, sinT); err != nil {
		return nil, err
	}
	if !isFloat(x.Dtype()) {
		return nil, fmt.Errorf("RotaryEmbedding does not support element type %s", dtName(x.Dtype()))
	}
	sh := x.Shape()
	var b, s, h, d int
	// at(bi, si, hi) is the offset of a head vector.
	var at func(bi, si, hi int) int
	switch len(sh) {
	case 4:
		b, h, s, d = sh[0], sh[1], sh[2], sh[3]
		at = func(bi, si, hi int) int { return ((bi*h+hi)*s + si) * d }
	case 3:
		if heads <= 0 || sh[2]%heads != 0 {
			return nil, fmt.Errorf("3-D input of shape %v needs num_heads dividing %d", sh, sh[2])
		}
		b, s, h, d = sh[0], sh[1], heads, sh[2]/heads
		at = func(bi, si, hi int) int { return (bi*s+si)*h*d + hi*d }
	default:
		return nil, fmt.Errorf("input must be 3-D or 4-D, got shape %v", sh)
	}
	if rot == 0 {
		rot = d
	}
	if rot > d || rot%2 != 0 {
		return nil, fmt.Errorf("rotary_embedding_dim %d must be even and at most the head size %d", rot, d)
	}
	half := rot / 2
	cv, err := toFloat64s(ec, cosT)
	if err != nil {
		return nil, err
	}
	sv, err := toFloat64s(ec, sinT)
	if err != nil {
		return nil, err
	}
	cs := cosT.Shape()
	if !sameShape(cs, sinT.Shape()) || len(cs) == 0 || cs[len(cs)-1] != half {
		return nil, fmt.Errorf("cos_cache %v and sin_cache %v must match, with last dimension %d", cs, sinT.Shape(), half)
	}
	// row(bi, si) is the offset of the cos/sin row of a position.
	var row func(bi, si int) (int, error)
	if pos != nil {
		pv, err := int64sOf(pos, "position_ids")
		if err != nil {
			return nil, err
		}
		if !sameShape(pos.Shape(), []int{b, s}) || len(cs) != 2 {
			return nil, fmt.Errorf("position_ids %v must be [%d %d] and the caches 2-D, got %v", pos.Shape(), b, s, cs)
		}
		row = func(bi, si int) (int, error) {
			p := pv[bi*s+si]
			if p < 0 || p >= int64(cs[0]) {
				return 0, fmt.Errorf("position id %d is outside the cache of %d positions", p, cs[0])
			}
			return int(p) * half, nil
		}
	} else {
		if !sameShape(cs, []int{b, s, half}) {
			return nil, fmt.Errorf("without position_ids the caches must be [%d %d %d], got %v", b, s, half, cs)
		}
		row = func(bi, si int) (int, error) { return (bi*s + si) * half, nil }
	}
	xv, err := toFloat64s(ec, x)
	if err != nil {
		return nil, err
	}
	out := append([]float64{}, xv...)
	for bi := 0; bi < b; bi++ {
		for si := 0; si < s; si++ {
			r, err := row(bi, si)
			if err != nil {
				return nil, err
			}
			c, sn := cv[r:r+half], sv[r:r+half]
			for hi := 0; hi < h; hi++ {
				o := at(bi, si, hi)
				src, dst := xv[o:o+rot], out[o:o+rot]
				for i := 0; i < half; i++ {
					i1, i2 := i, i+half
					if interleaved {
						i1, i2 = 2*i, 2*i+1
					}
					x1, x2 := src[i1], src[i2]
					dst[i1] = c[i]*x1 - sn[i]*x2
					dst[i2] = sn[i]*x1 + c[i]*x2
				}
			}
		}
	}
	return fromFloat64s(ec, x.Dtype(), shapeOf(x), out)
}
