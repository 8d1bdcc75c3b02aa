package engine

import (
	"errors"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

func planOf(t *testing.T, m *graph.Model) (*Plan, error) {
	t.Helper()
	pm, err := Prepare(m, kernels.DefaultRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return NewPlan(pm, PlanOptions{})
}

// TestInferTypesSymbolic checks that shape inference keeps the model's
// dimension names through a whole exported decoder with a KV cache: the
// logits are float32[batch seq vocab] and the cache grows to past_seq+seq,
// though the graph computes both from Shape, Gather, Concat and Reshape.
func TestInferTypesSymbolic(t *testing.T) {
	cfg, err := builder.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{KVCache: true})
	if err != nil {
		t.Fatal(err)
	}
	b, err := export.Marshal(m, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := onnximport.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planOf(t, mr)
	if err != nil {
		t.Fatal(err)
	}
	types := p.Types()
	for name, want := range map[string]string{
		"logits":          "float32[batch seq 256]",
		"present_key_0":   "float32[batch 4 past_seq+seq 16]",
		"present_value_1": "float32[batch 4 past_seq+seq 16]",
	} {
		if got := types[name].String(); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	var unknown []string
	for name, ty := range types {
		if !ty.Ranked() || strings.Contains(ty.String(), "?") {
			unknown = append(unknown, name+": "+ty.String())
		}
	}
	if len(unknown) > 0 {
		t.Errorf("%d of %d values are not fully inferred: %v", len(unknown), len(types), unknown)
	}
}

// TestInferTypesRefuses checks that a graph whose known dimensions cannot
// fit is refused when the plan is made, naming the node.
func TestInferTypesRefuses(t *testing.T) {
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}},
		Graph: &graph.Graph{
			Inputs:  []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), graph.Fixed(3)}}},
			Outputs: []graph.ValueInfo{{Name: "y", DType: graph.Float}},
			Initializers: []*graph.Tensor{graph.FloatTensor("w", []int64{4, 5}, make([]float32, 20)),
				graph.FloatTensor("b", []int64{7}, make([]float32, 7))},
			Nodes: []*graph.Node{
				{Name: "proj", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"h"}},
				{Name: "bias", OpType: "Add", Inputs: []string{"h", "b"}, Outputs: []string{"y"}},
			},
		},
	}
	_, err := planOf(t, m)
	var se *ShapeError
	if !errors.As(err, &se) || len(se.Errs) != 1 || !strings.Contains(err.Error(), `node "proj" (MatMul, opset 18): inner dimensions 3 and 4 differ`) {
		t.Fatalf("error %v, want a *ShapeError for node proj", err)
	}
}
