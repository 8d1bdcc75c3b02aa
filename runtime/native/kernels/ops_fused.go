package kernels

// Fused kernels for the model-local functions xt2onnx exports (domain
// ai.xtransformers, see package ops) and for patterns the engine's fusion
// pass finds (domain ai.xt2onnx.native). Each computes exactly what the
// function body or the matched nodes compute, in one pass, without the
// intermediate tensors; FuzzOps and the fusion tests check every one
// against the unfused ops.
//
// ai.xtransformers.Attention (version 1) — out = softmax(where(keep,
//   q·kᵀ·scale, -FLT_MAX))·v over the last axis. Attribute scale (float).
//   Inputs q [b, h, i, d], k [b, h|1, j, d], v [b, h|1, j, dv], keep (bool,
//   broadcast to [b, h, i, j]). Float32 and float64. Blocks of query rows
//   at a time: the logits of one block of rows are all that is held.
// ai.xtransformers.L2NormGroups (version 1) — the last axis in `groups`
//   equal chunks, each divided by max(‖chunk‖₂, 1e-12). Attribute groups.
// ai.xtransformers.QKNorm (version 1) — L2NormGroups(x) · gain.
// ai.xt2onnx.native.Gelu — Gelu(x, c) = x·½·(1 + erf(x/c)) (x·c with
//   attribute pre "mul"), c the model's own √2 (or 1/√2) constant: the
//   fusion of the five nodes exporters write for torch's exact GELU.

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/gemm"
	"github.com/xt2onnx/xt2onnx/internal/vecmath"
)

// DomainNative is the domain of the operators only the engine's fusion pass
// emits; no file holds them.
const DomainNative = "ai.xt2onnx.native"

func registerFused(r *Registry) {
	r.Register(OpSpec{Domain: graph.DomainXT, OpType: "Attention", Since: 1, MinInputs: 4, MaxInputs: 4, Outputs: 1, Convert: convertXTAttention})
	r.Register(OpSpec{Domain: graph.DomainXT, OpType: "L2NormGroups", Since: 1, MinInputs: 1, MaxInputs: 1, Outputs: 1, Convert: convertL2NormGroups(false)})
	r.Register(OpSpec{Domain: graph.DomainXT, OpType: "QKNorm", Since: 1, MinInputs: 2, MaxInputs: 2, Outputs: 1, Convert: convertL2NormGroups(true)})
	r.Register(OpSpec{Domain: DomainNative, OpType: "Gelu", Since: 1, MinInputs: 2, MaxInputs: 2, Outputs: 1, Convert: convertFusedGelu})
	r.SetShape(graph.DomainXT, "Attention", shapeXTAttention)
	r.SetShape(graph.DomainXT, "L2NormGroups", sameAsInput)
	r.SetShape(graph.DomainXT, "QKNorm", sameAsInput)
	r.SetShape(DomainNative, "Gelu", sameAsInput)
}

func convertXTAttention(n *Node) (Kernel, error) {
	a := attrsOf(n)
	scale := float64(a.Float("scale", 1))
	if err := a.Err(); err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(xtAttention(ec, in[0], in[1], in[2], in[3], scale))
	}), nil
}

// strides4 returns the element strides of shape (right-aligned to rank 4)
// as broadcast to out: 0 where shape has 1 and out does not.
func strides4(shape, out []int) ([4]int, error) {
	var st [4]int
	if len(shape) > 4 {
		return st, fmt.Errorf("shape %v has more than 4 dimensions", shape)
	}
	full := make([]int, 4)
	for i := range full {
		full[i] = 1
	}
	copy(full[4-len(shape):], shape)
	acc := 1
	for i := 3; i >= 0; i-- {
		switch {
		case full[i] == out[i]:
			st[i] = acc
		case full[i] == 1: // broadcast
		default:
			return st, fmt.Errorf("shape %v does not broadcast to %v", shape, out)
		}
		acc *= full[i]
	}
	return st, nil
}

