package kernels

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

func TestNNOps(t *testing.T) {
	inf := float32(math.Inf(1))
	runCases(t, []opCase{
		{name: "Relu", op: "Relu", in: []*tensor.Dense{f32(nil, -1, 0, 2)}, want: []*tensor.Dense{f32(nil, 0, 0, 2)}},
		{name: "Relu/int", op: "Relu", in: []*tensor.Dense{i32(nil, -1, 3)}, want: []*tensor.Dense{i32(nil, 0, 3)}},
		{name: "LeakyRelu", op: "LeakyRelu", attrs: []graph.Attr{graph.AFloat("alpha", 0.1)}, in: []*tensor.Dense{f32(nil, -10, 5)},
			want: []*tensor.Dense{f32(nil, -1, 5)}},
		{name: "Sigmoid", op: "Sigmoid", in: []*tensor.Dense{f32(nil, 0, 2, -1000)}, want: []*tensor.Dense{f32(nil, 0.5, 0.8807971, 0)}},
		{name: "Softplus", op: "Softplus", in: []*tensor.Dense{f32(nil, 0, 1000)}, want: []*tensor.Dense{f32(nil, 0.6931472, 1000)}},
		{name: "Gelu", op: "Gelu", opset: 20, in: []*tensor.Dense{f32(nil, -1, 0, 1)}, want: []*tensor.Dense{f32(nil, -0.15865526, 0, 0.8413447)}},
		{name: "Gelu/tanh", op: "Gelu", opset: 20, attrs: []graph.Attr{graph.AString("approximate", "tanh")},
			in: []*tensor.Dense{f32(nil, 1)}, want: []*tensor.Dense{f32(nil, 0.8411920)}},
		{name: "Gelu/bad approximate", op: "Gelu", opset: 20, attrs: []graph.Attr{graph.AString("approximate", "erf")},
			in: []*tensor.Dense{f32(nil, 1)}, err: `want one of none, tanh`},
		{name: "Gelu/before opset 20", op: "Gelu", opset: 18, in: []*tensor.Dense{f32(nil, 1)}, err: "operator Gelu at opset 18 is not supported"},
		{name: "Softmax/last axis", op: "Softmax", opset: 13, in: []*tensor.Dense{f32([]int{2, 2}, 1, 1, 0, 1000)},
			want: []*tensor.Dense{f32([]int{2, 2}, 0.5, 0.5, 0, 1)}},
		{name: "Softmax/axis 0", op: "Softmax", opset: 13, attrs: []graph.Attr{graph.AInt("axis", 0)},
			in: []*tensor.Dense{f32([]int{2, 2}, 0, 1, 0, 1)}, want: []*tensor.Dense{f32([]int{2, 2}, 0.5, 0.5, 0.5, 0.5)}},
		{name: "Softmax/opset 11 coerces to 2-D", op: "Softmax", opset: 11,
			in: []*tensor.Dense{f32([]int{1, 2, 2}, 0, 0, 0, 0)}, want: []*tensor.Dense{f32([]int{1, 2, 2}, 0.25, 0.25, 0.25, 0.25)}},
		{name: "Softmax/-inf entries", op: "Softmax", opset: 13, in: []*tensor.Dense{f32(nil, -inf, 0, -inf)},
			want: []*tensor.Dense{f32(nil, 0, 1, 0)}},
		{name: "LayerNormalization", op: "LayerNormalization", opset: 17,
			in:   []*tensor.Dense{f32([]int{2, 2}, 1, 3, 2, 2), f32(nil, 2, 1), f32(nil, 0, 10)},
			want: []*tensor.Dense{f32([]int{2, 2}, -1.9999900, 10.99999, 0, 10), f32([]int{2, 1}, 2, 2), f32([]int{2, 1}, 0.999995, 316.22775)},
			outs: 3},
		{name: "LayerNormalization/axis 0 without bias", op: "LayerNormalization", opset: 17, attrs: []graph.Attr{graph.AInt("axis", 0), graph.AFloat("epsilon", 0)},
			in: []*tensor.Dense{f64([]int{2, 1}, 0, 2), f64([]int{2, 1}, 1, 1)}, want: []*tensor.Dense{f64([]int{2, 1}, -1, 1)}},
		{name: "LayerNormalization/stash_type", op: "LayerNormalization", opset: 17, attrs: []graph.Attr{graph.AInt("stash_type", 11)},
			in: []*tensor.Dense{f32(nil, 1), f32(nil, 1)}, err: "stash_type 11"},
		{name: "RMSNormalization", op: "RMSNormalization", opset: 23, attrs: []graph.Attr{graph.AFloat("epsilon", 0)},
			in: []*tensor.Dense{f32([]int{1, 2}, 3, 4), f32(nil, 1, 2)}, want: []*tensor.Dense{f32([]int{1, 2}, 0.84852815, 2.2627418)}},
		{name: "Dropout/inference", op: "Dropout", opset: 13, in: []*tensor.Dense{f32(nil, 1, 2), f32(sc, 0.5)},
			want: []*tensor.Dense{f32(nil, 1, 2), bools(nil, true, true)}},
		{name: "Dropout/training refused", op: "Dropout", opset: 13, in: []*tensor.Dense{f32(nil, 1, 2), f32(sc, 0.5), bools(sc, true)},
			err: "training mode"},
	})
}

