package kernels

// Activations, Softmax, normalizations and Dropout (inference).
//
// Relu — https://onnx.ai/onnx/operators/onnx__Relu.html
//   Input X, output Y. Opsets 6, 13, 14 (signed integer types).
// LeakyRelu — https://onnx.ai/onnx/operators/onnx__LeakyRelu.html
//   Attribute alpha (float, default 0.01). Opsets 6, 16.
// Sigmoid, Softplus — https://onnx.ai/onnx/operators/onnx__Sigmoid.html (…__Softplus)
//   Input X (float types), output Y. Opsets 6 (Softplus 1), 13. Computed in
//   float64 in the overflow-free forms.
// Gelu — https://onnx.ai/onnx/operators/onnx__Gelu.html
//   Attribute approximate (string, "none" or "tanh"; default "none"). Opset 20.
// Softmax — https://onnx.ai/onnx/operators/onnx__Softmax.html
//   Attribute axis. Opsets 1 and 11 (default axis 1; the input is coerced to 2-D
//   [prod(dims[:axis]), prod(dims[axis:])] and each row normalized) and 13
//   (default axis -1; normalized along that one axis). The row maximum is
//   subtracted before exponentiation; sums accumulate in float64.
// LayerNormalization — https://onnx.ai/onnx/operators/onnx__LayerNormalization.html
//   Attributes axis (default -1), epsilon (default 1e-5), stash_type (only 1,
//   float32). Inputs X, Scale, B (optional), broadcast to X.shape[axis:].
//   Outputs Y, Mean and InvStdDev (optional, float32, shape X.shape[:axis]
//   followed by ones). Opset 17. Statistics are computed in float64.
// RMSNormalization — https://onnx.ai/onnx/operators/onnx__RMSNormalization.html
//   Attributes axis (default -1), epsilon (default 1e-5), stash_type (only 1).
//   Inputs X, scale; output Y. Opset 23.
// Dropout — https://onnx.ai/onnx/operators/onnx__Dropout.html
//   Inference only: Y = X, mask all true. Opset 7 (attribute ratio; mask of
//   X's type), 10 (bool mask), 12 and 13 (inputs ratio, training_mode; attribute
//   seed). Gap: training_mode true with a nonzero ratio is an error (random).

import (
	"fmt"
	"math"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/vecmath"
	"gorgonia.org/tensor"
)

func registerNN(r *Registry) {
	r.Register(spec("Relu", 6, 1, 1, 1, convertNumeric("Relu")))
	r.Register(spec("LeakyRelu", 6, 1, 1, 1, convertLeakyRelu))
	r.Register(spec("Sigmoid", 6, 1, 1, 1, convertFloatMap("Sigmoid", sigmoid)))
	r.Register(spec("Softplus", 1, 1, 1, 1, convertFloatMap("Softplus", softplus)))
	r.Register(spec("Gelu", 20, 1, 1, 1, convertGelu))
	r.Register(spec("Softmax", 1, 1, 1, 1, convertSoftmax))
	r.Register(spec("Softmax", 13, 1, 1, 1, convertSoftmax))
	r.Register(spec("LayerNormalization", 17, 2, 3, 3, convertLayerNorm))
	r.Register(spec("RMSNormalization", 23, 2, 2, 1, convertRMSNorm))
	r.Register(spec("Dropout", 7, 1, 1, 2, convertDropout))
	r.Register(spec("Dropout", 10, 1, 1, 2, convertDropout))
	r.Register(spec("Dropout", 12, 1, 3, 2, convertDropout))
	for _, op := range []string{"Relu", "LeakyRelu", "Sigmoid", "Softplus", "Gelu", "Softmax", "RMSNormalization"} {
		r.SetShape("", op, sameAsInput)
	}
	r.SetShape("", "LayerNormalization", shapeLayerNorm)
	r.SetShape("", "Dropout", shapeDropout)
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

func convertLeakyRelu(n *Node) (Kernel, error) {
	a := attrsOf(n)
	alpha := float64(a.Float("alpha", 0.01))
	if err := a.Err(); err != nil {
		return nil, err
	}
	return floatMapKernel("LeakyRelu", func(x float64) float64 {
		if x < 0 {
			return alpha * x
		}
		return x
	}), nil
}

func convertGelu(n *Node) (Kernel, error) {
	a := attrsOf(n)
	approx := a.String("approximate", "none")
	a.OneOf("approximate", approx, "none", "tanh")
	if err := a.Err(); err != nil {
		return nil, err
	}
	f := func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	if approx == "tanh" {
		c := math.Sqrt(2 / math.Pi)
		f = func(x float64) float64 { return 0.5 * x * (1 + math.Tanh(c*(x+0.044715*x*x*x))) }
	}
	return floatMapKernel("Gelu", f), nil
}

func convertSoftmax(n *Node) (Kernel, error) {
	a := attrsOf(n)
	def := int64(-1)
	if n.Opset < 13 {
		def = 1
	}
	axis := a.Int("axis", def)
	if err := a.Err(); err != nil {
		return nil, err
	}
	coerce := n.Opset < 13
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		ax, err := normAxis(axis, max(x.Dims(), 1))
		if err != nil {
			return nil, err
		}
		sh := x.Shape()
		if x.Dims() == 0 {
			sh = []int{1}
		}
		outer, n, inner := numel(sh[:ax]), sh[ax], numel(sh[ax+1:])
		if coerce {
			n, inner = numel(sh[ax:]), 1
		}
		return one(softmax(ec, x, outer, n, inner))
	}), nil
}

