package kernels

// Reductions, ArgMax/ArgMin and TopK.
//
// ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceSumSquare, ReduceLogSumExp —
//   https://onnx.ai/onnx/operators/onnx__ReduceMean.html (…__ReduceSum, …)
//   Attributes keepdims (default 1); from the version where axes became an
//   input (ReduceSum 13, the others 18) noop_with_empty_axes (default 0).
//   Axes: attribute before that version, optional int64 input from it; none
//   (or empty without noop) reduces every axis. Opsets 1, 11, 13 (ReduceSum:
//   axes input), 18 (the others: axes input), 20 (ReduceMax/ReduceMin: bool).
//   Computed in float64 and stored in the input type. Empty reductions give
//   the identity: 0 (Sum, L1, L2, SumSquare), 1 (Prod), -Inf/+Inf (Max/Min),
//   NaN (Mean), -Inf (LogSumExp).
// ArgMax, ArgMin — https://onnx.ai/onnx/operators/onnx__ArgMax.html
//   Attributes axis (default 0), keepdims (default 1), select_last_index
//   (default 0; from opset 12). Output int64. Opsets 1, 11, 12, 13.
// TopK — https://onnx.ai/onnx/operators/onnx__TopK.html
//   Opset 1: attribute k. Opset 10: input K (int64 [1]). Opset 11 and 24:
//   attributes largest (default 1), sorted (default 1), axis (default -1).
//   Outputs Values, Indices (int64). Ties keep the lower index first, as ONNX
//   specifies; results are always sorted (sorted=0 leaves order unspecified).

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/xt2onnx/xt2onnx/graph"
	"gorgonia.org/tensor"
)

func registerReduce(r *Registry) {
	for _, op := range []string{"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"} {
		r.Register(spec(op, 1, 1, 1, 1, convertReduce(op)))
		inputFrom := int64(18)
		if op == "ReduceSum" {
			inputFrom = 13
		}
		r.Register(spec(op, inputFrom, 1, 2, 1, convertReduce(op)))
		if op == "ReduceMax" || op == "ReduceMin" {
			r.Register(spec(op, 20, 1, 2, 1, convertReduce(op)))
		}
	}
	for _, op := range []string{"ArgMax", "ArgMin"} {
		r.Register(spec(op, 1, 1, 1, 1, convertArg(op)))
		r.Register(spec(op, 12, 1, 1, 1, convertArg(op)))
	}
	r.Register(spec("TopK", 1, 1, 1, 2, convertTopK))
	r.Register(spec("TopK", 10, 2, 2, 2, convertTopK))
	r.Register(spec("TopK", 11, 2, 2, 2, convertTopK))
	for _, op := range []string{"ReduceL1", "ReduceL2", "ReduceLogSumExp", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare"} {
		r.SetShape("", op, shapeReduce(false))
	}
	r.SetShape("", "ArgMax", shapeReduce(true))
	r.SetShape("", "ArgMin", shapeReduce(true))
}

func convertReduce(op string) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		a := attrsOf(n)
		keep := a.Bool("keepdims", true)
		inputFrom := int64(18)
		if op == "ReduceSum" {
			inputFrom = 13
		}
		noop := false
		if n.Opset >= inputFrom {
			noop = a.Bool("noop_with_empty_axes", false)
		}
		axesOf := axesFrom(n, a, inputFrom)
		if err := a.Err(); err != nil {
			return nil, err
		}
		return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			x := in[0]
			axes, _, err := axesOf(in, 1)
			if err != nil {
				return nil, err
			}
			if len(axes) == 0 && noop {
				return []*tensor.Dense{cloneDense(ec, x)}, nil
			}
			return one(reduce(ec, op, x, axes, keep))
		}), nil
	}
}

