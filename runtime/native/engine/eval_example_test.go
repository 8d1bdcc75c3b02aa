package engine_test

import (
	"errors"
	"fmt"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/engine"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// Run a small model eagerly: y = Softmax(x · w).
func ExampleEval() {
	w := graph.FloatTensor("w", []int64{2, 2}, []float32{1, 0, 0, 2})
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: 17}},
		Graph: &graph.Graph{
			Inputs:       []graph.ValueInfo{{Name: "x", DType: graph.Float}},
			Outputs:      []graph.ValueInfo{{Name: "y", DType: graph.Float}},
			Initializers: []*graph.Tensor{w},
			Nodes: []*graph.Node{
				{Name: "proj", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"h"}},
				{Name: "softmax", OpType: "Softmax", Inputs: []string{"h"}, Outputs: []string{"y"}},
			},
		},
	}
	x := tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{0, 1}))
	out, err := engine.Eval(m, map[string]*tensor.Dense{"x": x}, kernels.DefaultRegistry())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.4f\n", out["y"].Float32s())
	// Output:
	// [0.1192 0.8808]
}

// Operators the registry lacks are all reported at once, before anything
// runs.
func ExampleUnsupportedOpsError() {
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: 17}},
		Graph: &graph.Graph{
			Inputs:  []graph.ValueInfo{{Name: "x", DType: graph.Float}},
			Outputs: []graph.ValueInfo{{Name: "y", DType: graph.Float}},
			Nodes: []*graph.Node{
				{Name: "a", OpType: "HardSwish", Inputs: []string{"x"}, Outputs: []string{"h"}},
				{Name: "b", OpType: "Gelu", Inputs: []string{"h"}, Outputs: []string{"y"}},
			},
		},
	}
	_, err := engine.Eval(m, map[string]*tensor.Dense{}, nil)
	var ue *engine.UnsupportedOpsError
	if errors.As(err, &ue) {
		for _, op := range ue.Ops {
			fmt.Println(op)
		}
	}
	// Output:
	// HardSwish (opset 17; node "a")
	// Gelu (opset 17, implemented from opset 20; node "b")
}
