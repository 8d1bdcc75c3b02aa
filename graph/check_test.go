package graph_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/graph"
)

// validModel is a well-formed model: in -> Relu -> Scale (function) -> out,
// with one initializer.
func validModel() *graph.Model {
	return &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}, {Domain: graph.DomainXT, Version: 1}},
		Graph: &graph.Graph{
			Inputs:       []graph.ValueInfo{{Name: "in", DType: graph.Float}},
			Outputs:      []graph.ValueInfo{{Name: "out", DType: graph.Float}},
			Initializers: []*graph.Tensor{graph.FloatTensor("w", []int64{2}, []float32{1, 2})},
			Nodes: []*graph.Node{
				{Name: "relu", OpType: "Relu", Inputs: []string{"in"}, Outputs: []string{"r"}},
				{Name: "add", OpType: "Add", Inputs: []string{"r", "w"}, Outputs: []string{"a"}},
				{Name: "scale", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"a"}, Outputs: []string{"out"},
					Attrs: []graph.Attr{graph.AFloat("alpha", 2)}},
			},
		},
		Functions: []*graph.Function{scaleFn()},
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		modify func(m *graph.Model)
		// want lists "where|problem" substrings, one per expected problem.
		want []string
	}{
		{name: "valid", modify: func(*graph.Model) {}},
		{
			name: "input used before produced",
			modify: func(m *graph.Model) {
				n := m.Graph.Nodes
				n[0], n[1] = n[1], n[0]
			},
			want: []string{`node "add" (Add)|input "r" is not produced before this node`},
		},
		{
			name: "missing input",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[1].Inputs[1] = "nowhere"
			},
			want: []string{`node "add" (Add)|input "nowhere" is not produced`},
		},
		{
			name: "duplicate producer",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[1].Outputs[0] = "r"
				m.Graph.Nodes[2].Inputs[0] = "r"
			},
			want: []string{`node "add" (Add)|output "r" is already produced by node "relu"`},
		},
		{
			name: "output shadows a graph input",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[0].Outputs[0] = "in"
				m.Graph.Nodes[1].Inputs[0] = "in"
			},
			want: []string{`node "relu" (Relu)|output "in" is already produced by graph input`},
		},
		{
			name:   "no default opset import",
			modify: func(m *graph.Model) { m.Opsets = m.Opsets[1:] },
			want: []string{
				"model|no opset import for the default ONNX domain",
				`node "relu" (Relu)|domain "" has no opset import`,
				`node "add" (Add)|domain "" has no opset import`,
			},
		},
		{
			name:   "missing opset import of a domain",
			modify: func(m *graph.Model) { m.Opsets = m.Opsets[:1] },
			want:   []string{`node "scale" (Scale)|domain "ai.xtransformers" has no opset import`},
		},
		{
			name: "unknown domain op",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[0].Domain = graph.DomainXT
			},
			want: []string{`node "relu" (Relu)|op ai.xtransformers.Relu is neither a standard op nor a function of this model`},
		},
		{
			name: "ai.onnx and com.microsoft are standard",
			modify: func(m *graph.Model) {
				m.Opsets[0].Domain = "ai.onnx"
				m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: "com.microsoft", Version: 1})
				m.Graph.Nodes[0].Domain = "com.microsoft"
			},
		},
		{
			name: "function arity mismatch",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[2].Inputs = []string{"a", "a", "a"}
			},
			want: []string{`node "scale" (Scale)|calls function ai.xtransformers.Scale (2 inputs, 1 outputs) with 3 inputs and 1 outputs`},
		},
		{
			name: "initializer size mismatch",
			modify: func(m *graph.Model) {
				m.Graph.Initializers[0].Dims = []int64{3}
			},
			want: []string{`initializer "w"|shape [3] of float32 needs 12 bytes, data has 8`},
		},
		{
			name: "initializer with empty name",
			modify: func(m *graph.Model) {
				m.Graph.Initializers = append(m.Graph.Initializers, graph.FloatTensor("", nil, []float32{1}))
			},
			want: []string{"initializer|has an empty name"},
		},
		{
			name: "initializer name of a graph input is allowed",
			modify: func(m *graph.Model) {
				m.Graph.Inputs = append(m.Graph.Inputs, graph.ValueInfo{Name: "w", DType: graph.Float})
			},
		},
		{
			name: "duplicate graph input",
			modify: func(m *graph.Model) {
				m.Graph.Inputs = append(m.Graph.Inputs, graph.ValueInfo{Name: "in", DType: graph.Float})
			},
			want: []string{`graph input "in"|name already used by graph input`},
		},
		{
			name: "graph output not produced",
			modify: func(m *graph.Model) {
				m.Graph.Outputs = append(m.Graph.Outputs, graph.ValueInfo{Name: "logits"})
			},
			want: []string{`graph output "logits"|is not produced by any node, input or initializer`},
		},
		{
			name: "duplicate node name",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[1].Name = "relu"
			},
			want: []string{`node "relu" (Add)|node name is used twice`},
		},
		{
			name: "node without op type",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[0].OpType = ""
			},
			want: []string{`node "relu" ()|has no op type`},
		},
		{
			name: "unnamed node is named by index",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[1].Name = ""
				m.Graph.Nodes[1].Inputs[0] = "missing"
			},
			want: []string{`node #1 (Add)|input "missing" is not produced`},
		},
		{
			name: "function defined twice",
			modify: func(m *graph.Model) {
				m.Functions = append(m.Functions, scaleFn())
			},
			want: []string{"function ai.xtransformers.Scale|defined twice"},
		},
		{
			name: "function output not produced",
			modify: func(m *graph.Model) {
				m.Functions[0].Nodes[2].Outputs[0] = "z"
			},
			want: []string{`function ai.xtransformers.Scale|output "y" is not produced by the body`},
		},
		{
			name: "function body input missing",
			modify: func(m *graph.Model) {
				m.Functions[0].Nodes[1].Inputs[1] = "beta"
			},
			want: []string{`function ai.xtransformers.Scale: node "mul" (Mul)|input "beta" is not produced before this node`},
		},
		{
			name: "function body domain without import",
			modify: func(m *graph.Model) {
				m.Functions[0].Nodes[1].Domain = "com.microsoft"
			},
			want: []string{`function ai.xtransformers.Scale: node "mul" (Mul)|domain "com.microsoft" has no opset import in the function`},
		},
		{
			name: "several problems are all reported",
			modify: func(m *graph.Model) {
				m.Graph.Nodes[1].Name = "relu"
				m.Graph.Outputs[0].Name = "gone"
				m.Graph.Initializers[0].Raw = nil
			},
			want: []string{
				`initializer "w"|needs 8 bytes, data has 0`,
				`node "relu" (Add)|node name is used twice`,
				`graph output "gone"|is not produced`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validModel()
			tt.modify(m)
			err := graph.Check(m)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Check passed, want an error")
			}
			var ce *graph.CheckError
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *CheckError: %v", err, err)
			}
			var found []*graph.CheckError
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					var c *graph.CheckError
					if errors.As(e, &c) {
						found = append(found, c)
					}
				}
			} else {
				found = append(found, ce)
			}
			if len(found) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(found), len(tt.want), err)
			}
			for _, w := range tt.want {
				where, problem, _ := strings.Cut(w, "|")
				ok := false
				for _, c := range found {
					if c.Where == where && strings.Contains(c.Problem, problem) {
						ok = true
					}
				}
				if !ok {
					t.Errorf("no problem at %s saying %q in:\n%v", where, problem, err)
				}
				if !strings.Contains(err.Error(), "graph check: "+where+": ") {
					t.Errorf("error text does not name %s:\n%v", where, err)
				}
			}
		})
	}
}

