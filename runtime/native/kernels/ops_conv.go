package kernels

// Conv — https://onnx.ai/onnx/operators/onnx__Conv.html
//
//   Attributes: auto_pad (string: NOTSET (default), SAME_UPPER, SAME_LOWER,
//   VALID), dilations (ints, default 1 per spatial axis), group (int, default
//   1), kernel_shape (ints, default from W), pads (ints, [begin…, end…],
//   default 0), strides (ints, default 1).
//   Inputs: X [N, C, D1, …, Dn], W [M, C/group, k1, …, kn], B [M] (optional).
//   Output: Y [N, M, O1, …, On].
//   Opsets 1, 11 (same semantics), 22 (types only).
//   Any number of spatial axes (1-D and 2-D are the tested ones): each group
//   is an im2col matrix multiplied with BLAS (float32: blas32, float64:
//   blas64). Gaps: integer and half types are not supported (float16 and
//   bfloat16 are computed in float32).

import (
	"fmt"

	"gorgonia.org/tensor"
)

func registerConv(r *Registry) {
	r.Register(spec("Conv", 1, 2, 3, 1, convertConv))
}

type convParams struct {
	autoPad   string
	dilations []int64
	group     int64
	kernel    []int64
	pads      []int64
	strides   []int64
}

func convertConv(n *Node) (Kernel, error) {
	a := attrsOf(n)
	var p convParams
	p.autoPad = a.String("auto_pad", "NOTSET")
	a.OneOf("auto_pad", p.autoPad, "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID")
	p.dilations, _ = a.Ints("dilations")
	p.group = a.Int("group", 1)
	p.kernel, _ = a.Ints("kernel_shape")
	p.pads, _ = a.Ints("pads")
	p.strides, _ = a.Ints("strides")
	if err := a.Err(); err != nil {
		return nil, err
	}
	if p.group < 1 {
		return nil, fmt.Errorf("group must be ≥ 1, got %d", p.group)
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(conv(ec, in[0], in[1], input(in, 2), p))
	}), nil
}

// convGeometry resolves the spatial sizes, pads and output sizes.
func convGeometry(xs, ws []int, p convParams) (ks, strides, dil, padBegin, outSp []int, err error) {
	sp := len(xs) - 2
	ks = ws[2:]
	if p.kernel != nil {
		if len(p.kernel) != sp {
			return nil, nil, nil, nil, nil, fmt.Errorf("kernel_shape %v does not have %d entries", p.kernel, sp)
		}
		for i, k := range p.kernel {
			if int(k) != ks[i] {
				return nil, nil, nil, nil, nil, fmt.Errorf("kernel_shape %v does not match W's shape %v", p.kernel, ws)
			}
		}
	}
	ints := func(v []int64, def int, name string, want int) ([]int, error) {
		out := make([]int, want)
		if v == nil {
			for i := range out {
				out[i] = def
			}
			return out, nil
		}
		if len(v) != want {
			return nil, fmt.Errorf("%s %v must have %d entries", name, v, want)
		}
		for i, x := range v {
			if x < 0 || (def == 1 && x < 1) {
				return nil, fmt.Errorf("%s %v has an invalid entry %d", name, v, x)
			}
			out[i] = int(x)
		}
		return out, nil
	}
	if strides, err = ints(p.strides, 1, "strides", sp); err != nil {
		return
	}
	if dil, err = ints(p.dilations, 1, "dilations", sp); err != nil {
		return
	}
	pads, err := ints(p.pads, 0, "pads", 2*sp)
	if err != nil {
		return
	}
	padBegin = make([]int, sp)
	outSp = make([]int, sp)
	for i := 0; i < sp; i++ {
		in, ek := xs[2+i], (ks[i]-1)*dil[i]+1
		switch p.autoPad {
		case "NOTSET":
			padBegin[i] = pads[i]
			outSp[i] = (in+pads[i]+pads[sp+i]-ek)/strides[i] + 1
		case "VALID":
			outSp[i] = (in-ek)/strides[i] + 1
		default:
			o := (in + strides[i] - 1) / strides[i]
			total := max(0, (o-1)*strides[i]+ek-in)
			padBegin[i] = total / 2
			if p.autoPad == "SAME_LOWER" {
				padBegin[i] = total - total/2
			}
			outSp[i] = o
		}
		if outSp[i] < 0 {
			outSp[i] = 0
		}
	}
	return ks, strides, dil, padBegin, outSp, nil
}

