package graph_test

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/graph"
)

// scaleFn is Scale(x, bias?) -> y with float attribute alpha:
// y = x * alpha (+ bias), alpha read through a Constant node with a Ref.
func scaleFn() *graph.Function {
	return &graph.Function{
		Domain: graph.DomainXT, Name: "Scale",
		Inputs: []string{"x", "bias"}, Outputs: []string{"y"}, Attributes: []string{"alpha"},
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}},
		Nodes: []*graph.Node{
			{Name: "alpha", OpType: "Constant", Outputs: []string{"alpha"},
				Attrs: []graph.Attr{graph.ARef("value_float", graph.AttrFloat, "alpha")}},
			{Name: "mul", OpType: "Mul", Inputs: []string{"x", "alpha"}, Outputs: []string{"mul"}},
			{Name: "y", OpType: "Add", Inputs: []string{"mul", "bias"}, Outputs: []string{"y"},
				Attrs: []graph.Attr{graph.AInt("fixed", 7)}},
		},
	}
}

// outerFn is Outer(x) -> y with float attribute a, calling Scale twice.
func outerFn() *graph.Function {
	return &graph.Function{
		Domain: graph.DomainXT, Name: "Outer",
		Inputs: []string{"x"}, Outputs: []string{"y"}, Attributes: []string{"a"},
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}, {Domain: graph.DomainXT, Version: 1}},
		Nodes: []*graph.Node{
			{Name: "s1", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"x"}, Outputs: []string{"h"},
				Attrs: []graph.Attr{graph.ARef("alpha", graph.AttrFloat, "a")}},
			{Name: "s2", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"h", "x"}, Outputs: []string{"y"},
				Attrs: []graph.Attr{graph.AFloat("alpha", 3)}},
		},
	}
}

func model(nodes []*graph.Node, fns ...*graph.Function) *graph.Model {
	return &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}, {Domain: graph.DomainXT, Version: 1}},
		Graph: &graph.Graph{
			Inputs:  []graph.ValueInfo{{Name: "in", DType: graph.Float}, {Name: "b", DType: graph.Float}},
			Outputs: []graph.ValueInfo{{Name: "out", DType: graph.Float}},
			Nodes:   nodes,
		},
		Functions: fns,
	}
}

// describe renders nodes as "name: op(in,…)->out,… attrs" for comparison.
func describe(nodes []*graph.Node) []string {
	var out []string
	for _, n := range nodes {
		s := n.Name + ": " + n.OpType + "(" + strings.Join(n.Inputs, ",") + ")->" + strings.Join(n.Outputs, ",")
		for _, a := range n.Attrs {
			s += " " + a.Name + "="
			switch a.Type {
			case graph.AttrFloat:
				s += "f" + strconv.FormatFloat(float64(a.F), 'g', -1, 32)
			case graph.AttrInt:
				s += "i" + strconv.FormatInt(a.I, 10)
			default:
				s += "?"
			}
			if a.Ref != "" {
				s += "@" + a.Ref
			}
		}
		out = append(out, s)
	}
	return out
}

