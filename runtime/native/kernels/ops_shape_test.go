package kernels

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

func TestShapeOps(t *testing.T) {
	x := f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	x3 := f32([]int{2, 1, 3}, 1, 2, 3, 4, 5, 6)
	runCases(t, []opCase{
		{name: "Shape", op: "Shape", in: []*tensor.Dense{x3}, want: []*tensor.Dense{i64(nil, 2, 1, 3)}},
		{name: "Shape/start end", op: "Shape", opset: 15, attrs: []graph.Attr{graph.AInt("start", -2), graph.AInt("end", 10)},
			in: []*tensor.Dense{x3}, want: []*tensor.Dense{i64(nil, 1, 3)}},
		{name: "Shape/start before 15 is unknown", op: "Shape", opset: 13, attrs: []graph.Attr{graph.AInt("start", 1)},
			in: []*tensor.Dense{x3}, err: "unknown attribute(s) start"},
		{name: "Size", op: "Size", in: []*tensor.Dense{x3}, want: []*tensor.Dense{i64(sc, 6)}},
		{name: "Reshape/0 and -1", op: "Reshape", in: []*tensor.Dense{x3, i64(nil, 0, -1)},
			want: []*tensor.Dense{f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)}},
		{name: "Reshape/allowzero", op: "Reshape", opset: 14, attrs: []graph.Attr{graph.AInt("allowzero", 1)},
			in: []*tensor.Dense{f32([]int{0, 3}), i64(nil, 3, 0)}, want: []*tensor.Dense{f32([]int{3, 0})}},
		{name: "Reshape/bad size", op: "Reshape", in: []*tensor.Dense{x, i64(nil, 4, 2)}, err: "cannot reshape"},
		{name: "Squeeze/input axes", op: "Squeeze", opset: 13, in: []*tensor.Dense{x3, i64(nil, -2)},
			want: []*tensor.Dense{f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)}},
		{name: "Squeeze/attribute axes", op: "Squeeze", opset: 11, attrs: []graph.Attr{graph.AInts("axes", 1)}, in: []*tensor.Dense{x3},
			want: []*tensor.Dense{f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)}},
		{name: "Squeeze/all ones", op: "Squeeze", opset: 13, in: []*tensor.Dense{f32([]int{1, 1}, 7)}, want: []*tensor.Dense{f32(sc, 7)}},
		{name: "Squeeze/not one", op: "Squeeze", opset: 13, in: []*tensor.Dense{x3, i64(nil, 0)}, err: "not 1"},
		{name: "Unsqueeze", op: "Unsqueeze", opset: 13, in: []*tensor.Dense{f32(nil, 1, 2), i64(nil, 0, -1)},
			want: []*tensor.Dense{f32([]int{1, 2, 1}, 1, 2)}},
		{name: "Unsqueeze/scalar", op: "Unsqueeze", opset: 11, attrs: []graph.Attr{graph.AInts("axes", 0)}, in: []*tensor.Dense{i64(sc, 5)},
			want: []*tensor.Dense{i64(nil, 5)}},
		{name: "Flatten", op: "Flatten", attrs: []graph.Attr{graph.AInt("axis", -1)}, in: []*tensor.Dense{x3},
			want: []*tensor.Dense{f32([]int{2, 3}, 1, 2, 3, 4, 5, 6)}},
		{name: "Transpose/default", op: "Transpose", in: []*tensor.Dense{x}, want: []*tensor.Dense{f32([]int{3, 2}, 1, 4, 2, 5, 3, 6)}},
		{name: "Transpose/perm", op: "Transpose", attrs: []graph.Attr{graph.AInts("perm", 1, 2, 0)}, in: []*tensor.Dense{x3},
			want: []*tensor.Dense{f32([]int{1, 3, 2}, 1, 4, 2, 5, 3, 6)}},
		{name: "Transpose/bad perm", op: "Transpose", attrs: []graph.Attr{graph.AInts("perm", 0, 0)}, in: []*tensor.Dense{x}, err: "appears twice"},
		{name: "Concat", op: "Concat", attrs: []graph.Attr{graph.AInt("axis", -1)},
			in:   []*tensor.Dense{f32([]int{2, 1}, 1, 2), f32([]int{2, 2}, 3, 4, 5, 6), f32([]int{2, 0})},
			want: []*tensor.Dense{f32([]int{2, 3}, 1, 3, 4, 2, 5, 6)}},
		{name: "Concat/needs axis", op: "Concat", in: []*tensor.Dense{x}, err: `required attribute "axis"`},
		{name: "Split/sizes input", op: "Split", opset: 13, attrs: []graph.Attr{graph.AInt("axis", 1)}, in: []*tensor.Dense{x, i64(nil, 1, 2)},
			want: []*tensor.Dense{f32([]int{2, 1}, 1, 4), f32([]int{2, 2}, 2, 3, 5, 6)}},
		{name: "Split/equal", op: "Split", opset: 13, in: []*tensor.Dense{f32(nil, 1, 2, 3, 4)},
			want: []*tensor.Dense{f32(nil, 1, 2), f32(nil, 3, 4)}},
		{name: "Split/num_outputs uneven", op: "Split", opset: 18, attrs: []graph.Attr{graph.AInt("num_outputs", 2)},
			in: []*tensor.Dense{f32(nil, 1, 2, 3)}, want: []*tensor.Dense{f32(nil, 1, 2), f32(nil, 3)}},
		{name: "Split/attribute", op: "Split", opset: 11, attrs: []graph.Attr{graph.AInts("split", 2, 1)},
			in: []*tensor.Dense{i64(nil, 1, 2, 3)}, want: []*tensor.Dense{i64(nil, 1, 2), i64(nil, 3)}},
		{name: "Slice", op: "Slice", in: []*tensor.Dense{x, i64(nil, 1), i64(nil, 100), i64(nil, 1)},
			want: []*tensor.Dense{f32([]int{2, 2}, 2, 3, 5, 6)}},
		{name: "Slice/negative step", op: "Slice", in: []*tensor.Dense{x, i64(nil, -1, math.MaxInt64), i64(nil, math.MinInt64, 0), i64(nil, 1, 0), i64(nil, -2, -1)},
			want: []*tensor.Dense{f32([]int{1, 2}, 6, 4)}},
		{name: "Slice/empty", op: "Slice", in: []*tensor.Dense{x, i64(nil, 2), i64(nil, 1), i64(nil, 1)}, want: []*tensor.Dense{f32([]int{2, 0})}},
		{name: "Slice/opset 1 attributes", op: "Slice", opset: 1, attrs: []graph.Attr{graph.AInts("starts", 0), graph.AInts("ends", 1)},
			in: []*tensor.Dense{x}, want: []*tensor.Dense{f32([]int{1, 3}, 1, 2, 3)}},
		{name: "Expand", op: "Expand", in: []*tensor.Dense{f32([]int{2, 1}, 1, 2), i64(nil, 2, 1, 3)},
			want: []*tensor.Dense{f32([]int{2, 2, 3}, 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2)}},
		{name: "Tile", op: "Tile", in: []*tensor.Dense{i64([]int{1, 2}, 1, 2), i64(nil, 2, 2)},
			want: []*tensor.Dense{i64([]int{2, 4}, 1, 2, 1, 2, 1, 2, 1, 2)}},
		{name: "Pad/constant", op: "Pad", in: []*tensor.Dense{f32(nil, 1, 2), i64(nil, 1, 2), f32(sc, 9)},
			want: []*tensor.Dense{f32(nil, 9, 1, 2, 9, 9)}},
		{name: "Pad/reflect", op: "Pad", attrs: []graph.Attr{graph.AString("mode", "reflect")}, in: []*tensor.Dense{f32(nil, 1, 2, 3), i64(nil, 2, 2)},
			want: []*tensor.Dense{f32(nil, 3, 2, 1, 2, 3, 2, 1)}},
		{name: "Pad/edge", op: "Pad", attrs: []graph.Attr{graph.AString("mode", "edge")}, in: []*tensor.Dense{f32(nil, 1, 2), i64(nil, 2, 1)},
			want: []*tensor.Dense{f32(nil, 1, 1, 1, 2, 2)}},
		{name: "Pad/wrap with axes", op: "Pad", opset: 19, attrs: []graph.Attr{graph.AString("mode", "wrap")},
			in:   []*tensor.Dense{x, i64(nil, 1, 0), nil, i64(nil, -1)},
			want: []*tensor.Dense{f32([]int{2, 4}, 3, 1, 2, 3, 6, 4, 5, 6)}},
		{name: "Pad/wrap before 19", op: "Pad", opset: 18, attrs: []graph.Attr{graph.AString("mode", "wrap")},
			in: []*tensor.Dense{x, i64(nil, 0, 0, 0, 0)}, err: `"mode" is "wrap"`},
		{name: "Pad/negative crops", op: "Pad", in: []*tensor.Dense{f32(nil, 1, 2, 3), i64(nil, -1, 0)}, want: []*tensor.Dense{f32(nil, 2, 3)}},
		{name: "Pad/opset 2", op: "Pad", opset: 2, attrs: []graph.Attr{graph.AInts("pads", 1, 0), graph.AFloat("value", 5)},
			in: []*tensor.Dense{f32(nil, 1)}, want: []*tensor.Dense{f32(nil, 5, 1)}},
		{name: "Identity", op: "Identity", in: []*tensor.Dense{bools(nil, true)}, want: []*tensor.Dense{bools(nil, true)}},
		{name: "Constant/value", op: "Constant", attrs: []graph.Attr{graph.ATensor("value", graph.Int64Tensor("c", []int64{2}, []int64{4, 5}))},
			want: []*tensor.Dense{i64(nil, 4, 5)}},
		{name: "Constant/value_float", op: "Constant", attrs: []graph.Attr{graph.AFloat("value_float", 2.5)}, want: []*tensor.Dense{f32(sc, 2.5)}},
		{name: "Constant/value_ints", op: "Constant", attrs: []graph.Attr{graph.AInts("value_ints", 1, 2)}, want: []*tensor.Dense{i64(nil, 1, 2)}},
		{name: "Constant/two values", op: "Constant", attrs: []graph.Attr{graph.AInt("value_int", 1), graph.AFloat("value_float", 1)}, err: "exactly one"},
		{name: "Constant/string", op: "Constant", attrs: []graph.Attr{graph.AString("value_string", "a")}, err: "value_string is not supported"},
		{name: "ConstantOfShape", op: "ConstantOfShape", attrs: []graph.Attr{graph.ATensor("value", graph.Int64Tensor("v", []int64{1}, []int64{7}))},
			in: []*tensor.Dense{i64(nil, 2, 1)}, want: []*tensor.Dense{i64([]int{2, 1}, 7, 7)}},
		{name: "ConstantOfShape/too large", op: "ConstantOfShape", in: []*tensor.Dense{i64(nil, 1<<30, 1<<30)}, err: "more than"},
		{name: "ConstantOfShape/default", op: "ConstantOfShape", in: []*tensor.Dense{i64(nil)}, want: []*tensor.Dense{f32(sc, 0)}},
		{name: "Range/int", op: "Range", in: []*tensor.Dense{i64(sc, 10), i64(sc, 4), i64(sc, -3)}, want: []*tensor.Dense{i64(nil, 10, 7)}},
		{name: "Range/int32", op: "Range", in: []*tensor.Dense{i32(sc, 0), i32(sc, 5), i32(sc, 2)}, want: []*tensor.Dense{i32(nil, 0, 2, 4)}},
		{name: "Range/float", op: "Range", in: []*tensor.Dense{f32(sc, 1), f32(sc, 2), f32(sc, 0.25)}, want: []*tensor.Dense{f32(nil, 1, 1.25, 1.5, 1.75)}},
		{name: "Range/empty", op: "Range", in: []*tensor.Dense{f32(sc, 1), f32(sc, 0), f32(sc, 1)}, want: []*tensor.Dense{f32([]int{0})}},
		{name: "Trilu/upper", op: "Trilu", opset: 14, in: []*tensor.Dense{f32([]int{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)},
			want: []*tensor.Dense{f32([]int{3, 3}, 1, 2, 3, 0, 5, 6, 0, 0, 9)}},
		{name: "Trilu/lower k=-1", op: "Trilu", opset: 14, attrs: []graph.Attr{graph.AInt("upper", 0)},
			in:   []*tensor.Dense{f32([]int{3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9), i64(sc, -1)},
			want: []*tensor.Dense{f32([]int{3, 3}, 0, 0, 0, 4, 0, 0, 7, 8, 0)}},
		{name: "Trilu/upper k=1 batch", op: "Trilu", opset: 14, in: []*tensor.Dense{bools([]int{2, 1, 2}, true, true, true, true), i64(sc, 1)},
			want: []*tensor.Dense{bools([]int{2, 1, 2}, false, true, false, true)}},
	})
}

