package kernels

// Elementwise arithmetic and math, Clip, CumSum and the matrix products.
//
// Add, Sub, Mul, Div — https://onnx.ai/onnx/operators/onnx__Add.html (…__Sub, __Mul, __Div)
//   Inputs A, B of one type, multidirectional (numpy) broadcasting; output C.
//   No attributes. Opsets 7 (multidirectional broadcasting), 13, 14 (types only).
//   Types: every number type; float16/bfloat16 computed in float32, rounded once.
//   Gaps: versions 1 and 6 (broadcast/axis attributes) are not implemented;
//   integer division by zero is an error (ONNX leaves it undefined).
// Pow — https://onnx.ai/onnx/operators/onnx__Pow.html
//   Inputs X (T), Y (T1, may differ), broadcasting; output Z (T). Opsets 7, 12,
//   13, 15. Computed in float64 and converted to T (integers truncate).
// Mod — https://onnx.ai/onnx/operators/onnx__Mod.html
//   Attribute fmod (int, default 0: sign of the divisor, integers only; 1: C fmod).
//   Inputs A, B, broadcasting. Opsets 10, 13.
// Max, Min, Sum — https://onnx.ai/onnx/operators/onnx__Max.html (…__Min, __Sum)
//   1 to many inputs of one type, broadcasting. Opsets 8, 12, 13. Max and Min
//   propagate NaN like numpy.maximum/minimum.
// Abs, Neg, Sign — https://onnx.ai/onnx/operators/onnx__Abs.html (…__Neg, __Sign)
//   Input X, output Y, every number type. Opsets 6 (Sign 9), 13.
// Sqrt, Reciprocal, Exp, Log, Sin, Cos, Tanh, Erf, Ceil, Floor —
//   https://onnx.ai/onnx/operators/onnx__Sqrt.html (…__Erf, …)
//   Input X (float types), output Y; computed in float64 and rounded.
//   Opsets 6 (Sin, Cos 7; Erf 9), 13.
// Clip — https://onnx.ai/onnx/operators/onnx__Clip.html
//   Opset 6: attributes min, max (float; defaults ∓FLT_MAX). Opsets 11, 12, 13:
//   optional scalar inputs min, max of X's type (absent: the type's range).
//   NaN passes through.
// CumSum — https://onnx.ai/onnx/operators/onnx__CumSum.html
//   Attributes exclusive, reverse (int, default 0). Inputs x, axis (int32/int64
//   scalar). Opsets 11, 14.
// MatMul — https://onnx.ai/onnx/operators/onnx__MatMul.html
//   Inputs A, B; numpy.matmul semantics (1-D promotion, batch broadcasting).
//   Opsets 1, 9, 13. float32 uses gonum's blas32 Sgemm per batch entry (batch
//   entries in parallel on GOMAXPROCS goroutines), float64 blas64 Dgemm,
//   int32/int64/uint32/uint64 a plain loop.
// Gemm — https://onnx.ai/onnx/operators/onnx__Gemm.html
//   Attributes alpha, beta (float, default 1), transA, transB (int, default 0).
//   Inputs A, B (2-D), C (unidirectionally broadcast to M×N; optional from 11).
//   Opsets 7 (C required), 11, 13. Gap: versions 1 and 6 (broadcast attribute).

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