func xtAttention(ec *ExecContext, q, k, v, keep *tensor.Dense, scale float64) (*tensor.Dense, error) {
	if err := sameType(q, k, v); err != nil {
		return nil, err
	}
	if q.Dims() != 4 || k.Dims() != 4 || v.Dims() != 4 {
		return nil, fmt.Errorf("q, k and v must be 4-D [batch, heads, seq, head], got %v, %v and %v", q.Shape(), k.Shape(), v.Shape())
	}
	if keep.Dtype() != tensor.Bool {
		return nil, fmt.Errorf("keep must be bool, got %s", dtName(keep.Dtype()))
	}
	qs, ks, vs := q.Shape(), k.Shape(), v.Shape()
	b, h, i, d := qs[0], qs[1], qs[2], qs[3]
	j, dv := ks[2], vs[3]
	switch {
	case ks[0] != b && ks[0] != 1, ks[1] != h && ks[1] != 1, ks[3] != d:
		return nil, fmt.Errorf("k of shape %v does not fit q of shape %v", ks, qs)
	case vs[0] != ks[0], vs[1] != ks[1], vs[2] != j:
		return nil, fmt.Errorf("v of shape %v does not fit k of shape %v", vs, ks)
	}
	out := ec.allocUninit(q.Dtype(), []int{b, h, i, dv})
	mst, err := strides4(keep.Shape(), []int{b, h, i, j})
	if err != nil {
		return nil, fmt.Errorf("keep: %w", err)
	}
	kb, kh := 0, 0
	if ks[0] != 1 {
		kb = ks[1] * j * d
	}
	if ks[1] != 1 {
		kh = j * d
	}
	vb, vh := kb/max(d, 1)*dv, kh/max(d, 1)*dv
	g := attnGeom{b: b, h: h, i: i, j: j, d: d, dv: dv, kb: kb, kh: kh, vb: vb, vh: vh, mask: view[bool](keep), mst: mst}
	switch q.Dtype() {
	case tensor.Float32:
		attendBlocks(ec, g, view[float32](q), view[float32](k), view[float32](v), view[float32](out), float32(scale))
	case tensor.Float64:
		attendBlocks(ec, g, view[float64](q), view[float64](k), view[float64](v), view[float64](out), scale)
	default:
		return nil, fmt.Errorf("q, k and v must be floating-point, got %s", dtName(q.Dtype()))
	}
	return out, nil
}

// attnGeom is the layout of one attention call.
type attnGeom struct {
	b, h, i, j, d, dv int
	kb, kh, vb, vh    int // element strides of k and v per batch and head (0: broadcast)
	mask              []bool
	mst               [4]int // strides of keep over [b, h, i, j]
}

// attnLogits bounds the logits one task holds: its block of query rows
// has at most this many logits (but at least 8 rows).
const attnLogits = 1 << 16

