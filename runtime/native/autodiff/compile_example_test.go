package autodiff_test

import (
	"context"
	"fmt"

	"github.com/xt2onnx/xt2onnx/runtime/native/autodiff"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// exampleModel is y = Relu(x·W), x float32[batch 2].
func exampleModel() *graph.Model {
	return &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}},
		Graph: &graph.Graph{
			Inputs:       []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), graph.Fixed(2)}}},
			Initializers: []*graph.Tensor{graph.FloatTensor("W", []int64{2, 2}, []float32{1, -1, 2, 0.5})},
			Nodes: []*graph.Node{
				{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "W"}, Outputs: []string{"h"}},
				{Name: "relu", OpType: "Relu", Inputs: []string{"h"}, Outputs: []string{"y"}},
			},
			Outputs: []graph.ValueInfo{{Name: "y", DType: graph.Float}},
		},
	}
}

// ExampleCompile compiles a model for one input shape and runs it.
func ExampleCompile() {
	prog, err := autodiff.Compile(exampleModel(), kernels.DefaultRegistry(), map[string][]int64{"x": {2, 2}}, autodiff.CompileOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	x := tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float32{1, 1, -1, 2}))
	outs, err := prog.Run(context.Background(), map[string]*tensor.Dense{"x": x})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(outs["y"].Shape(), outs["y"].Data())
	// Output:
	// (2, 2) [3 0 3 2]
}

// ExampleProgram_Eval takes the gradient of a loss built on a program's
// output with respect to a weight, with gorgonia.Grad.
func ExampleProgram_Eval() {
	prog, err := autodiff.Compile(exampleModel(), kernels.DefaultRegistry(), map[string][]int64{"x": {1, 2}},
		autodiff.CompileOptions{Params: []string{"W"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	loss := gorgonia.Must(gorgonia.Sum(prog.Output("y")))
	grads, err := gorgonia.Grad(loss, prog.Param("W"))
	if err != nil {
		fmt.Println(err)
		return
	}
	x := tensor.New(tensor.WithShape(1, 2), tensor.WithBacking([]float32{1, 3}))
	vals, err := prog.Eval(context.Background(), map[string]*tensor.Dense{"x": x}, loss, grads[0])
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("loss", vals[0].Data())
	fmt.Println("dloss/dW", vals[1].Data())
	// Output:
	// loss 7.5
	// dloss/dW [1 1 3 3]
}