func registerMath(r *Registry) {
	for _, op := range []string{"Add", "Sub", "Mul", "Div"} {
		r.Register(spec(op, 7, 2, 2, 1, convertArith(op)))
	}
	r.Register(spec("Pow", 7, 2, 2, 1, convertPow))
	r.Register(spec("Mod", 10, 2, 2, 1, convertMod))
	for _, op := range []string{"Max", "Min", "Sum"} {
		r.Register(spec(op, 8, 1, -1, 1, convertVariadic(op)))
	}
	for _, op := range []string{"Abs", "Neg"} {
		r.Register(spec(op, 6, 1, 1, 1, convertNumeric(op)))
	}
	r.Register(spec("Sign", 9, 1, 1, 1, convertNumeric("Sign")))
	floatOps := []struct {
		op    string
		since int64
		f     func(float64) float64
	}{
		{"Sqrt", 6, math.Sqrt},
		{"Reciprocal", 6, func(x float64) float64 { return 1 / x }},
		{"Exp", 6, math.Exp},
		{"Log", 6, math.Log},
		{"Sin", 7, math.Sin},
		{"Cos", 7, math.Cos},
		{"Tanh", 6, math.Tanh},
		{"Erf", 9, math.Erf},
		{"Ceil", 6, math.Ceil},
		{"Floor", 6, math.Floor},
	}
	for _, o := range floatOps {
		r.Register(spec(o.op, o.since, 1, 1, 1, convertFloatMap(o.op, o.f)))
	}
	r.Register(spec("Clip", 6, 1, 1, 1, convertClip))
	r.Register(spec("Clip", 11, 1, 3, 1, convertClip))
	r.Register(spec("CumSum", 11, 2, 2, 1, convertCumSum))
	r.Register(spec("MatMul", 1, 2, 2, 1, convertMatMul))
	r.Register(spec("Gemm", 7, 3, 3, 1, convertGemm))
	r.Register(spec("Gemm", 11, 2, 3, 1, convertGemm))
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum"} {
		r.SetShape("", op, broadcastRule(false))
	}
	for _, op := range []string{"Abs", "Neg", "Sign", "Sqrt", "Reciprocal", "Exp", "Log", "Sin", "Cos", "Tanh", "Erf", "Ceil", "Floor", "Clip", "CumSum"} {
		r.SetShape("", op, sameAsInput)
	}
	r.SetShape("", "MatMul", shapeMatMul)
	r.SetShape("", "Gemm", shapeGemm)
}

func convertArith(op string) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		if err := noAttrs(n); err != nil {
			return nil, err
		}
		return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			return one(arith(ec, op, in[0], in[1]))
		}), nil
	}
}

func convertPow(n *Node) (Kernel, error) {
	if err := noAttrs(n); err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(pow(ec, in[0], in[1]))
	}), nil
}

func convertMod(n *Node) (Kernel, error) {
	a := attrsOf(n)
	fmod := a.Bool("fmod", false)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(mod(ec, in[0], in[1], fmod))
	}), nil
}

func convertVariadic(op string) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		if err := noAttrs(n); err != nil {
			return nil, err
		}
		return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			acc := in[0]
			if len(in) == 1 {
				return []*tensor.Dense{cloneDense(ec, acc)}, nil
			}
			for _, x := range in[1:] {
				if x == nil {
					return nil, fmt.Errorf("%s inputs cannot be omitted", op)
				}
				var err error
				if acc, err = arith(ec, op, acc, x); err != nil {
					return nil, err
				}
			}
			return []*tensor.Dense{acc}, nil
		}), nil
	}
}

func convertNumeric(op string) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		if err := noAttrs(n); err != nil {
			return nil, err
		}
		return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			return one(mapNumeric(ec, in[0], op))
		}), nil
	}
}

func convertFloatMap(op string, f func(float64) float64) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		if err := noAttrs(n); err != nil {
			return nil, err
		}
		return floatMapKernel(op, f), nil
	}
}

// floatMapKernel applies f elementwise to a float input.
func floatMapKernel(op string, f func(float64) float64) Kernel {
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(mapFloat(ec, in[0], op, f))
	})
}

func convertClip(n *Node) (Kernel, error) {
	a := attrsOf(n)
	var lo, hi *float32
	if n.Opset < 11 {
		if a.has("min") {
			v := a.Float("min", 0)
			lo = &v
		}
		if a.has("max") {
			v := a.Float("max", 0)
			hi = &v
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		minT, maxT := input(in, 1), input(in, 2)
		if lo != nil {
			minT = scalar(*lo)
		}
		if hi != nil {
			maxT = scalar(*hi)
		}
		if n.Opset < 11 && x.Dtype() == tensor.Float64 {
			// The attributes are float32; compare in the input's type.
			var err error
			if minT != nil {
				if minT, err = castDense(ec, minT, tensor.Float64); err != nil {
					return nil, err
				}
			}
			if maxT != nil {
				if maxT, err = castDense(ec, maxT, tensor.Float64); err != nil {
					return nil, err
				}
			}
		}
		return one(clip(ec, x, minT, maxT))
	}), nil
}

