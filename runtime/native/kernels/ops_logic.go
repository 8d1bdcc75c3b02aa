package kernels

// Logical operators, comparisons and Where.
//
// And, Or, Xor — https://onnx.ai/onnx/operators/onnx__And.html (…__Or, __Xor)
//   Inputs A, B (bool), multidirectional broadcasting; output bool. Opset 7
//   (versions 1 and 6 with the broadcast attribute are not implemented).
// Not — https://onnx.ai/onnx/operators/onnx__Not.html — bool. Opset 1.
// Equal, Less, Greater, LessOrEqual, GreaterOrEqual —
//   https://onnx.ai/onnx/operators/onnx__Equal.html (…__Less, …)
//   Inputs A, B of one number type (Equal also bool), broadcasting; output
//   bool. Opsets 7 (Equal 11, 13, 19; Less/Greater 9, 13), 12 and 16 for
//   LessOrEqual/GreaterOrEqual. Gap: string inputs (Equal-19).
// Where — https://onnx.ai/onnx/operators/onnx__Where.html
//   Inputs condition (bool), X, Y (one type, any), three-way broadcasting.
//   Opsets 9, 16.

import (
	"fmt"

	"gorgonia.org/tensor"
)

func registerLogic(r *Registry) {
	for _, op := range []string{"And", "Or", "Xor"} {
		r.Register(spec(op, 7, 2, 2, 1, kernelOf(func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error) {
			return logical(ec, op, in[0], in[1])
		})))
	}
	r.Register(spec("Not", 1, 1, 1, 1, kernelOf(func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error) {
		x := in[0]
		if x.Dtype() != tensor.Bool {
			return nil, fmt.Errorf("input must be bool, got %s", dtName(x.Dtype()))
		}
		out := ec.alloc(tensor.Bool, shapeOf(x))
		d := view[bool](out)
		for i, v := range view[bool](x) {
			d[i] = !v
		}
		return out, nil
	})))
	cmps := []struct {
		op    string
		since int64
	}{{"Equal", 7}, {"Less", 7}, {"Greater", 7}, {"LessOrEqual", 12}, {"GreaterOrEqual", 12}}
	for _, c := range cmps {
		r.Register(spec(c.op, c.since, 2, 2, 1, convertCompare(c.op)))
	}
	r.Register(spec("Where", 9, 3, 3, 1, kernelOf(func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error) {
		return where(ec, in[0], in[1], in[2])
	})))
	for _, op := range []string{"And", "Or", "Xor", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"} {
		r.SetShape("", op, broadcastRule(true))
	}
	r.SetShape("", "Not", sameAsInput)
	r.SetShape("", "Where", shapeWhere)
}

func convertCompare(op string) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		if err := noAttrs(n); err != nil {
			return nil, err
		}
		return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			return one(compare(ec, op, in[0], in[1]))
		}), nil
	}
}

func shapeWhere(n *Node, in []Type) ([]Type, error) {
	s, err := broadcastDims(in[0].Shape, in[1].Shape, in[2].Shape)
	if err != nil {
		return nil, err
	}
	return []Type{{DType: in[1].DType, Shape: s}}, nil
}