// softmax normalizes x along a dimension of length n, between outer and
// inner dimensions.
func softmax(ec *ExecContext, x *tensor.Dense, outer, n, inner int) (*tensor.Dense, error) {
	out := ec.alloc(x.Dtype(), shapeOf(x))
	switch x.Dtype() {
	case tensor.Float32:
		softmaxT(ec, view[float32](x), view[float32](out), outer, n, inner)
	case tensor.Float64:
		softmaxT(ec, view[float64](x), view[float64](out), outer, n, inner)
	default:
		return nil, fmt.Errorf("input must be floating-point, got %s", dtName(x.Dtype()))
	}
	return out, nil
}

func softmaxT[T floating](ec *ExecContext, x, out []T, outer, n, inner int) {
	if n == 0 {
		return
	}
	rows := outer * inner
	const chunk = 64
	ec.parallel((rows+chunk-1)/chunk, chunk*n*8, func(c int) {
		e := allocSlice[float64](ec, n, "softmax row")
		for r := c * chunk; r < min(rows, (c+1)*chunk); r++ {
			if inner == 1 {
				softmaxRow(x[r*n:(r+1)*n], out[r*n:(r+1)*n], e)
				continue
			}
			o, i := r/inner, r%inner
			base := o*n*inner + i
			m := math.Inf(-1)
			for j := 0; j < n; j++ {
				if v := float64(x[base+j*inner]); v > m {
					m = v
				}
			}
			if math.IsInf(m, -1) {
				// Every entry is -Inf: subtracting would give NaN; let
				// exp(-Inf - -Inf) produce NaN like the reference.
				m = 0
			}
			sum := 0.0
			for j := 0; j < n; j++ {
				e[j] = math.Exp(float64(x[base+j*inner]) - m)
				sum += e[j]
			}
			for j := 0; j < n; j++ {
				out[base+j*inner] = T(e[j] / sum)
			}
		}
	})
}

// normAttrs reads the attributes LayerNormalization and RMSNormalization
// share.
func normAttrs(n *Node) (axis int64, eps float64, err error) {
	a := attrsOf(n)
	axis = a.Int("axis", -1)
	eps = float64(a.Float("epsilon", 1e-5))
	stash := a.Int("stash_type", 1)
	if err := a.Err(); err != nil {
		return 0, 0, err
	}
	if stash != 1 {
		return 0, 0, fmt.Errorf("stash_type %d is not supported (only 1, float32)", stash)
	}
	return axis, eps, nil
}

func convertLayerNorm(n *Node) (Kernel, error) {
	axis, eps, err := normAttrs(n)
	if err != nil {
		return nil, err
	}
	wantStats := wants(n, 1) || wants(n, 2)
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return normalize(ec, in[0], in[1], input(in, 2), axis, eps, false, wantStats)
	}, nil
}

func convertRMSNorm(n *Node) (Kernel, error) {
	axis, eps, err := normAttrs(n)
	if err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return normalize(ec, in[0], in[1], nil, axis, eps, true, false)
	}, nil
}