func TestCheckNoGraph(t *testing.T) {
	err := graph.Check(&graph.Model{})
	var ce *graph.CheckError
	if !errors.As(err, &ce) || ce.Where != "model" || err.Error() != "graph check: model: has no graph" {
		t.Errorf("err = %v", err)
	}
}

func TestModelHelpers(t *testing.T) {
	m := validModel()
	if got := m.Opset(""); got != 18 {
		t.Errorf("Opset(\"\") = %d", got)
	}
	if got := m.Opset(graph.DomainXT); got != 1 {
		t.Errorf("Opset(xt) = %d", got)
	}
	if got := m.Opset("com.microsoft"); got != 0 {
		t.Errorf("Opset(ms) = %d", got)
	}
	m.Opsets[0].Domain = "ai.onnx"
	if got := m.Opset(""); got != 18 {
		t.Errorf("Opset via ai.onnx = %d", got)
	}
	if f := m.Function(graph.DomainXT, "Scale"); f == nil || f.Name != "Scale" {
		t.Errorf("Function(Scale) = %v", f)
	}
	if f := m.Function("", "Scale"); f != nil {
		t.Errorf("Function in wrong domain = %v", f)
	}
	m.SetMetadata("a", "1")
	m.SetMetadata("b", "2")
	m.SetMetadata("a", "3")
	if v, ok := m.MetadataValue("a"); !ok || v != "3" {
		t.Errorf("a = %q %v", v, ok)
	}
	if _, ok := m.MetadataValue("c"); ok {
		t.Error("c found")
	}
	if len(m.Metadata) != 2 || m.Metadata[0].Key != "a" || m.Metadata[1].Key != "b" {
		t.Errorf("metadata order %v", m.Metadata)
	}
}