// clip limits x to [lo, hi]; nil bounds are open.
func clip(ec *ExecContext, x, lo, hi *tensor.Dense) (*tensor.Dense, error) {
	for _, b := range []*tensor.Dense{lo, hi} {
		if b == nil {
			continue
		}
		if b.Dtype() != x.Dtype() {
			return nil, fmt.Errorf("bound of type %s does not match input type %s", dtName(b.Dtype()), dtName(x.Dtype()))
		}
		if numel(b.Shape()) != 1 {
			return nil, fmt.Errorf("bounds must be scalars, got shape %v", b.Shape())
		}
	}
	out := ec.alloc(x.Dtype(), shapeOf(x))
	switch x.Dtype() {
	case tensor.Float32:
		clipT[float32](x, lo, hi, out)
	case tensor.Float64:
		clipT[float64](x, lo, hi, out)
	case tensor.Int64:
		clipT[int64](x, lo, hi, out)
	case tensor.Int32:
		clipT[int32](x, lo, hi, out)
	case tensor.Int16:
		clipT[int16](x, lo, hi, out)
	case tensor.Int8:
		clipT[int8](x, lo, hi, out)
	case tensor.Uint64:
		clipT[uint64](x, lo, hi, out)
	case tensor.Uint32:
		clipT[uint32](x, lo, hi, out)
	case tensor.Uint16:
		clipT[uint16](x, lo, hi, out)
	case tensor.Uint8:
		clipT[uint8](x, lo, hi, out)
	default:
		return nil, fmt.Errorf("element type %s is not supported", dtName(x.Dtype()))
	}
	return out, nil
}

func clipT[T numeric](x, lo, hi, out *tensor.Dense) {
	l, h := negInf[T](), posInf[T]()
	if lo != nil {
		l = view[T](lo)[0]
	}
	if hi != nil {
		h = view[T](hi)[0]
	}
	d := view[T](out)
	for i, v := range view[T](x) {
		if v < l {
			v = l
		}
		if v > h {
			v = h
		}
		d[i] = v
	}
}

func convertCumSum(n *Node) (Kernel, error) {
	a := attrsOf(n)
	exclusive := a.Bool("exclusive", false)
	reverse := a.Bool("reverse", false)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		ax, err := scalarInt64(in[1], "axis")
		if err != nil {
			return nil, err
		}
		axis, err := normAxis(ax, x.Dims())
		if err != nil {
			return nil, err
		}
		out := ec.alloc(x.Dtype(), shapeOf(x))
		sh := x.Shape()
		outer, inner := numel(sh[:axis]), numel(sh[axis+1:])
		switch x.Dtype() {
		case tensor.Float32:
			cumsum(view[float32](x), view[float32](out), outer, sh[axis], inner, exclusive, reverse)
		case tensor.Float64:
			cumsum(view[float64](x), view[float64](out), outer, sh[axis], inner, exclusive, reverse)
		case tensor.Int64:
			cumsum(view[int64](x), view[int64](out), outer, sh[axis], inner, exclusive, reverse)
		case tensor.Int32:
			cumsum(view[int32](x), view[int32](out), outer, sh[axis], inner, exclusive, reverse)
		case tensor.Uint64:
			cumsum(view[uint64](x), view[uint64](out), outer, sh[axis], inner, exclusive, reverse)
		case tensor.Uint32:
			cumsum(view[uint32](x), view[uint32](out), outer, sh[axis], inner, exclusive, reverse)
		default:
			return nil, fmt.Errorf("CumSum does not support element type %s", dtName(x.Dtype()))
		}
		return []*tensor.Dense{out}, nil
	}), nil
}

func cumsum[T numeric](x, out []T, outer, n, inner int, exclusive, reverse bool) {
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			var acc T
			for s := 0; s < n; s++ {
				j := s
				if reverse {
					j = n - 1 - s
				}
				idx := (o*n+j)*inner + i
				if exclusive {
					out[idx] = acc
					acc += x[idx]
				} else {
					acc += x[idx]
					out[idx] = acc
				}
			}
		}
	}
}

func convertMatMul(n *Node) (Kernel, error) {
	if err := noAttrs(n); err != nil {
		return nil, err
	}
	// A constant 2-D right operand (a weight) is packed for the GEMM once,
	// here, instead of at every call.
	packed := packConst(input(n.Const, 1))
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		if packed != nil && in[1] == packed.src {
			return one(matmulPacked(ec, in[0], packed))
		}
		return one(matmul(ec, in[0], in[1]))
	}), nil
}