// normalize computes layer normalization (or RMS normalization when rms)
// of x over the dimensions from axis on, then scales and shifts. It
// returns Y and, when stats, the float32 mean and inverse deviation.
func normalize(ec *ExecContext, x, scale, bias *tensor.Dense, axis int64, eps float64, rms, stats bool) ([]*tensor.Dense, error) {
	half := x.Dtype()
	if half != Float16Dtype && half != BFloat16Dtype {
		half = tensor.Dtype{}
	}
	var err error
	for _, t := range []**tensor.Dense{&x, &scale, &bias} {
		if *t != nil && ((*t).Dtype() == Float16Dtype || (*t).Dtype() == BFloat16Dtype) {
			if *t, err = castDense(ec, *t, tensor.Float32); err != nil {
				return nil, err
			}
		}
	}
	if err := sameType(x, scale, bias); err != nil {
		return nil, err
	}
	if !isFloat(x.Dtype()) {
		return nil, fmt.Errorf("normalization needs a floating-point input, got %s", dtName(x.Dtype()))
	}
	ax, err := normAxis(axis, x.Dims())
	if err != nil {
		return nil, err
	}
	sh := shapeOf(x)
	norm := sh[ax:]
	for _, p := range []*tensor.Dense{scale, bias} {
		if p == nil {
			continue
		}
		if b, err := broadcastShape(p.Shape(), sh); err != nil || !sameShape(b, sh) {
			return nil, fmt.Errorf("scale/bias of shape %v does not broadcast to input shape %v", p.Shape(), sh)
		}
	}
	rows, cols := numel(sh[:ax]), numel(norm)
	if !stats && half == (tensor.Dtype{}) && x.Dtype() == tensor.Float32 &&
		numel(scale.Shape()) == cols && (bias == nil || numel(bias.Shape()) == cols) {
		return []*tensor.Dense{normalizeF32(ec, x, scale, bias, rows, cols, eps, rms)}, nil
	}
	xv, err := toFloat64s(ec, x)
	if err != nil {
		return nil, err
	}
	y := make([]float64, len(xv))
	mean := allocSlice[float32](ec, rows, "normalization means")
	inv := allocSlice[float32](ec, rows, "normalization scales")
	for r := 0; r < rows; r++ {
		row := xv[r*cols : (r+1)*cols]
		m := 0.0
		if !rms {
			for _, v := range row {
				m += v
			}
			m /= float64(cols)
		}
		vr := 0.0
		for _, v := range row {
			vr += (v - m) * (v - m)
		}
		vr /= float64(cols)
		is := 1 / math.Sqrt(vr+eps)
		for j, v := range row {
			y[r*cols+j] = (v - m) * is
		}
		mean[r], inv[r] = float32(m), float32(is)
	}
	// Scale and shift: a fast path for parameters of the normalized shape,
	// general broadcasting otherwise.
	fast := numel(scale.Shape()) == cols && (bias == nil || numel(bias.Shape()) == cols)
	var out *tensor.Dense
	if fast {
		sv, err := toFloat64s(ec, scale)
		if err != nil {
			return nil, err
		}
		var bv []float64
		if bias != nil {
			if bv, err = toFloat64s(ec, bias); err != nil {
				return nil, err
			}
		}
		for r := 0; r < rows; r++ {
			for j := 0; j < cols; j++ {
				v := y[r*cols+j] * sv[j]
				if bv != nil {
					v += bv[j]
				}
				y[r*cols+j] = v
			}
		}
		if out, err = fromFloat64s(ec, x.Dtype(), sh, y); err != nil {
			return nil, err
		}
	} else {
		yt, err := fromFloat64s(ec, x.Dtype(), sh, y)
		if err != nil {
			return nil, err
		}
		if out, err = arith(ec, "Mul", yt, scale); err != nil {
			return nil, err
		}
		if bias != nil {
			if out, err = arith(ec, "Add", out, bias); err != nil {
				return nil, err
			}
		}
	}
	if half != (tensor.Dtype{}) {
		if out, err = castDense(ec, out, half); err != nil {
			return nil, err
		}
	}
	if !stats {
		return []*tensor.Dense{out}, nil
	}
	statShape := append([]int{}, sh[:ax]...)
	for range norm {
		statShape = append(statShape, 1)
	}
	return []*tensor.Dense{out, fromSlice(statShape, mean), fromSlice(statShape, inv)}, nil
}