func TestInlineFunctions(t *testing.T) {
	tests := []struct {
		name      string
		m         *graph.Model
		want      []string
		wantErr   string
		opsets    []graph.OpsetImport
		checkPass bool
	}{
		{
			name: "single call, ref resolved, all inputs",
			m: model([]*graph.Node{{Name: "call", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"in", "b"}, Outputs: []string{"out"},
				Attrs: []graph.Attr{graph.AFloat("alpha", 2)}}}, scaleFn()),
			want: []string{
				"call/alpha: Constant()->call/alpha value_float=f2",
				"call/mul: Mul(in,call/alpha)->call/mul",
				"call/y: Add(call/mul,b)->out fixed=i7",
			},
			opsets:    []graph.OpsetImport{{Domain: "", Version: 18}},
			checkPass: true,
		},
		{
			name: "missing optional input becomes empty",
			m: model([]*graph.Node{{Name: "c", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"in"}, Outputs: []string{"out"},
				Attrs: []graph.Attr{graph.AFloat("alpha", 0.5)}}}, scaleFn()),
			want: []string{
				"c/alpha: Constant()->c/alpha value_float=f0.5",
				"c/mul: Mul(in,c/alpha)->c/mul",
				"c/y: Add(c/mul,)->out fixed=i7",
			},
			checkPass: true,
		},
		{
			name: "missing ref drops the attribute",
			m: model([]*graph.Node{{Name: "c", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"in", "b"}, Outputs: []string{"out"},
				Attrs: []graph.Attr{graph.AFloat("unrelated", 1)}}}, scaleFn()),
			want: []string{
				"c/alpha: Constant()->c/alpha",
				"c/mul: Mul(in,c/alpha)->c/mul",
				"c/y: Add(c/mul,b)->out fixed=i7",
			},
		},
		{
			name: "nested functions expand recursively",
			m: model([]*graph.Node{
				{Name: "pre", OpType: "Relu", Inputs: []string{"in"}, Outputs: []string{"r"}},
				{Name: "o", OpType: "Outer", Domain: graph.DomainXT, Inputs: []string{"r"}, Outputs: []string{"out"},
					Attrs: []graph.Attr{graph.AFloat("a", 4)}},
			}, scaleFn(), outerFn()),
			want: []string{
				"pre: Relu(in)->r",
				"o/s1/alpha: Constant()->o/s1/alpha value_float=f4",
				"o/s1/mul: Mul(r,o/s1/alpha)->o/s1/mul",
				"o/s1/y: Add(o/s1/mul,)->o/h fixed=i7",
				"o/s2/alpha: Constant()->o/s2/alpha value_float=f3",
				"o/s2/mul: Mul(o/h,o/s2/alpha)->o/s2/mul",
				"o/s2/y: Add(o/s2/mul,r)->out fixed=i7",
			},
			opsets:    []graph.OpsetImport{{Domain: "", Version: 18}},
			checkPass: true,
		},
		{
			name: "attribute type mismatch",
			m: model([]*graph.Node{{Name: "call", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"in"}, Outputs: []string{"out"},
				Attrs: []graph.Attr{graph.AInt("alpha", 2)}}}, scaleFn()),
			wantErr: `node "call": attribute "alpha" of ai.xtransformers.Scale is`,
		},
		{
			name:    "too many inputs",
			m:       model([]*graph.Node{{Name: "call", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"in", "b", "in"}, Outputs: []string{"out"}}}, scaleFn()),
			wantErr: `node "call" calls ai.xtransformers.Scale with 3 inputs, the function takes 2`,
		},
		{
			name:    "too many outputs",
			m:       model([]*graph.Node{{Name: "call", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"in"}, Outputs: []string{"out", "o2"}}}, scaleFn()),
			wantErr: `node "call" calls ai.xtransformers.Scale with 2 outputs, the function has 1`,
		},
		{
			name: "recursion is bounded",
			m: model([]*graph.Node{{Name: "call", OpType: "Loop", Domain: graph.DomainXT, Inputs: []string{"in"}, Outputs: []string{"out"}}},
				&graph.Function{Domain: graph.DomainXT, Name: "Loop", Inputs: []string{"x"}, Outputs: []string{"y"},
					Nodes: []*graph.Node{{Name: "again", OpType: "Loop", Domain: graph.DomainXT, Inputs: []string{"x"}, Outputs: []string{"y"}}}}),
			wantErr: "nests deeper than 32 calls (recursive?)",
		},
		{
			name: "other domains keep their import",
			m: func() *graph.Model {
				m := model([]*graph.Node{
					{Name: "ms", OpType: "Gelu", Domain: "com.microsoft", Inputs: []string{"in"}, Outputs: []string{"g"}},
					{Name: "c", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"g", "b"}, Outputs: []string{"out"},
						Attrs: []graph.Attr{graph.AFloat("alpha", 1)}},
				}, scaleFn())
				m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: "com.microsoft", Version: 1}, graph.OpsetImport{Domain: "unused.domain", Version: 1})
				return m
			}(),
			want: []string{
				"ms: Gelu(in)->g",
				"c/alpha: Constant()->c/alpha value_float=f1",
				"c/mul: Mul(g,c/alpha)->c/mul",
				"c/y: Add(c/mul,b)->out fixed=i7",
			},
			opsets:    []graph.OpsetImport{{Domain: "", Version: 18}, {Domain: "com.microsoft", Version: 1}},
			checkPass: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := graph.InlineFunctions(tt.m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(tt.m.Graph.Nodes); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("nodes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if len(tt.m.Functions) != 0 {
				t.Errorf("%d functions left", len(tt.m.Functions))
			}
			if tt.opsets != nil && !reflect.DeepEqual(tt.m.Opsets, tt.opsets) {
				t.Errorf("opsets %v, want %v", tt.m.Opsets, tt.opsets)
			}
			for _, n := range tt.m.Graph.Nodes {
				for _, a := range n.Attrs {
					if a.Ref != "" {
						t.Errorf("node %q keeps unresolved ref %q", n.Name, a.Ref)
					}
				}
			}
			if tt.checkPass {
				if err := graph.Check(tt.m); err != nil {
					t.Errorf("inlined model fails Check: %v", err)
				}
			}
		})
	}
}

