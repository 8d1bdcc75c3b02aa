package kernels

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

func TestReduceOps(t *testing.T) {
	x := f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	noKeep := []graph.Attr{graph.AInt("keepdims", 0)}
	runCases(t, []opCase{
		{name: "ReduceSum/axes input", op: "ReduceSum", opset: 13, in: []*tensor.Dense{x, i64(nil, 1)},
			want: []*tensor.Dense{f32([]int{2, 1}, 6, 15)}},
		{name: "ReduceSum/all, no keepdims", op: "ReduceSum", opset: 13, attrs: noKeep, in: []*tensor.Dense{x}, want: []*tensor.Dense{f32(sc, 21)}},
		{name: "ReduceSum/noop", op: "ReduceSum", opset: 13, attrs: []graph.Attr{graph.AInt("noop_with_empty_axes", 1)},
			in: []*tensor.Dense{x, i64(nil)}, want: []*tensor.Dense{x}},
		{name: "ReduceSum/attribute axes", op: "ReduceSum", opset: 11, attrs: []graph.Attr{graph.AInts("axes", 0)},
			in: []*tensor.Dense{i64([]int{2, 2}, 1, 2, 3, 4)}, want: []*tensor.Dense{i64([]int{1, 2}, 4, 6)}},
		{name: "ReduceSum/empty set", op: "ReduceSum", opset: 13, in: []*tensor.Dense{f32([]int{2, 0}), i64(nil, 1)},
			want: []*tensor.Dense{f32([]int{2, 1}, 0, 0)}},
		{name: "ReduceMean/opset 18", op: "ReduceMean", opset: 18, attrs: noKeep, in: []*tensor.Dense{x, i64(nil, -2)},
			want: []*tensor.Dense{f32(nil, 2.5, 3.5, 4.5)}},
		{name: "ReduceMean/opset 17 attribute", op: "ReduceMean", opset: 17, attrs: []graph.Attr{graph.AInts("axes", -1)},
			in: []*tensor.Dense{x}, want: []*tensor.Dense{f32([]int{2, 1}, 2, 5)}},
		{name: "ReduceMean/axes input before 18", op: "ReduceMean", opset: 17, in: []*tensor.Dense{x, i64(nil, 1)}, err: "takes at most 1"},
		{name: "ReduceMax", op: "ReduceMax", opset: 18, in: []*tensor.Dense{x, i64(nil, 0)}, want: []*tensor.Dense{f32([]int{1, 3}, 4, 5, 6)}},
		{name: "ReduceMax/bool", op: "ReduceMax", opset: 20, attrs: noKeep, in: []*tensor.Dense{bools([]int{2, 2}, false, false, true, false), i64(nil, 1)},
			want: []*tensor.Dense{bools(nil, false, true)}},
		{name: "ReduceMax/empty is -inf", op: "ReduceMax", opset: 20, in: []*tensor.Dense{f32([]int{0, 2}), i64(nil, 0)},
			want: []*tensor.Dense{f32([]int{1, 2}, float32(math.Inf(-1)), float32(math.Inf(-1)))}},
		{name: "ReduceMin", op: "ReduceMin", opset: 18, attrs: noKeep, in: []*tensor.Dense{x}, want: []*tensor.Dense{f32(sc, 1)}},
		{name: "ReduceL2", op: "ReduceL2", opset: 18, attrs: noKeep, in: []*tensor.Dense{f32([]int{2, 2}, 3, 4, 0, 1), i64(nil, 1)},
			want: []*tensor.Dense{f32(nil, 5, 1)}},
		{name: "ReduceSumSquare", op: "ReduceSumSquare", opset: 18, attrs: noKeep, in: []*tensor.Dense{f32(nil, 1, 2)}, want: []*tensor.Dense{f32(sc, 5)}},
		{name: "ReduceProd", op: "ReduceProd", opset: 18, attrs: noKeep, in: []*tensor.Dense{i64(nil, 2, 3)}, want: []*tensor.Dense{i64(sc, 6)}},
		{name: "ReduceLogSumExp", op: "ReduceLogSumExp", opset: 18, attrs: noKeep, in: []*tensor.Dense{f32(nil, 1000, 1000)},
			want: []*tensor.Dense{f32(sc, 1000.6931)}},
		{name: "ArgMax", op: "ArgMax", opset: 13, attrs: []graph.Attr{graph.AInt("axis", 1)}, in: []*tensor.Dense{f32([]int{2, 3}, 1, 3, 3, 2, 1, 0)},
			want: []*tensor.Dense{i64([]int{2, 1}, 1, 0)}},
		{name: "ArgMax/select_last_index", op: "ArgMax", opset: 13, attrs: []graph.Attr{graph.AInt("axis", 1), graph.AInt("keepdims", 0), graph.AInt("select_last_index", 1)},
			in: []*tensor.Dense{f32([]int{2, 3}, 1, 3, 3, 2, 1, 0)}, want: []*tensor.Dense{i64(nil, 2, 0)}},
		{name: "ArgMin", op: "ArgMin", opset: 13, attrs: noKeep, in: []*tensor.Dense{f32(nil, 3, 1, 2)}, want: []*tensor.Dense{i64(sc, 1)}},
		{name: "TopK/largest with ties", op: "TopK", opset: 11, in: []*tensor.Dense{f32([]int{1, 5}, 1, 3, 3, 2, 3), i64(nil, 3)},
			want: []*tensor.Dense{f32([]int{1, 3}, 3, 3, 3), i64([]int{1, 3}, 1, 2, 4)}},
		{name: "TopK/smallest axis 0", op: "TopK", opset: 11, attrs: []graph.Attr{graph.AInt("largest", 0), graph.AInt("axis", 0)},
			in:   []*tensor.Dense{i64([]int{3, 2}, 5, 1, 4, 1, 6, 0), i64(nil, 2)},
			want: []*tensor.Dense{i64([]int{2, 2}, 4, 0, 5, 1), i64([]int{2, 2}, 1, 2, 0, 0)}},
		{name: "TopK/opset 1 attribute k", op: "TopK", opset: 1, attrs: []graph.Attr{graph.AInt("k", 1)},
			in: []*tensor.Dense{f32(nil, 1, 9, 3)}, want: []*tensor.Dense{f32(nil, 9), i64(nil, 1)}},
		{name: "TopK/k too large", op: "TopK", opset: 11, in: []*tensor.Dense{f32(nil, 1), i64(nil, 2)}, outs: 2, err: "out of range"},
	})
}