// reduce reduces x over axes (all when empty).
func reduce(ec *ExecContext, op string, x *tensor.Dense, axes []int64, keep bool) (*tensor.Dense, error) {
	if x.Dtype() == tensor.Bool && op != "ReduceMax" && op != "ReduceMin" {
		return nil, fmt.Errorf("%s does not support bool inputs", op)
	}
	xs := x.Shape()
	r := len(xs)
	red := make([]bool, r)
	if len(axes) == 0 {
		for i := range red {
			red[i] = true
		}
	} else {
		ax, err := normAxes(axes, r)
		if err != nil {
			return nil, err
		}
		for _, d := range ax {
			red[d] = true
		}
	}
	var outShape, keptShape []int
	for d := 0; d < r; d++ {
		if red[d] {
			keptShape = append(keptShape, 1)
			if keep {
				outShape = append(outShape, 1)
			}
		} else {
			keptShape = append(keptShape, xs[d])
			outShape = append(outShape, xs[d])
		}
	}
	if outShape == nil {
		outShape = []int{}
	}
	// Stride of each input dimension in the output (0 where reduced).
	kstr := stridesOf(keptShape)
	ostr := make([]int, r)
	for d := range ostr {
		if !red[d] {
			ostr[d] = kstr[d]
		}
	}
	v, err := toFloat64s(ec, x)
	if err != nil {
		return nil, err
	}
	nOut := numel(keptShape)
	acc := allocSlice[float64](ec, nOut, "reduction accumulator")
	count := numel(xs) / max(nOut, 1)
	if nOut == 0 {
		count = 0
	}
	var init float64
	switch op {
	case "ReduceProd":
		init = 1
	case "ReduceMax", "ReduceLogSumExp":
		init = math.Inf(-1)
	case "ReduceMin":
		init = math.Inf(1)
	}
	for i := range acc {
		acc[i] = init
	}
	// walk visits every input element with its output offset.
	walk := func(f func(o int, v float64)) {
		idx := make([]int, r)
		o := 0
		for _, val := range v {
			f(o, val)
			for d := r - 1; d >= 0; d-- {
				idx[d]++
				o += ostr[d]
				if idx[d] < xs[d] {
					break
				}
				o -= ostr[d] * xs[d]
				idx[d] = 0
			}
		}
	}
	switch op {
	case "ReduceSum", "ReduceMean":
		walk(func(o int, v float64) { acc[o] += v })
	case "ReduceProd":
		walk(func(o int, v float64) { acc[o] *= v })
	case "ReduceL1":
		walk(func(o int, v float64) { acc[o] += math.Abs(v) })
	case "ReduceL2", "ReduceSumSquare":
		walk(func(o int, v float64) { acc[o] += v * v })
	case "ReduceMax", "ReduceLogSumExp":
		walk(func(o int, v float64) {
			if v > acc[o] || v != v {
				acc[o] = v
			}
		})
	case "ReduceMin":
		walk(func(o int, v float64) {
			if v < acc[o] || v != v {
				acc[o] = v
			}
		})
	}
	switch op {
	case "ReduceMean":
		for i := range acc {
			acc[i] /= float64(count)
		}
	case "ReduceL2":
		for i := range acc {
			acc[i] = math.Sqrt(acc[i])
		}
	case "ReduceLogSumExp":
		m := append([]float64{}, acc...)
		for i := range acc {
			acc[i] = 0
		}
		walk(func(o int, v float64) {
			if !math.IsInf(m[o], -1) {
				acc[o] += math.Exp(v - m[o])
			}
		})
		for i := range acc {
			if math.IsInf(m[i], -1) {
				acc[i] = m[i]
			} else {
				acc[i] = m[i] + math.Log(acc[i])
			}
		}
	}
	if isInt(x.Dtype()) && (op == "ReduceMax" || op == "ReduceMin") && count == 0 {
		return nil, fmt.Errorf("%s of an empty set of integers has no value", op)
	}
	return fromFloat64s(ec, x.Dtype(), outShape, acc)
}

func convertArg(op string) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		a := attrsOf(n)
		axis := a.Int("axis", 0)
		keep := a.Bool("keepdims", true)
		last := false
		if n.Opset >= 12 {
			last = a.Bool("select_last_index", false)
		}
		if err := a.Err(); err != nil {
			return nil, err
		}
		return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			x := in[0]
			ax, err := normAxis(axis, x.Dims())
			if err != nil {
				return nil, err
			}
			v, err := toFloat64s(ec, x)
			if err != nil {
				return nil, err
			}
			xs := x.Shape()
			outer, dim, inner := numel(xs[:ax]), xs[ax], numel(xs[ax+1:])
			if dim == 0 {
				return nil, fmt.Errorf("%s over an empty axis", op)
			}
			res := allocSlice[int64](ec, mulElems(outer, inner), "arg reduction result")
			for o := 0; o < outer; o++ {
				for i := 0; i < inner; i++ {
					best := 0
					bv := v[o*dim*inner+i]
					for j := 1; j < dim; j++ {
						c := v[(o*dim+j)*inner+i]
						better := c > bv
						if op == "ArgMin" {
							better = c < bv
						}
						if better || (last && c == bv) {
							best, bv = j, c
						}
					}
					res[o*inner+i] = int64(best)
				}
			}
			shape := append([]int{}, xs[:ax]...)
			if keep {
				shape = append(shape, 1)
			}
			shape = append(shape, xs[ax+1:]...)
			return []*tensor.Dense{fromSlice(shape, res)}, nil
		}), nil
	}
}