// normalizeF32 is normalize's float32 path for a scale and bias of the
// normalized shape: the same float64 arithmetic per element, row by row
// over the workers, without float64 copies of the tensors.
// sqDev is Σ (row[j] − m)² in float64, in four independent sums so that
// the additions overlap instead of waiting on each other.
func sqDev(row []float32, m float64) float64 {
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(row); j += 4 {
		d0, d1 := float64(row[j])-m, float64(row[j+1])-m
		d2, d3 := float64(row[j+2])-m, float64(row[j+3])-m
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; j < len(row); j++ {
		d := float64(row[j]) - m
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

func normalizeF32(ec *ExecContext, x, scale, bias *tensor.Dense, rows, cols int, eps float64, rms bool) *tensor.Dense {
	out := ec.allocUninit(tensor.Float32, shapeOf(x))
	xs, os, sv := view[float32](x), view[float32](out), view[float32](scale)
	var bv []float32
	if bias != nil {
		bv = view[float32](bias)
	}
	per := max(1, 8192/max(cols, 1))
	ec.parallel((rows+per-1)/per, per*cols*4, func(t int) {
		for r := t * per; r < min(rows, (t+1)*per); r++ {
			row, o := xs[r*cols:(r+1)*cols], os[r*cols:(r+1)*cols]
			m := 0.0
			if !rms {
				m = vecmath.Sum64(row) / float64(cols)
			}
			vr := sqDev(row, m) / float64(cols)
			is := 1 / math.Sqrt(vr+eps)
			if bv != nil {
				for j, v := range row {
					o[j] = float32((float64(v)-m)*is*float64(sv[j]) + float64(bv[j]))
				}
			} else {
				for j, v := range row {
					o[j] = float32((float64(v) - m) * is * float64(sv[j]))
				}
			}
		}
	})
	return out
}

func convertDropout(n *Node) (Kernel, error) {
	a := attrsOf(n)
	if n.Opset < 12 {
		a.Float("ratio", 0.5) // matters only in training
	} else {
		a.Int("seed", 0)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	boolMask := n.Opset >= 10
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		if tm := input(in, 2); tm != nil {
			if tm.Dtype() != tensor.Bool || numel(tm.Shape()) != 1 {
				return nil, fmt.Errorf("training_mode must be a bool scalar, got %s %v", dtName(tm.Dtype()), tm.Shape())
			}
			if view[bool](tm)[0] {
				r := 0.5
				if rt := input(in, 1); rt != nil {
					v, err := toFloat64s(ec, rt)
					if err != nil || len(v) != 1 {
						return nil, fmt.Errorf("ratio must be a scalar")
					}
					r = v[0]
				}
				if r != 0 {
					return nil, fmt.Errorf("training mode with ratio %g is not supported (random dropout)", r)
				}
			}
		}
		var mask *tensor.Dense
		if boolMask {
			mask = ec.alloc(tensor.Bool, shapeOf(x))
			for i := range view[bool](mask) {
				view[bool](mask)[i] = true
			}
		} else {
			ones := allocSlice[float64](ec, shapeElems(x.Shape()), "dropout mask")
			for i := range ones {
				ones[i] = 1
			}
			var err error
			if mask, err = fromFloat64s(ec, x.Dtype(), shapeOf(x), ones); err != nil {
				return nil, err
			}
		}
		return []*tensor.Dense{cloneDense(ec, x), mask}, nil
	}, nil
}

// softmaxRow normalizes one contiguous row, using e as scratch (float64
// rows only: float32 rows run vecmath.SoftmaxRow, which computes in
// float64 lanes and is within 1 ulp of this loop).
func softmaxRow[T floating](x, out []T, e []float64) {
	if x32, ok := any(x).([]float32); ok {
		vecmath.SoftmaxRow(any(out).([]float32), x32)
		return
	}
	// Convert first: the exp loop then has no float32→float64 conversion,
	// whose false register dependency would chain its iterations.
	for j, v := range x {
		e[j] = float64(v)
	}
	m := math.Inf(-1)
	for _, v := range e[:len(x)] {
		m = max(m, v)
	}
	if math.IsInf(m, -1) {
		m = 0
	}
	sum := 0.0
	for j := range x {
		v := expFast(e[j] - m)
		e[j] = v
		sum += v
	}
	inv := 1 / sum
	for j := range out {
		out[j] = T(e[j] * inv)
	}
}

// shapeLayerNorm: Y like X; Mean and InvStdDev keep the leading dims and
// put 1 in the normalized ones.
func shapeLayerNorm(n *Node, in []Type) ([]Type, error) {
	out := []Type{{DType: in[0].DType, Shape: in[0].Shape}}
	for k := 1; k < len(n.Outputs); k++ {
		t := Type{DType: graph.Float}
		if x := in[0].Shape; x != nil {
			if ax, err := normAxisDim(attrIntOf(n, "axis", -1), len(x)); err == nil {
				t.Shape = cloneDims(x)
				for i := ax; i < len(x); i++ {
					t.Shape[i] = Known(1)
				}
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func shapeDropout(n *Node, in []Type) ([]Type, error) {
	out := []Type{{DType: in[0].DType, Shape: in[0].Shape}}
	if len(n.Outputs) > 1 {
		out = append(out, Type{DType: graph.Bool, Shape: in[0].Shape})
	}
	return out, nil
}