func TestConv(t *testing.T) {
	x := f32([]int{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	runCases(t, []opCase{
		{name: "3×3 with padding", op: "Conv", attrs: []graph.Attr{graph.AInts("pads", 1, 1, 1, 1)},
			in:   []*tensor.Dense{x, f32([]int{1, 1, 3, 3}, 1, 1, 1, 1, 1, 1, 1, 1, 1)},
			want: []*tensor.Dense{f32([]int{1, 1, 3, 3}, 12, 21, 16, 27, 45, 33, 24, 39, 28)}},
		{name: "stride 2 and bias", op: "Conv", attrs: []graph.Attr{graph.AInts("strides", 2, 2)},
			in:   []*tensor.Dense{x, f32([]int{1, 1, 2, 2}, 1, 0, 0, 1), f32(nil, 100)},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 1}, 106)}},
		{name: "1×1 across channels (talking heads)", op: "Conv",
			in:   []*tensor.Dense{f32([]int{1, 2, 1, 2}, 1, 2, 3, 4), f32([]int{2, 2, 1, 1}, 1, 1, 1, -1)},
			want: []*tensor.Dense{f32([]int{1, 2, 1, 2}, 4, 6, -2, -2)}},
		{name: "groups", op: "Conv", attrs: []graph.Attr{graph.AInt("group", 2)},
			in:   []*tensor.Dense{f32([]int{1, 2, 1, 2}, 1, 2, 3, 4), f32([]int{2, 1, 1, 1}, 10, 100)},
			want: []*tensor.Dense{f32([]int{1, 2, 1, 2}, 10, 20, 300, 400)}},
		{name: "1-D dilated SAME_UPPER", op: "Conv", attrs: []graph.Attr{graph.AString("auto_pad", "SAME_UPPER"), graph.AInts("dilations", 2)},
			in:   []*tensor.Dense{f32([]int{1, 1, 4}, 1, 2, 3, 4), f32([]int{1, 1, 2}, 1, 1)},
			want: []*tensor.Dense{f32([]int{1, 1, 4}, 2, 4, 6, 3)}}, // pads 1 and 1
		{name: "channel mismatch", op: "Conv", in: []*tensor.Dense{x, f32([]int{1, 2, 1, 1}, 1, 1)}, err: "do not fit group"},
	})
}

func TestGRU(t *testing.T) {
	// One step, one unit: z = r = σ(1), h̃ = tanh(1), H = (1 - z)·h̃.
	w := f32([]int{1, 3, 1}, 1, 1, 1)
	r := f32([]int{1, 3, 1}, 0, 0, 0)
	hidden := []graph.Attr{graph.AInt("hidden_size", 1)}
	runCases(t, []opCase{
		{name: "one step", op: "GRU", opset: 14, attrs: hidden, in: []*tensor.Dense{f32([]int{1, 1, 1}, 1), w, r},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 1}, 0.2048241), f32([]int{1, 1, 1}, 0.2048241)}},
		{name: "zero-length sequence keeps the initial state", op: "GRU", opset: 14, attrs: hidden,
			in:   []*tensor.Dense{f32([]int{1, 1, 1}, 1), w, r, nil, i32(nil, 0), f32([]int{1, 1, 1}, 0.5)},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 1}, 0), f32([]int{1, 1, 1}, 0.5)}},
		{name: "unknown activation", op: "GRU", opset: 14, attrs: append(hidden, graph.Attr{Name: "activations", Type: graph.AttrStrings, Strings: []string{"Sigmoid", "Gelu"}}),
			in: []*tensor.Dense{f32([]int{1, 1, 1}, 1), w, r}, err: `activation "Gelu" is not supported`},
	})
}
