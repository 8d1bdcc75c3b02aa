package export_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
)

// Build a one-node model with the graph builder and write it as an ONNX file.
func ExampleWriteFile() {
	b := graph.NewGraphBuilder(18)
	b.Reserve("x")
	y := b.Op("Mul", "double", []string{"x", b.ConstFloat("two", nil, 2)})
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: graph.DomainONNX, Version: b.Opset()}},
		Graph: &graph.Graph{
			Name:         "double",
			Inputs:       []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("n")}}},
			Outputs:      []graph.ValueInfo{{Name: y, DType: graph.Float, Shape: []graph.Dim{graph.Sym("n")}}},
			Initializers: b.Initializers(),
			Nodes:        b.Nodes(),
		},
	}
	m.SetMetadata("xt2onnx.config", `{"kind":"example"}`)

	dir, err := os.MkdirTemp("", "export-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "double.onnx")
	if err := export.WriteFile(path, m, export.Options{Opset: 18}); err != nil {
		fmt.Println(err)
		return
	}

	back, err := onnximport.ReadFile(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("IR version:", back.IRVersion, "opset:", back.Opset(""))
	for _, n := range back.Graph.Nodes {
		fmt.Println(n.OpType, n.Inputs, "->", n.Outputs)
	}
	// Output:
	// IR version: 8 opset: 18
	// Mul [x two] -> [double]
}

// Marshal refuses an opset it does not support and names the ones it does.
func ExampleMarshal_opset() {
	m := &graph.Model{Opsets: []graph.OpsetImport{{Version: 16}}, Graph: &graph.Graph{}}
	_, err := export.Marshal(m, export.Options{Opset: 16})
	fmt.Println(err)
	// Output:
	// export: ONNX opset 16 is not supported; supported opsets: 17, 18, 23
}