func TestIndexOps(t *testing.T) {
	x := f32([]int{3, 2}, 1, 2, 3, 4, 5, 6)
	runCases(t, []opCase{
		{name: "Gather", op: "Gather", in: []*tensor.Dense{x, i64([]int{2, 2}, 0, 2, -1, 1)},
			want: []*tensor.Dense{f32([]int{2, 2, 2}, 1, 2, 5, 6, 5, 6, 3, 4)}},
		{name: "Gather/axis 1 scalar index", op: "Gather", attrs: []graph.Attr{graph.AInt("axis", 1)}, in: []*tensor.Dense{x, i32(sc, 1)},
			want: []*tensor.Dense{f32(nil, 2, 4, 6)}},
		{name: "Gather/out of range", op: "Gather", in: []*tensor.Dense{x, i64(nil, 3)}, err: "out of range"},
		{name: "GatherElements", op: "GatherElements", attrs: []graph.Attr{graph.AInt("axis", 1)},
			in: []*tensor.Dense{x, i64([]int{3, 1}, 1, 0, 1)}, want: []*tensor.Dense{f32([]int{3, 1}, 2, 3, 6)}},
		{name: "GatherND", op: "GatherND", in: []*tensor.Dense{x, i64([]int{2, 2}, 0, 1, 2, 0)}, want: []*tensor.Dense{f32(nil, 2, 5)}},
		{name: "GatherND/slices", op: "GatherND", in: []*tensor.Dense{x, i64([]int{2, 1}, 2, 0)}, want: []*tensor.Dense{f32([]int{2, 2}, 5, 6, 1, 2)}},
		{name: "GatherND/batch_dims", op: "GatherND", attrs: []graph.Attr{graph.AInt("batch_dims", 1)},
			in: []*tensor.Dense{x, i64([]int{3, 1}, 1, 0, 1)}, want: []*tensor.Dense{f32(nil, 2, 3, 6)}},
	})
}