func TestInlineFunctionsNoFunctions(t *testing.T) {
	m := model([]*graph.Node{{Name: "r", OpType: "Relu", Inputs: []string{"in"}, Outputs: []string{"out"}}})
	before := append([]graph.OpsetImport(nil), m.Opsets...)
	if err := graph.InlineFunctions(m); err != nil {
		t.Fatal(err)
	}
	// Without functions nothing changes, not even unused imports.
	if !reflect.DeepEqual(m.Opsets, before) || len(m.Graph.Nodes) != 1 {
		t.Errorf("model changed: %v %v", m.Opsets, m.Graph.Nodes)
	}
}

// TestInlineFunctionsDoesNotModifyBodies checks that expanding a function
// twice leaves its body as it was (each call gets fresh nodes).
func TestInlineFunctionsDoesNotModifyBodies(t *testing.T) {
	f := scaleFn()
	before := describe(f.Nodes)
	m := model([]*graph.Node{
		{Name: "c1", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"in"}, Outputs: []string{"h"}, Attrs: []graph.Attr{graph.AFloat("alpha", 2)}},
		{Name: "c2", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"h"}, Outputs: []string{"out"}, Attrs: []graph.Attr{graph.AFloat("alpha", 5)}},
	}, f)
	if err := graph.InlineFunctions(m); err != nil {
		t.Fatal(err)
	}
	if got := describe(f.Nodes); !reflect.DeepEqual(got, before) {
		t.Errorf("function body changed:\n%v\nwas\n%v", got, before)
	}
	if len(m.Graph.Nodes) != 6 || m.Graph.Nodes[3].Attrs[0].F != 5 || m.Graph.Nodes[0].Attrs[0].F != 2 {
		t.Errorf("nodes %v", describe(m.Graph.Nodes))
	}
	if err := graph.Check(m); err != nil {
		t.Error(err)
	}
}

// TestInlineFunctionsUnnamedNodes covers models read from ONNX files, where
// node names are optional: unnamed calls and unnamed body nodes must still
// inline to a well-formed graph.
func TestInlineFunctionsUnnamedNodes(t *testing.T) {
	f := scaleFn()
	f.Nodes[1].Name = "" // unnamed body node
	f.Nodes[2].Name = ""
	m := model([]*graph.Node{
		{OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"in"}, Outputs: []string{"h"}, Attrs: []graph.Attr{graph.AFloat("alpha", 2)}},
		{OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"h"}, Outputs: []string{"out"}, Attrs: []graph.Attr{graph.AFloat("alpha", 5)}},
	}, f)
	if err := graph.InlineFunctions(m); err != nil {
		t.Fatal(err)
	}
	if err := graph.Check(m); err != nil {
		t.Errorf("inlined model fails Check:\n%v\nnodes:\n%s", err, strings.Join(describe(m.Graph.Nodes), "\n"))
	}
	want := []string{
		"Scale#1/alpha: Constant()->Scale#1/alpha value_float=f2",
		": Mul(in,Scale#1/alpha)->Scale#1/mul",
		": Add(Scale#1/mul,)->h fixed=i7",
		"Scale#2/alpha: Constant()->Scale#2/alpha value_float=f5",
		": Mul(h,Scale#2/alpha)->Scale#2/mul",
		": Add(Scale#2/mul,)->out fixed=i7",
	}
	if got := describe(m.Graph.Nodes); !reflect.DeepEqual(got, want) {
		t.Errorf("nodes\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestInlineFunctionsOmittedOutput checks a call that leaves a function
// output unnamed (""): the body still needs the value internally, so it
// must get a local name instead of becoming an omitted value.
func TestInlineFunctionsOmittedOutput(t *testing.T) {
	f := &graph.Function{
		Domain: graph.DomainXT, Name: "Two", Inputs: []string{"x"}, Outputs: []string{"y", "z"},
		Nodes: []*graph.Node{
			{Name: "z", OpType: "Relu", Inputs: []string{"x"}, Outputs: []string{"z"}},
			{Name: "y", OpType: "Neg", Inputs: []string{"z"}, Outputs: []string{"y"}},
		},
	}
	for _, tt := range []struct {
		name    string
		outputs []string
		want    []string
	}{
		{"both", []string{"out", "zz"}, []string{"c/z: Relu(in)->zz", "c/y: Neg(zz)->out"}},
		{"second omitted", []string{"out", ""}, []string{"c/z: Relu(in)->c/z", "c/y: Neg(c/z)->out"}},
		{"second absent", []string{"out"}, []string{"c/z: Relu(in)->c/z", "c/y: Neg(c/z)->out"}},
		{"first omitted", []string{"", "out"}, []string{"c/z: Relu(in)->out", "c/y: Neg(out)->c/y"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := model([]*graph.Node{{Name: "c", OpType: "Two", Domain: graph.DomainXT, Inputs: []string{"in"}, Outputs: tt.outputs}}, f)
			if err := graph.InlineFunctions(m); err != nil {
				t.Fatal(err)
			}
			if got := describe(m.Graph.Nodes); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("nodes %q, want %q", got, tt.want)
			}
		})
	}
}
