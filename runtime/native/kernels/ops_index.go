package kernels

// Indexing operators.
//
// Gather — https://onnx.ai/onnx/operators/onnx__Gather.html
//   Attribute axis (default 0). Inputs data, indices (int32/int64, negative
//   counts from the end). Output data.shape[:axis] + indices.shape +
//   data.shape[axis+1:]. Opsets 1, 11, 13.
// GatherElements — https://onnx.ai/onnx/operators/onnx__GatherElements.html
//   Attribute axis (default 0). Output has the shape of indices. Opsets 11, 13.
// GatherND — https://onnx.ai/onnx/operators/onnx__GatherND.html
//   Attribute batch_dims (default 0; from opset 12). Opsets 11, 12, 13.
//   Out-of-range indices are errors, not undefined behaviour.

import (
	"fmt"

	"gorgonia.org/tensor"
)

func registerIndex(r *Registry) {
	r.Register(spec("Gather", 1, 2, 2, 1, convertGather))
	r.Register(spec("GatherElements", 11, 2, 2, 1, convertGatherElements))
	r.Register(spec("GatherND", 11, 2, 2, 1, convertGatherND))
	r.Register(spec("GatherND", 12, 2, 2, 1, convertGatherND))
	r.SetShape("", "Gather", shapeGather)
	r.SetShape("", "GatherElements", func(n *Node, in []Type) ([]Type, error) {
		return []Type{{DType: in[0].DType, Shape: in[1].Shape}}, nil
	})
}

// indexValues reads an index tensor, mapping negative entries into
// [0, dim).
func indexValues(t *tensor.Dense, dim int) ([]int, error) {
	v, err := int64sOf(t, "indices")
	if err != nil {
		return nil, err
	}
	out := make([]int, len(v))
	for i, x := range v {
		if x < -int64(dim) || x >= int64(dim) {
			return nil, fmt.Errorf("index %d is out of range for a dimension of size %d", x, dim)
		}
		if x < 0 {
			x += int64(dim)
		}
		out[i] = int(x)
	}
	return out, nil
}

func convertGather(n *Node) (Kernel, error) {
	a := attrsOf(n)
	axis := a.Int("axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x, ix := in[0], in[1]
		ax, err := normAxis(axis, x.Dims())
		if err != nil {
			return nil, err
		}
		xs := x.Shape()
		idx, err := indexValues(ix, xs[ax])
		if err != nil {
			return nil, err
		}
		shape := append(append(append([]int{}, xs[:ax]...), ix.Shape()...), xs[ax+1:]...)
		out := ec.alloc(x.Dtype(), shape)
		es := int(x.Dtype().Size())
		outer, inner := numel(xs[:ax]), numel(xs[ax+1:])*es
		src, dst := x.Header.Raw, out.Header.Raw
		o := 0
		for b := 0; b < outer; b++ {
			for _, j := range idx {
				s := (b*xs[ax] + j) * inner
				copy(dst[o:o+inner], src[s:s+inner])
				o += inner
			}
		}
		return []*tensor.Dense{out}, nil
	}, nil
}

func convertGatherElements(n *Node) (Kernel, error) {
	a := attrsOf(n)
	axis := a.Int("axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x, ix := in[0], in[1]
		ax, err := normAxis(axis, x.Dims())
		if err != nil {
			return nil, err
		}
		xs, is := x.Shape(), ix.Shape()
		if len(is) != len(xs) {
			return nil, fmt.Errorf("indices of shape %v must have the rank of data %v", is, xs)
		}
		idx, err := indexValues(ix, xs[ax])
		if err != nil {
			return nil, err
		}
		out := ec.alloc(x.Dtype(), shapeOf(ix))
		es := int(x.Dtype().Size())
		xstr := stridesOf(xs)
		pos := make([]int, len(is))
		src, dst := x.Header.Raw, out.Header.Raw
		for o, j := range idx {
			off := 0
			for d, p := range pos {
				if d == ax {
					p = j
				} else if p >= xs[d] {
					return nil, fmt.Errorf("indices shape %v exceeds data shape %v", is, xs)
				}
				off += p * xstr[d]
			}
			copy(dst[o*es:(o+1)*es], src[off*es:(off+1)*es])
			incr(pos, is)
		}
		return []*tensor.Dense{out}, nil
	}, nil
}

func convertGatherND(n *Node) (Kernel, error) {
	a := attrsOf(n)
	bd := int64(0)
	if n.Opset >= 12 {
		bd = a.Int("batch_dims", 0)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(gatherND(ec, in[0], in[1], int(bd)))
	}, nil
}

func gatherND(ec *ExecContext, x, ix *tensor.Dense, b int) (*tensor.Dense, error) {
	xs, is := x.Shape(), ix.Shape()
	if len(is) < 1 || b < 0 || b >= len(is) || b >= len(xs) {
		return nil, fmt.Errorf("batch_dims %d does not fit data %v and indices %v", b, xs, is)
	}
	for d := 0; d < b; d++ {
		if xs[d] != is[d] {
			return nil, fmt.Errorf("batch dimension %d differs: data %v, indices %v", d, xs, is)
		}
	}
	k := is[len(is)-1]
	if k < 1 || b+k > len(xs) {
		return nil, fmt.Errorf("indices %v index %d dimensions of data %v after %d batch dimensions", is, k, xs, b)
	}
	iv, err := int64sOf(ix, "indices")
	if err != nil {
		return nil, err
	}
	shape := append(append([]int{}, is[:len(is)-1]...), xs[b+k:]...)
	out := ec.alloc(x.Dtype(), shape)
	es := int(x.Dtype().Size())
	slice := numel(xs[b+k:]) * es
	batches := numel(xs[:b])
	perBatch := numel(is[b : len(is)-1])
	xstr := stridesOf(xs)
	batchStride := numel(xs[b:]) * es
	src, dst := x.Header.Raw, out.Header.Raw
	o := 0
	for bi := 0; bi < batches; bi++ {
		for j := 0; j < perBatch; j++ {
			tup := iv[(bi*perBatch+j)*k : (bi*perBatch+j+1)*k]
			off := bi * batchStride
			for d, v := range tup {
				dim := xs[b+d]
				if v < -int64(dim) || v >= int64(dim) {
					return nil, fmt.Errorf("index %d is out of range for dimension %d of size %d", v, b+d, dim)
				}
				if v < 0 {
					v += int64(dim)
				}
				off += int(v) * xstr[b+d] * es
			}
			copy(dst[o:o+slice], src[off:off+slice])
			o += slice
		}
	}
	return out, nil
}

// shapeGather: the data's shape with the axis replaced by the indices'
// shape; values followed for a gather from a followed 1-D tensor (a shape)
// with constant indices.
func shapeGather(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	x, idx := in[0].Shape, in[1].Shape
	if x == nil || idx == nil {
		return []Type{t}, nil
	}
	ax, err := normAxisDim(attrIntOf(n, "axis", 0), len(x))
	if err != nil {
		return nil, err
	}
	t.Shape = append(append(cloneDims(x[:ax]), idx...), x[ax+1:]...)
	if in[0].Value != nil && len(x) == 1 {
		if iv, ok := intsInput(in, 1); ok {
			for _, i := range iv {
				if i < 0 {
					i += int64(len(in[0].Value))
				}
				if i < 0 || i >= int64(len(in[0].Value)) {
					return nil, fmt.Errorf("index %d is out of range for %d elements", i, len(in[0].Value))
				}
				t.Value = append(t.Value, in[0].Value[i])
			}
		}
	}
	return []Type{t}, nil
}