func TestCast(t *testing.T) {
	to := func(dt graph.DType) []graph.Attr { return []graph.Attr{graph.AInt("to", int64(dt))} }
	runCases(t, []opCase{
		{name: "float to int truncates", op: "Cast", attrs: to(graph.Int64), in: []*tensor.Dense{f32(nil, 1.9, -1.9, 0)},
			want: []*tensor.Dense{i64(nil, 1, -1, 0)}},
		{name: "float to bool", op: "Cast", attrs: to(graph.Bool), in: []*tensor.Dense{f32(nil, 0, -0.5, float32(math.NaN()))},
			want: []*tensor.Dense{bools(nil, false, true, true)}},
		{name: "bool to float", op: "Cast", attrs: to(graph.Float), in: []*tensor.Dense{bools(nil, true, false)}, want: []*tensor.Dense{f32(nil, 1, 0)}},
		{name: "int64 to int32 wraps", op: "Cast", attrs: to(graph.Int32), in: []*tensor.Dense{i64(nil, 1<<32+5, -3)}, want: []*tensor.Dense{i32(nil, 5, -3)}},
		{name: "same type copies", op: "Cast", attrs: to(graph.Float), in: []*tensor.Dense{f32(nil, 1.5)}, want: []*tensor.Dense{f32(nil, 1.5)}},
		{name: "saturate accepted from 19", op: "Cast", opset: 19, attrs: append(to(graph.Double), graph.AInt("saturate", 0)),
			in: []*tensor.Dense{f32(nil, 1.5)}, want: []*tensor.Dense{f64(nil, 1.5)}},
		{name: "saturate unknown before 19", op: "Cast", opset: 18, attrs: append(to(graph.Double), graph.AInt("saturate", 0)),
			in: []*tensor.Dense{f32(nil, 1.5)}, err: "unknown attribute(s) saturate"},
		{name: "float8 unsupported", op: "Cast", opset: 19, attrs: to(17), in: []*tensor.Dense{f32(nil, 1)}, err: "float8e4m3fn (17) is not supported"},
		{name: "CastLike", op: "CastLike", opset: 15, in: []*tensor.Dense{i64(nil, 3), f64(sc, 0)}, want: []*tensor.Dense{f64(nil, 3)}},
	})
}