// attendBlocks computes attention for every (batch, head, block of query
// rows), spread over the workers. Within a block it is two GEMMs and a row
// softmax, the same operations in the same order as the unfused nodes
// (MatMul, Mul, Where, Softmax, MatMul): masked logits are -FLT_MAX there,
// whose exponential is 0, so here they are skipped and get 0 directly.
func attendBlocks[T gemm.Float](ec *ExecContext, g attnGeom, q, k, v, out []T, scale T) {
	rowsPer := min(g.i, max(8, attnLogits/max(g.j, 1)))
	blocks := (g.i + rowsPer - 1) / rowsPer
	tasks := g.b * g.h * blocks
	if tasks == 0 || g.j == 0 {
		clear(out)
		return
	}
	ec.parallel(tasks, rowsPer*g.j*(g.d+g.dv), func(t int) {
		bi, rest := t/(g.h*blocks), t%(g.h*blocks)
		hi, blk := rest/blocks, rest%blocks
		r0 := blk * rowsPer
		rows := min(rowsPer, g.i-r0)
		qo := ((bi*g.h+hi)*g.i + r0) * g.d
		ko := bi*g.kb + hi*g.kh
		vo := bi*g.vb + hi*g.vh
		oo := ((bi*g.h+hi)*g.i + r0) * g.dv
		s := allocSlice[T](ec, rows*g.j, "attention logits")
		// s = (q·kᵀ)·scale; alpha applies the scale to each finished sum
		// exactly as the unfused Mul does.
		gemm.Gemm(false, true, rows, g.j, g.d, scale, q[qo:qo+rows*g.d], g.d, k[ko:ko+g.j*g.d], g.d, 0, s, g.j, nil)
		e := allocSlice[float64](ec, g.j, "softmax row")
		for r := 0; r < rows; r++ {
			row := s[r*g.j : (r+1)*g.j]
			mo := bi*g.mst[0] + hi*g.mst[1] + (r0+r)*g.mst[2]
			maskedSoftmax(row, g.mask, mo, g.mst[3], e)
		}
		gemm.Gemm(false, false, rows, g.dv, g.j, 1, s, g.j, v[vo:vo+g.j*g.dv], g.dv, 0, out[oo:oo+rows*g.dv], g.dv, nil)
	})
}

// maskedSoftmax replaces row by softmax(where(keep, row, -FLT_MAX)), keep
// being mask[mo + c·ms] for column c, in the arithmetic of softmaxRow:
// masked entries get exp(-FLT_MAX - max) = 0 without computing it.
func maskedSoftmax[T floating](row []T, mask []bool, mo, ms int, e []float64) {
	n := len(row)
	if ms != 1 {
		// A mask broadcast along the keys: one value for the whole row.
		if !mask[mo] {
			w := T(1 / float64(n))
			for c := range row {
				row[c] = w
			}
			return
		}
		softmaxRow(row, row, e)
		return
	}
	km := mask[mo : mo+n]
	if r32, ok := any(row).([]float32); ok {
		// where(keep, row, -FLT_MAX), then the softmax, as the unfused
		// graph computes it; a row with no kept entry gets equal weights
		// (every logit -FLT_MAX).
		for c, k := range km {
			if !k {
				r32[c] = -math.MaxFloat32
			}
		}
		vecmath.SoftmaxRow(r32, r32)
		return
	}
	// Convert first: the exp loop then has no float32→float64 conversion,
	// whose false register dependency would chain its iterations.
	for c, v := range row {
		e[c] = float64(v)
	}
	m := math.Inf(-1)
	kept := 0
	for c, k := range km {
		if k {
			m = max(m, e[c])
			kept++
		}
	}
	if kept == 0 {
		// Every logit is -FLT_MAX: the unfused softmax gives equal weights.
		w := T(1 / float64(n))
		for c := range row {
			row[c] = w
		}
		return
	}
	if kept < n {
		m = max(m, -math.MaxFloat32) // the masked entries' value
	}
	if math.IsInf(m, -1) {
		m = 0
	}
	sum := 0.0
	for c, k := range km {
		if k {
			x := expFast(e[c] - m)
			e[c] = x
			sum += x
		} else {
			e[c] = 0
		}
	}
	inv := 1 / sum
	for c := range row {
		row[c] = T(e[c] * inv)
	}
}

func convertL2NormGroups(withGain bool) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		a := attrsOf(n)
		groups := a.Int("groups", 1)
		if err := a.Err(); err != nil {
			return nil, err
		}
		if groups < 1 {
			return nil, fmt.Errorf("groups must be positive, got %d", groups)
		}
		return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			var gain *tensor.Dense
			if withGain {
				gain = in[1]
			}
			return one(l2normGroups(ec, in[0], gain, int(groups)))
		}), nil
	}
}

