package kernels

// Quantization.
//
// DequantizeLinear — https://onnx.ai/onnx/operators/onnx__DequantizeLinear.html
//   Inputs x (int8, uint8, int16, uint16, int32; int4 and uint4 initializers
//   arrive unpacked to int8/uint8), x_scale (float32, float16, bfloat16,
//   float64), x_zero_point (optional, x's type). y = (x - zero_point) ·
//   scale, per tensor (scalar scale), per axis (1-D scale along axis,
//   attribute axis, default 1) or, from opset 21, per block (attribute
//   block_size > 0: scale has x's shape with ceil(dim/block_size) along
//   axis). From opset 23, attribute output_dtype (0: the scale's type).
//   Opsets 10, 13, 19, 21, 23. Computed in float64, rounded once to the
//   output type. Gaps: float8 inputs.

import (
	"fmt"

	"github.com/xt2onnx/xt2onnx/graph"
	"gorgonia.org/tensor"
)

func registerQuant(r *Registry) {
	for _, v := range []int64{10, 13, 19, 21, 23} {
		r.Register(spec("DequantizeLinear", v, 2, 3, 1, convertDequantizeLinear))
	}
	r.SetShape("", "DequantizeLinear", shapeDequantizeLinear)
}

func shapeDequantizeLinear(n *Node, in []Type) ([]Type, error) {
	dt := in[1].DType
	if n.Opset >= 23 {
		if v := attrIntOf(n, "output_dtype", 0); v != 0 {
			dt = graph.DType(v)
		}
	}
	return []Type{{DType: dt, Shape: in[0].Shape}}, nil
}

func convertDequantizeLinear(n *Node) (Kernel, error) {
	a := attrsOf(n)
	axis := int64(1)
	if n.Opset >= 13 {
		axis = a.Int("axis", 1)
	}
	block := int64(0)
	if n.Opset >= 21 {
		block = a.Int("block_size", 0)
	}
	var outDT tensor.Dtype
	var outErr error
	if n.Opset >= 23 {
		if v := a.Int("output_dtype", 0); v != 0 {
			outDT, outErr = dtypeFromAttr(v)
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	if outErr != nil {
		return nil, outErr
	}
	if block < 0 {
		return nil, fmt.Errorf("block_size %d is negative", block)
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x, scale, zp := in[0], in[1], input(in, 2)
		switch x.Dtype() {
		case tensor.Int8, tensor.Uint8, tensor.Int16, tensor.Uint16, tensor.Int32:
		default:
			return nil, fmt.Errorf("x must be an integer tensor (int8, uint8, int16, uint16, int32), got %s", dtName(x.Dtype()))
		}
		if !isFloat(scale.Dtype()) {
			return nil, fmt.Errorf("x_scale must be floating-point, got %s", dtName(scale.Dtype()))
		}
		if zp != nil && zp.Dtype() != x.Dtype() {
			return nil, fmt.Errorf("x_zero_point is %s, x is %s: they must match", dtName(zp.Dtype()), dtName(x.Dtype()))
		}
		if zp != nil && !equalInts(zp.Shape(), scale.Shape()) {
			return nil, fmt.Errorf("x_zero_point has shape %v, x_scale %v: they must match", zp.Shape(), scale.Shape())
		}
		sh := shapeOf(x)
		// index maps an element of x to its scale: per tensor, per axis or
		// per block of the axis.
		var ax, dim, inner, sdim int
		sshape := shapeOf(scale)
		perTensor := numel(sshape) == 1 && block == 0
		if !perTensor {
			var err error
			if ax, err = normAxis(axis, max(len(sh), 1)); err != nil {
				return nil, err
			}
			if len(sh) == 0 {
				return nil, fmt.Errorf("a scalar x needs a scalar x_scale, got shape %v", sshape)
			}
			dim, inner = sh[ax], numel(sh[ax+1:])
			if block == 0 {
				if len(sshape) != 1 || sshape[0] != dim {
					return nil, fmt.Errorf("per-axis x_scale must be 1-D of length %d (x's axis %d), got shape %v", dim, ax, sshape)
				}
				sdim = dim
			} else {
				sdim = (dim + int(block) - 1) / int(block)
				want := append(append(append([]int{}, sh[:ax]...), sdim), sh[ax+1:]...)
				if !equalInts(sshape, want) {
					return nil, fmt.Errorf("blocked x_scale must have shape %v (x %v, axis %d, block_size %d), got %v", want, sh, ax, block, sshape)
				}
			}
		}
		xv, err := toFloat64s(ec, x)
		if err != nil {
			return nil, err
		}
		sv, err := toFloat64s(ec, scale)
		if err != nil {
			return nil, err
		}
		var zv []float64
		if zp != nil {
			if zv, err = toFloat64s(ec, zp); err != nil {
				return nil, err
			}
		}
		out := allocSlice[float64](ec, len(xv), "dequantized values")
		for i, q := range xv {
			s := 0
			if !perTensor {
				o, rest := i/(dim*inner), i%(dim*inner)
				d, k := rest/inner, rest%inner
				if block > 0 {
					d /= int(block)
				}
				s = (o*sdim+d)*inner + k
				if block == 0 {
					s = d
				}
			}
			if zv != nil {
				q -= zv[s]
			}
			out[i] = q * sv[s]
		}
		dt := scale.Dtype()
		if outDT != (tensor.Dtype{}) {
			dt = outDT
		}
		return one(fromFloat64s(ec, dt, sh, out))
	}, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