// conv computes an N-d convolution with groups by im2col and GEMM.
func conv(ec *ExecContext, x, w, b *tensor.Dense, p convParams) (*tensor.Dense, error) {
	if err := sameType(x, w, b); err != nil {
		return nil, err
	}
	if x.Dtype() != tensor.Float32 && x.Dtype() != tensor.Float64 {
		return nil, fmt.Errorf("element type %s is not supported", dtName(x.Dtype()))
	}
	xs, ws := shapeOf(x), shapeOf(w)
	if len(xs) < 3 || len(ws) != len(xs) {
		return nil, fmt.Errorf("input X [N, C, spatial…] and weights W must have the same rank ≥ 3, got %v and %v", xs, ws)
	}
	g := int(p.group)
	nb, c, m := xs[0], xs[1], ws[0]
	if c%g != 0 || m%g != 0 || ws[1] != c/g {
		return nil, fmt.Errorf("shapes X %v and W %v do not fit group %d (W must be [M, C/group, …])", xs, ws, g)
	}
	if b != nil && (b.Dims() != 1 || b.Shape()[0] != m) {
		return nil, fmt.Errorf("bias of shape %v must be [%d]", b.Shape(), m)
	}
	ks, strides, dil, padBegin, outSp, err := convGeometry(xs, ws, p)
	if err != nil {
		return nil, err
	}
	cg, mg := c/g, m/g
	kn, on, in := numel(ks), numel(outSp), numel(xs[2:])
	rowsK := cg * kn
	// For each kernel position and output position, the input offset (or
	// -1 for padding), shared by all channels.
	idx := allocSlice[int](ec, mulElems(kn, on), "Conv index map")
	sp := len(ks)
	kpos := make([]int, sp)
	opos := make([]int, sp)
	xstr := stridesOf(xs[2:])
	for kk := 0; kk < kn; kk++ {
		for o := 0; o < on; o++ {
			off, ok := 0, true
			for d := 0; d < sp; d++ {
				pos := opos[d]*strides[d] - padBegin[d] + kpos[d]*dil[d]
				if pos < 0 || pos >= xs[2+d] {
					ok = false
					break
				}
				off += pos * xstr[d]
			}
			if ok {
				idx[kk*on+o] = off
			} else {
				idx[kk*on+o] = -1
			}
			incr(opos, outSp)
		}
		incr(kpos, ks)
	}
	outShape := append([]int{nb, m}, outSp...)
	out := ec.alloc(x.Dtype(), outShape)
	cols := ec.alloc(x.Dtype(), []int{g, rowsK, on})
	for bi := 0; bi < nb; bi++ {
		switch x.Dtype() {
		case tensor.Float32:
			im2col(view[float32](x)[bi*c*in:], view[float32](cols), idx, c, kn, on, in)
		default:
			im2col(view[float64](x)[bi*c*in:], view[float64](cols), idx, c, kn, on, in)
		}
		jobs := allocSlice[gemmJob](ec, g, "Conv groups")
		for gi := range jobs {
			jobs[gi] = gemmJob{a: gi * mg * rowsK, b: gi * rowsK * on, c: (bi*m + gi*mg) * on}
		}
		if err := batchGemm(ec, false, false, mg, on, rowsK, w, cols, out, jobs); err != nil {
			return nil, err
		}
	}
	if b != nil {
		bv, err := toFloat64s(ec, b)
		if err != nil {
			return nil, err
		}
		switch x.Dtype() {
		case tensor.Float32:
			addBias(view[float32](out), bv, nb, m, on)
		default:
			addBias(view[float64](out), bv, nb, m, on)
		}
	}
	return out, nil
}

// incr advances a multi-index over shape (row-major), wrapping to zero.
func incr(pos, shape []int) {
	for d := len(pos) - 1; d >= 0; d-- {
		pos[d]++
		if pos[d] < shape[d] {
			return
		}
		pos[d] = 0
	}
}

func im2col[T floating](x, cols []T, idx []int, c, kn, on, in int) {
	for ch := 0; ch < c; ch++ {
		src := x[ch*in : (ch+1)*in]
		for kk := 0; kk < kn; kk++ {
			row := cols[(ch*kn+kk)*on : (ch*kn+kk+1)*on]
			ix := idx[kk*on : (kk+1)*on]
			for o, j := range ix {
				if j >= 0 {
					row[o] = src[j]
				} else {
					row[o] = 0
				}
			}
		}
	}
}

func addBias[T floating](out []T, b []float64, nb, m, on int) {
	for bi := 0; bi < nb; bi++ {
		for ch := 0; ch < m; ch++ {
			v := T(b[ch])
			row := out[(bi*m+ch)*on : (bi*m+ch+1)*on]
			for i := range row {
				row[i] += v
			}
		}
	}
}