// l2normGroups divides each of groups chunks of the last axis by
// max(‖chunk‖₂, 1e-12) (ReduceL2 in float64, then Max and Div, as the
// function body computes), then multiplies by gain when given (broadcast
// along the last axis, as Mul broadcasts it).
func l2normGroups(ec *ExecContext, x, gain *tensor.Dense, groups int) (*tensor.Dense, error) {
	if x.Dims() == 0 {
		return nil, fmt.Errorf("input must have at least one dimension")
	}
	sh := x.Shape()
	last := sh[len(sh)-1]
	if last%groups != 0 {
		return nil, fmt.Errorf("the last axis (%d) does not split into %d groups", last, groups)
	}
	if gain != nil {
		if err := sameType(x, gain); err != nil {
			return nil, err
		}
		if bs, err := broadcastShape(sh, gain.Shape()); err != nil || !sameShape(bs, sh) || (numel(gain.Shape()) != last && numel(gain.Shape()) != 1) || (numel(gain.Shape()) == last && gain.Dims() > 0 && gain.Shape()[gain.Dims()-1] != last) {
			// Only a gain over the last axis is fused; anything else
			// would have to broadcast like Mul.
			return nil, fmt.Errorf("gain of shape %v is not one gain per element of the last axis of %v", gain.Shape(), sh)
		}
	}
	out := ec.allocUninit(x.Dtype(), shapeOf(x))
	switch x.Dtype() {
	case tensor.Float32:
		var gv []float32
		if gain != nil {
			gv = view[float32](gain)
		}
		l2normRows(ec, view[float32](x), gv, view[float32](out), last/groups)
	case tensor.Float64:
		var gv []float64
		if gain != nil {
			gv = view[float64](gain)
		}
		l2normRows(ec, view[float64](x), gv, view[float64](out), last/groups)
	default:
		return nil, fmt.Errorf("input must be floating-point, got %s", dtName(x.Dtype()))
	}
	return out, nil
}

func l2normRows[T floating](ec *ExecContext, x, gain, out []T, chunk int) {
	if chunk == 0 || len(x) == 0 {
		return
	}
	rows := len(x) / chunk
	per := max(1, 4096/chunk)
	last := len(gain)
	ec.parallel((rows+per-1)/per, per*chunk, func(t int) {
		for r := t * per; r < min(rows, (t+1)*per); r++ {
			xr, or := x[r*chunk:(r+1)*chunk], out[r*chunk:(r+1)*chunk]
			ss := 0.0
			for _, v := range xr {
				ss += float64(v) * float64(v)
			}
			// ReduceL2 rounds the norm to T, Max and Div work in T.
			n := T(math.Sqrt(ss))
			n = max(n, T(1e-12))
			for c, v := range xr {
				or[c] = v / n
			}
			switch {
			case last == 1:
				for c := range or {
					or[c] *= gain[0]
				}
			case last > 0:
				off := (r * chunk) % last
				for c := range or {
					or[c] *= gain[off+c]
				}
			}
		}
	})
}

func convertFusedGelu(n *Node) (Kernel, error) {
	a := attrsOf(n)
	mul := a.String("pre", "div") == "mul"
	if err := a.Err(); err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		if numel(in[1].Shape()) != 1 || in[1].Dtype() != in[0].Dtype() {
			return nil, fmt.Errorf("the scale must be one %s, got %s%v", dtName(in[0].Dtype()), dtName(in[1].Dtype()), in[1].Shape())
		}
		return one(geluExact(ec, in[0], in[1], mul))
	}), nil
}

