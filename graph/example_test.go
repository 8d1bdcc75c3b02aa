package graph_test

import (
	"fmt"

	"github.com/xt2onnx/xt2onnx/graph"
)

// Build y = relu(x·W + b) with the graph builder, wrap it in a model and
// check it.
func Example() {
	b := graph.NewGraphBuilder(18)
	b.Reserve("x")
	w, err := b.Initializer(graph.FloatTensor("layer.weight_t", []int64{2, 3}, []float32{1, 0, -1, 0, 1, 1}))
	if err != nil {
		fmt.Println(err)
		return
	}
	bias := b.ConstFloat("bias", []int64{3}, 0.5, 0, -0.5)
	xw := b.Op("MatMul", "layer.matmul", []string{"x", w})
	y := b.Op("Relu", "layer.relu", []string{b.Op("Add", "layer.add", []string{xw, bias})})

	batch := graph.Sym("batch")
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: graph.DomainONNX, Version: b.Opset()}},
		Graph: &graph.Graph{
			Name:         "layer",
			Inputs:       []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: []graph.Dim{batch, graph.Fixed(2)}}},
			Outputs:      []graph.ValueInfo{{Name: y, DType: graph.Float, Shape: []graph.Dim{batch, graph.Fixed(3)}}},
			Initializers: b.Initializers(),
			Nodes:        b.Nodes(),
		},
	}
	if err := graph.Check(m); err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range m.Graph.Nodes {
		fmt.Println(n.OpType, n.Inputs, "->", n.Outputs)
	}
	// Output:
	// MatMul [x layer.weight_t] -> [layer.matmul]
	// Add [layer.matmul bias] -> [layer.add]
	// Relu [layer.add] -> [layer.relu]
}

// Check names the node at fault.
func ExampleCheck() {
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Version: 18}},
		Graph: &graph.Graph{
			Inputs:  []graph.ValueInfo{{Name: "x", DType: graph.Float}},
			Outputs: []graph.ValueInfo{{Name: "y", DType: graph.Float}},
			Nodes:   []*graph.Node{{Name: "relu", OpType: "Relu", Inputs: []string{"z"}, Outputs: []string{"y"}}},
		},
	}
	fmt.Println(graph.Check(m))
	// Output:
	// graph check: node "relu" (Relu): input "z" is not produced before this node (missing, or nodes out of topological order)
}
