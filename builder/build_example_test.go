package builder_test

import (
	"fmt"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
)

// ExampleBuild builds the "tiny" preset decoder with seeded random weights
// and serialises it to ONNX.
func ExampleBuild() {
	cfg, err := builder.Preset("tiny")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	data, err := export.Marshal(m, export.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("opset:", m.Opset(""), "inputs:", len(m.Graph.Inputs), "outputs:", len(m.Graph.Outputs))
	for _, in := range m.Graph.Inputs {
		fmt.Println("input:", in.Name, in.DType, in.Shape)
	}
	for _, out := range m.Graph.Outputs {
		fmt.Println("output:", out.Name, out.DType, out.Shape)
	}
	v, _ := m.MetadataValue(builder.MetaXTransformers)
	fmt.Println("x-transformers:", v, "serialised:", len(data) > 0)
	// Output:
	// opset: 18 inputs: 1 outputs: 1
	// input: x int64 [batch seq]
	// output: logits float32 [batch seq 256]
	// x-transformers: 1.9.2 serialised: true
}

// ExamplePreset lists the built-in configs and shows the benchmark model.
func ExamplePreset() {
	fmt.Println(builder.Presets())
	cfg, err := builder.Preset("base")
	if err != nil {
		fmt.Println(err)
		return
	}
	l := cfg.Layers
	fmt.Println(cfg.Kind, l.Type, "dim", l.Dim, "depth", l.Depth, "heads", l.Heads, "dim_head", l.DimHead(),
		"vocab", cfg.Wrapper.NumTokens, "max_seq_len", cfg.Wrapper.MaxSeqLen)
	_, err = builder.Preset("huge")
	fmt.Println(err)
	// Output:
	// [base small tiny]
	// TransformerWrapper Decoder dim 512 depth 6 heads 8 dim_head 64 vocab 1024 max_seq_len 512
	// builder: unknown preset "huge" (have base, small, tiny)
}