func convertGemm(n *Node) (Kernel, error) {
	a := attrsOf(n)
	alpha := a.Float("alpha", 1)
	beta := a.Float("beta", 1)
	transA := a.Bool("transA", false)
	transB := a.Bool("transB", false)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(gemmOp(ec, in[0], in[1], input(in, 2), float64(alpha), float64(beta), transA, transB))
	}), nil
}

// gemm computes alpha·A'·B' + beta·C.
func gemmOp(ec *ExecContext, a, b, c *tensor.Dense, alpha, beta float64, transA, transB bool) (*tensor.Dense, error) {
	if err := sameType(a, b, c); err != nil {
		return nil, err
	}
	if a.Dims() != 2 || b.Dims() != 2 {
		return nil, fmt.Errorf("inputs A and B must be 2-D, got shapes %v and %v", a.Shape(), b.Shape())
	}
	m, k := a.Shape()[0], a.Shape()[1]
	if transA {
		m, k = k, m
	}
	k2, nn := b.Shape()[0], b.Shape()[1]
	if transB {
		k2, nn = nn, k2
	}
	if k != k2 {
		return nil, fmt.Errorf("shapes %v and %v (transA=%v, transB=%v) do not match", a.Shape(), b.Shape(), transA, transB)
	}
	prod := ec.alloc(a.Dtype(), []int{m, nn})
	if err := batchGemm(ec, transA, transB, m, nn, k, a, b, prod, []gemmJob{{}}); err != nil {
		return nil, err
	}
	if alpha == 1 && c == nil {
		return prod, nil
	}
	p, err := toFloat64s(ec, prod)
	if err != nil {
		return nil, err
	}
	for i := range p {
		p[i] *= alpha
	}
	if c != nil {
		bs, err := broadcastShape(c.Shape(), []int{m, nn})
		if err != nil || !sameShape(bs, []int{m, nn}) {
			return nil, fmt.Errorf("input C of shape %v does not broadcast to [%d %d]", c.Shape(), m, nn)
		}
		cv, err := toFloat64s(ec, broadcastTo(ec, c, []int{m, nn}))
		if err != nil {
			return nil, err
		}
		for i := range p {
			p[i] += beta * cv[i]
		}
	}
	return fromFloat64s(ec, a.Dtype(), []int{m, nn}, p)
}

// shapeMatMul is numpy.matmul's shape: 1-D operands promoted and demoted,
// batch dimensions broadcast.
func shapeMatMul(n *Node, in []Type) ([]Type, error) {
	a, b := in[0].Shape, in[1].Shape
	t := Type{DType: in[0].DType}
	if a == nil || b == nil || len(a) == 0 || len(b) == 0 {
		return []Type{t}, nil
	}
	aVec, bVec := len(a) == 1, len(b) == 1
	if aVec {
		a = []Dim{Known(1), a[0]}
	}
	if bVec {
		b = []Dim{b[0], Known(1)}
	}
	if conflict(a[len(a)-1], b[len(b)-2]) {
		return nil, fmt.Errorf("inner dimensions %s and %s differ", a[len(a)-1], b[len(b)-2])
	}
	batch, err := broadcastDims(a[:len(a)-2], b[:len(b)-2])
	if err != nil {
		return nil, err
	}
	out := append(cloneDims(batch), a[len(a)-2], b[len(b)-1])
	switch {
	case aVec && bVec:
		out = batch
	case aVec:
		out = append(cloneDims(batch), b[len(b)-1])
	case bVec:
		out = append(cloneDims(batch), a[len(a)-2])
	}
	t.Shape = out
	return []Type{t}, nil
}

func shapeGemm(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	a, b := in[0].Shape, in[1].Shape
	if len(a) != 2 || len(b) != 2 {
		return []Type{t}, nil
	}
	m, k := a[0], a[1]
	if attrIntOf(n, "transA", 0) != 0 {
		m, k = k, m
	}
	k2, nn := b[0], b[1]
	if attrIntOf(n, "transB", 0) != 0 {
		k2, nn = nn, k2
	}
	if conflict(k, k2) {
		return nil, fmt.Errorf("inner dimensions %s and %s differ", k, k2)
	}
	t.Shape = []Dim{m, nn}
	return []Type{t}, nil
}
