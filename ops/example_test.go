package ops_test

import (
	"fmt"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
)

// Emit masked attention as a call of the model-local function Attention,
// then inline it for a runtime without function support.
func Example() {
	lib, err := ops.NewLibrary(18)
	if err != nil {
		fmt.Println(err)
		return
	}
	b := graph.NewGraphBuilder(lib.Opset())
	b.Reserve("q", "k", "v", "keep")
	out := ops.CallAttention(b, lib, "attn", "q", "k", "v", "keep", 0.125)

	// q, k, v: [batch, heads, seq, dim_head]; keep: a boolean mask that
	// broadcasts against the [batch, heads, seq, seq] logits.
	qkv := []graph.Dim{graph.Sym("batch"), graph.Fixed(2), graph.Sym("seq"), graph.Fixed(64)}
	in := func(name string) graph.ValueInfo { return graph.ValueInfo{Name: name, DType: graph.Float, Shape: qkv} }
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: graph.DomainONNX, Version: lib.Opset()}, {Domain: graph.DomainXT, Version: 1}},
		Graph: &graph.Graph{
			Name: "attention",
			Inputs: []graph.ValueInfo{in("q"), in("k"), in("v"),
				{Name: "keep", DType: graph.Bool, Shape: []graph.Dim{graph.Sym("batch"), graph.Fixed(1), graph.Sym("seq"), graph.Sym("seq")}}},
			Outputs:      []graph.ValueInfo{in(out)},
			Initializers: b.Initializers(),
			Nodes:        b.Nodes(),
		},
		Functions: b.Functions(),
	}
	if err := graph.Check(m); err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range m.Graph.Nodes {
		fmt.Println("call:", n.Domain, n.OpType)
	}
	for _, f := range m.Functions {
		fmt.Println("function:", f.Domain, f.Name, f.Inputs, "->", f.Outputs)
	}

	if err := graph.InlineFunctions(m); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print("inlined:")
	for _, n := range m.Graph.Nodes {
		fmt.Print(" ", n.OpType)
	}
	fmt.Println()
	// Output:
	// call: ai.xtransformers Attention
	// function: ai.xtransformers Attention [q k v keep] -> [out]
	// inlined: Transpose MatMul Constant Mul Constant Where Softmax MatMul Identity
}
