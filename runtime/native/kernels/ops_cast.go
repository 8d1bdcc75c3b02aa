package kernels

// Type conversion.
//
// Cast — https://onnx.ai/onnx/operators/onnx__Cast.html
//   Attribute to (int, TensorProto.DataType, required); from opset 19
//   saturate (int, default 1) and from 21 round_mode (string, default "up"),
//   both accepted but meaningful only for float8 targets, which are not
//   supported. Opsets 6, 9, 13, 19, 21, 23, 24, 25 (new versions add types).
//   Between float32/64, float16, bfloat16, bool and all integer types: floats
//   to integers truncate toward zero, numbers to bool test for nonzero, to
//   float16/bfloat16 rounds to nearest even. Gaps: string, float8, int4,
//   int2, float4 and complex element types (an *UnsupportedError).
// CastLike — https://onnx.ai/onnx/operators/onnx__CastLike.html
//   Inputs input, target_type; casts to target_type's element type. Same
//   attributes from the same opsets. Opsets 15, 19, 21.

import (
	"github.com/xt2onnx/xt2onnx/graph"
	"gorgonia.org/tensor"
)

func registerCast(r *Registry) {
	// 19 adds saturate, 21 round_mode; the other versions add types.
	for _, v := range []int64{6, 19, 21} {
		r.Register(spec("Cast", v, 1, 1, 1, convertCast))
	}
	for _, v := range []int64{15, 19, 21} {
		r.Register(spec("CastLike", v, 2, 2, 1, convertCast))
	}
	r.SetShape("", "Cast", shapeCast)
	r.SetShape("", "CastLike", shapeCast)
}

func convertCast(n *Node) (Kernel, error) {
	a := attrsOf(n)
	like := n.OpType == "CastLike"
	var to tensor.Dtype
	var toErr error
	if !like {
		a.Required("to")
		to, toErr = dtypeFromAttr(a.Int("to", 0))
	}
	if n.Opset >= 19 {
		a.Bool("saturate", true)
	}
	if n.Opset >= 21 {
		mode := a.String("round_mode", "up")
		a.OneOf("round_mode", mode, "up", "down", "nearest")
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	if toErr != nil {
		return nil, toErr
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		target := to
		if like {
			target = in[1].Dtype()
		}
		return one(castDense(ec, in[0], target))
	}, nil
}

// shapeCast keeps the shape and the followed values; the type comes from
// the "to" attribute (Cast) or the second input (CastLike).
func shapeCast(n *Node, in []Type) ([]Type, error) {
	t := Type{Shape: in[0].Shape, Value: in[0].Value}
	if n.OpType == "CastLike" {
		t.DType = in[1].DType
	} else {
		t.DType = graph.DType(attrIntOf(n, "to", 0))
	}
	if t.DType == graph.Float || t.DType == graph.Double || t.DType == graph.Float16 || t.DType == graph.BFloat16 {
		t.Value = nil
	}
	return []Type{t}, nil
}