func convertTopK(n *Node) (Kernel, error) {
	a := attrsOf(n)
	axis := a.Int("axis", -1)
	var attrK int64
	if n.Opset < 10 {
		a.Required("k")
		attrK = a.Int("k", 0)
	}
	largest, sorted := true, true
	if n.Opset >= 11 {
		largest = a.Bool("largest", true)
		sorted = a.Bool("sorted", true)
	}
	_ = sorted // results are always sorted, which sorted=0 allows
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		k := attrK
		if n.Opset >= 10 {
			var err error
			if k, err = scalarInt64(in[1], "K"); err != nil {
				return nil, err
			}
		}
		ax, err := normAxis(axis, x.Dims())
		if err != nil {
			return nil, err
		}
		if k < 0 || k > int64(x.Shape()[ax]) {
			return nil, fmt.Errorf("k %d is out of range for axis %d of shape %v", k, ax, x.Shape())
		}
		switch x.Dtype() {
		case tensor.Float32:
			return topK[float32](ec, x, ax, int(k), largest), nil
		case tensor.Float64:
			return topK[float64](ec, x, ax, int(k), largest), nil
		case tensor.Int64:
			return topK[int64](ec, x, ax, int(k), largest), nil
		case tensor.Int32:
			return topK[int32](ec, x, ax, int(k), largest), nil
		case tensor.Int16:
			return topK[int16](ec, x, ax, int(k), largest), nil
		case tensor.Int8:
			return topK[int8](ec, x, ax, int(k), largest), nil
		case tensor.Uint64:
			return topK[uint64](ec, x, ax, int(k), largest), nil
		case tensor.Uint32:
			return topK[uint32](ec, x, ax, int(k), largest), nil
		case tensor.Uint16:
			return topK[uint16](ec, x, ax, int(k), largest), nil
		case tensor.Uint8:
			return topK[uint8](ec, x, ax, int(k), largest), nil
		case Float16Dtype, BFloat16Dtype:
			f, err := castDense(ec, x, tensor.Float32)
			if err != nil {
				return nil, err
			}
			res := topK[float32](ec, f, ax, int(k), largest)
			if res[0], err = castDense(ec, res[0], x.Dtype()); err != nil {
				return nil, err
			}
			return res, nil
		}
		return nil, fmt.Errorf("TopK does not support element type %s", dtName(x.Dtype()))
	}, nil
}

// topK returns the k largest (or smallest) values along axis and their
// indices, ties ordered by lower index.
func topK[T numeric](ec *ExecContext, x *tensor.Dense, axis, k int, largest bool) []*tensor.Dense {
	xs := x.Shape()
	outer, dim, inner := numel(xs[:axis]), xs[axis], numel(xs[axis+1:])
	shape := shapeOf(x)
	shape[axis] = k
	vals := ec.alloc(x.Dtype(), shape)
	idxs := allocSlice[int64](ec, shapeElems(shape), "TopK indices")
	src, dst := view[T](x), view[T](vals)
	order := allocSlice[int](ec, dim, "TopK order")
	for o := 0; o < outer; o++ {
		for i := 0; i < inner; i++ {
			at := func(j int) T { return src[(o*dim+j)*inner+i] }
			for j := range order {
				order[j] = j
			}
			slices.SortStableFunc(order, func(p, q int) int {
				c := cmp.Compare(at(p), at(q))
				if largest {
					c = -c
				}
				return c
			})
			for j := 0; j < k; j++ {
				dst[(o*k+j)*inner+i] = at(order[j])
				idxs[(o*k+j)*inner+i] = int64(order[j])
			}
		}
	}
	return []*tensor.Dense{vals, fromSlice(shape, idxs)}
}

// shapeReduce: the reduced axes become 1 (keepdims) or go; arg reductions
// are int64 over one axis.
func shapeReduce(arg bool) ShapeFunc {
	return func(n *Node, in []Type) ([]Type, error) {
		t := Type{DType: in[0].DType}
		if arg {
			t.DType = graph.Int64
		}
		x := in[0].Shape
		if x == nil {
			return []Type{t}, nil
		}
		var axes []int64
		ok := true
		if arg {
			axes = []int64{attrIntOf(n, "axis", 0)}
		} else {
			axes, ok = axesOf(n, in, 1)
			if !ok && len(n.Inputs)-n.Implicit > 1 && n.Inputs[1] != "" {
				return []Type{t}, nil
			}
		}
		keep := attrIntOf(n, "keepdims", 1) != 0
		red := make([]bool, len(x))
		if len(axes) == 0 {
			if attrIntOf(n, "noop_with_empty_axes", 0) != 0 {
				t.Shape = x
				return []Type{t}, nil
			}
			for i := range red {
				red[i] = true
			}
		}
		for _, a := range axes {
			ax, err := normAxisDim(a, len(x))
			if err != nil {
				return nil, err
			}
			red[ax] = true
		}
		t.Shape = []Dim{}
		for i, d := range x {
			switch {
			case !red[i]:
				t.Shape = append(t.Shape, d)
			case keep:
				t.Shape = append(t.Shape, Known(1))
			}
		}
		return []Type{t}, nil
	}
}
