package kernels

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

func i8(shape []int, v ...int8) *tensor.Dense {
	if shape == nil {
		shape = []int{len(v)}
	}
	return fromSlice(shape, v)
}

func u8(shape []int, v ...uint8) *tensor.Dense {
	if shape == nil {
		shape = []int{len(v)}
	}
	return fromSlice(shape, v)
}

func TestDequantizeLinear(t *testing.T) {
	block := func(n int64) []graph.Attr { return []graph.Attr{graph.AInt("axis", 0), graph.AInt("block_size", n)} }
	runCases(t, []opCase{
		{name: "per tensor", op: "DequantizeLinear", opset: 13, in: []*tensor.Dense{i8(nil, -128, 0, 127), f32(sc, 0.5)},
			want: []*tensor.Dense{f32(nil, -64, 0, 63.5)}},
		{name: "per tensor with zero point", op: "DequantizeLinear", opset: 13, in: []*tensor.Dense{u8(nil, 0, 128, 255), f32(sc, 2), u8(sc, 128)},
			want: []*tensor.Dense{f32(nil, -256, 0, 254)}},
		{name: "per axis", op: "DequantizeLinear", opset: 13, attrs: []graph.Attr{graph.AInt("axis", 1)},
			in:   []*tensor.Dense{i8([]int{2, 2}, 1, 2, 3, 4), f32(nil, 10, 100)},
			want: []*tensor.Dense{f32([]int{2, 2}, 10, 200, 30, 400)}},
		{name: "blocks along axis 0", op: "DequantizeLinear", opset: 21, attrs: block(2),
			in:   []*tensor.Dense{i8([]int{4, 2}, 1, 1, 1, 1, 1, 1, 1, 1), f32([]int{2, 2}, 1, 2, 3, 4)},
			want: []*tensor.Dense{f32([]int{4, 2}, 1, 2, 1, 2, 3, 4, 3, 4)}},
		{name: "a partial last block", op: "DequantizeLinear", opset: 23, attrs: block(2),
			in:   []*tensor.Dense{i8([]int{3, 1}, 2, 2, 2), f32([]int{2, 1}, 0.25, 8)},
			want: []*tensor.Dense{f32([]int{3, 1}, 0.5, 0.5, 16)}},
		{name: "blocks along the last axis", op: "DequantizeLinear", opset: 21, attrs: []graph.Attr{graph.AInt("axis", 1), graph.AInt("block_size", 2)},
			in:   []*tensor.Dense{i8([]int{1, 4}, 1, 2, 3, 4), f32([]int{1, 2}, 1, -1)},
			want: []*tensor.Dense{f32([]int{1, 4}, 1, 2, -3, -4)}},
		{name: "output_dtype float64", op: "DequantizeLinear", opset: 23, attrs: []graph.Attr{graph.AInt("output_dtype", int64(graph.Double))},
			in: []*tensor.Dense{i8(nil, 3), f32(sc, 0.5)}, want: []*tensor.Dense{f64(nil, 1.5)}},
		{name: "blocked scale of the wrong shape", op: "DequantizeLinear", opset: 21, attrs: block(2),
			in: []*tensor.Dense{i8([]int{4, 2}, 1, 1, 1, 1, 1, 1, 1, 1), f32([]int{4, 2}, 1, 1, 1, 1, 1, 1, 1, 1)}, err: "must have shape [2 2]"},
		{name: "float x refused", op: "DequantizeLinear", opset: 13, in: []*tensor.Dense{f32(nil, 1), f32(sc, 1)}, err: "must be an integer tensor"},
		{name: "zero point of another type", op: "DequantizeLinear", opset: 13, in: []*tensor.Dense{i8(nil, 1), f32(sc, 1), u8(sc, 1)}, err: "must match"},
	})
}