// geluExact is x·½·(1 + erf(x/c)) (x·c with mul), rounded as the five
// unfused nodes round: the scaling, erf, +1, x·, ·½ each in the element
// type.
func geluExact(ec *ExecContext, x, ct *tensor.Dense, mul bool) (*tensor.Dense, error) {
	out := ec.allocUninit(x.Dtype(), shapeOf(x))
	switch x.Dtype() {
	case tensor.Float32:
		xs, os := view[float32](x), view[float32](out)
		c := view[float32](ct)[0]
		if vecmath.KernelName() != "go" {
			// SIMD, and bit for bit the Erf kernel followed by the three
			// float32 operations, so fused and unfused graphs agree.
			chunks(ec, len(xs), func(lo, hi int) {
				vecmath.Gelu(os[lo:hi], xs[lo:hi], c, mul)
			})
			break
		}
		chunks(ec, len(xs), func(lo, hi int) {
			// Four at a time: independent chains keep the FPU busy (one
			// element's polynomial is a chain of dependent operations).
			i := lo
			for ; i+4 <= hi; i += 4 {
				v0, v1, v2, v3 := xs[i], xs[i+1], xs[i+2], xs[i+3]
				s0, s1, s2, s3 := v0/c, v1/c, v2/c, v3/c
				if mul {
					s0, s1, s2, s3 = v0*c, v1*c, v2*c, v3*c
				}
				e0, e1, e2, e3 := erf64x4(float64(s0), float64(s1), float64(s2), float64(s3))
				os[i] = v0 * (float32(e0) + 1) * 0.5
				os[i+1] = v1 * (float32(e1) + 1) * 0.5
				os[i+2] = v2 * (float32(e2) + 1) * 0.5
				os[i+3] = v3 * (float32(e3) + 1) * 0.5
			}
			for ; i < hi; i++ {
				v := xs[i]
				s := v / c
				if mul {
					s = v * c
				}
				e := float32(erf64(float64(s)))
				os[i] = v * (e + 1) * 0.5
			}
		})
	case tensor.Float64:
		xs, os := view[float64](x), view[float64](out)
		c := view[float64](ct)[0]
		chunks(ec, len(xs), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				v := xs[i]
				s := v / c
				if mul {
					s = v * c
				}
				os[i] = v * (math.Erf(s) + 1) * 0.5
			}
		})
	default:
		return nil, fmt.Errorf("input must be floating-point, got %s", dtName(x.Dtype()))
	}
	return out, nil
}

// chunks splits [0, n) into blocks over the context's workers.
func chunks(ec *ExecContext, n int, fn func(lo, hi int)) {
	const per = 1 << 14
	ec.parallel((n+per-1)/per, per*4, func(t int) {
		fn(t*per, min(n, (t+1)*per))
	})
}

// erf64x4 is erf64 of four values, written out so that the four
// polynomials overlap.
func erf64x4(a0, a1, a2, a3 float64) (float64, float64, float64, float64) {
	return erf64(a0), erf64(a1), erf64(a2), erf64(a3)
}

// erf64 is erf for float32 work, evaluated in float64: Eigen's rational
// approximation on (-4, 4) (±1 beyond), within 1e-7 of erf, which is the
// rounding of a float32 result.
func erf64(a float64) float64 {
	x := a
	if x >= 4 {
		return 1 // erf(4) = 1 - 1.5e-8: 1 in float32
	} else if x <= -4 {
		return -1
	} else if x != x {
		return x
	}
	x2 := x * x
	p := x2*(-2.72614225801306e-10) + 2.77068142495902e-08
	p = x2*p + -2.10102402082508e-06
	p = x2*p + -5.69250639462346e-05
	p = x2*p + -7.34990630326855e-04
	p = x2*p + -2.95459980854025e-03
	p = x2*p + -1.60960333262415e-02
	p = x * p
	q := x2*(-1.45660718464996e-05) + -2.13374055278905e-04
	q = x2*q + -1.68282697438203e-03
	q = x2*q + -7.37332916720468e-03
	q = x2*q + -1.42647390514189e-02
	return p / q
}

// shapeXTAttention: [b, h, i, dv] from q [b, h, i, d] and v [.., .., j, dv].
func shapeXTAttention(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	q, k, v := in[0].Shape, in[1].Shape, in[2].Shape
	if len(q) != 4 || len(v) != 4 {
		return []Type{t}, nil
	}
	if len(k) == 4 && conflict(q[3], k[3]) {
		return nil, fmt.Errorf("q's head size %s and k's %s differ", q[3], k[3])
	}
	t.Shape = []Dim{q[0], q[1], q[2], v[3]}
	return []Type{t}, nil
}