func TestLogicOps(t *testing.T) {
	a, b := bools(nil, true, true, false, false), bools(nil, true, false, true, false)
	runCases(t, []opCase{
		{name: "And", op: "And", in: []*tensor.Dense{a, b}, want: []*tensor.Dense{bools(nil, true, false, false, false)}},
		{name: "Or", op: "Or", in: []*tensor.Dense{a, b}, want: []*tensor.Dense{bools(nil, true, true, true, false)}},
		{name: "Xor", op: "Xor", in: []*tensor.Dense{a, b}, want: []*tensor.Dense{bools(nil, false, true, true, false)}},
		{name: "And/broadcast", op: "And", in: []*tensor.Dense{bools([]int{2, 1}, true, false), bools(nil, true, false)},
			want: []*tensor.Dense{bools([]int{2, 2}, true, false, false, false)}},
		{name: "Not", op: "Not", in: []*tensor.Dense{a}, want: []*tensor.Dense{bools(nil, false, false, true, true)}},
		{name: "Not/float rejected", op: "Not", in: []*tensor.Dense{f32(nil, 1)}, err: "must be bool"},
		{name: "Equal", op: "Equal", in: []*tensor.Dense{i64(nil, 1, 2), i64(sc, 2)}, want: []*tensor.Dense{bools(nil, false, true)}},
		{name: "Equal/bool", op: "Equal", opset: 13, in: []*tensor.Dense{a, b}, want: []*tensor.Dense{bools(nil, true, false, false, true)}},
		{name: "Less", op: "Less", in: []*tensor.Dense{f32(nil, 1, 2, 3), f32(sc, 2)}, want: []*tensor.Dense{bools(nil, true, false, false)}},
		{name: "LessOrEqual", op: "LessOrEqual", in: []*tensor.Dense{f32(nil, 1, 2, 3), f32(sc, 2)}, want: []*tensor.Dense{bools(nil, true, true, false)}},
		{name: "Greater", op: "Greater", in: []*tensor.Dense{i32(nil, 1, 2, 3), i32(sc, 2)}, want: []*tensor.Dense{bools(nil, false, false, true)}},
		{name: "GreaterOrEqual", op: "GreaterOrEqual", in: []*tensor.Dense{i32(nil, 1, 2, 3), i32(sc, 2)}, want: []*tensor.Dense{bools(nil, false, true, true)}},
		{name: "Less/bool rejected", op: "Less", in: []*tensor.Dense{a, b}, err: "does not support bool"},
		{name: "Where", op: "Where", in: []*tensor.Dense{bools([]int{2, 1}, true, false), f32(nil, 1, 2), f32(sc, -1)},
			want: []*tensor.Dense{f32([]int{2, 2}, 1, 2, -1, -1)}},
		{name: "Where/int64", op: "Where", in: []*tensor.Dense{bools(nil, false, true), i64(nil, 1, 2), i64(nil, 3, 4)},
			want: []*tensor.Dense{i64(nil, 3, 2)}},
		{name: "Where/condition type", op: "Where", in: []*tensor.Dense{f32(nil, 1), f32(nil, 1), f32(nil, 1)}, err: "condition must be bool"},
	})
}
