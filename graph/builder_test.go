package graph_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/graph"
)

func TestBuilderNames(t *testing.T) {
	tests := []struct {
		name  string
		build func(b *graph.Builder) []string
		want  []string
	}{
		{
			name: "scoped op names",
			build: func(b *graph.Builder) []string {
				s := b.Scope("attn_layers").Scope("layers.0")
				return []string{s.Op("Add", "residual", []string{"x", "y"}), s.Prefix()}
			},
			want: []string{"attn_layers.layers.0.residual", "attn_layers.layers.0"},
		},
		{
			name: "reuse gets _2 and _3",
			build: func(b *graph.Builder) []string {
				s := b.Scope("l")
				return []string{
					s.Op("Relu", "act", []string{"x"}),
					s.Op("Relu", "act", []string{"x"}),
					s.Op("Relu", "act", []string{"x"}),
					b.Op("Relu", "l.act", []string{"x"}),
				}
			},
			want: []string{"l.act", "l.act_2", "l.act_3", "l.act_4"},
		},
		{
			name: "empty scope and empty suffix",
			build: func(b *graph.Builder) []string {
				s := b.Scope("a").Scope("")
				return []string{s.Prefix(), s.Name(""), s.Name("")}
			},
			want: []string{"a", "a", "a_2"},
		},
		{
			name: "reserved names are skipped",
			build: func(b *graph.Builder) []string {
				b.Reserve("x", "mask")
				return []string{b.Name("x"), b.Name("mask"), b.Name("y")}
			},
			want: []string{"x_2", "mask_2", "y"},
		},
		{
			name: "multi-output node names its outputs name.i",
			build: func(b *graph.Builder) []string {
				return b.Scope("s").OpN("", "Split", "split", []string{"x"}, 3)
			},
			want: []string{"s.split.0", "s.split.1", "s.split.2"},
		},
		{
			name: "multi-output outputs are reserved",
			build: func(b *graph.Builder) []string {
				b.OpN("", "Split", "split", []string{"x"}, 2)
				return []string{b.Name("split.0"), b.Name("split")}
			},
			want: []string{"split.0_2", "split_2"},
		},
		{
			name: "Const ignores the scope",
			build: func(b *graph.Builder) []string {
				return []string{b.Scope("deep").Scope("er").ConstFloat("const.one", nil, 1)}
			},
			want: []string{"const.one"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.build(graph.NewGraphBuilder(18))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBuilderNodeFields(t *testing.T) {
	b := graph.NewGraphBuilder(17)
	if b.Opset() != 17 || b.InFunction() {
		t.Fatalf("Opset %d InFunction %v, want 17 false", b.Opset(), b.InFunction())
	}
	in := []string{"x", "w"}
	out := b.Scope("p").Op("MatMul", "mm", in, graph.AInt("k", 3))
	in[0] = "changed" // the node must hold its own copy
	nodes := b.Nodes()
	if len(nodes) != 1 {
		t.Fatalf("%d nodes, want 1", len(nodes))
	}
	want := &graph.Node{Name: "p.mm", OpType: "MatMul", Domain: "", Inputs: []string{"x", "w"}, Outputs: []string{"p.mm"},
		Attrs: []graph.Attr{{Name: "k", Type: graph.AttrInt, I: 3}}}
	if !reflect.DeepEqual(nodes[0], want) || out != "p.mm" {
		t.Errorf("node %+v (out %q), want %+v", nodes[0], out, want)
	}
	if a, ok := nodes[0].Attr("k"); !ok || a.I != 3 {
		t.Errorf("Attr(k) = %+v, %v", a, ok)
	}
	if _, ok := nodes[0].Attr("nope"); ok {
		t.Error("Attr(nope) found")
	}
}

func TestBuilderConstDedupe(t *testing.T) {
	tests := []struct {
		name     string
		build    func(b *graph.Builder) []string
		want     []string
		numConst int
	}{
		{
			name: "equal content shares a name",
			build: func(b *graph.Builder) []string {
				return []string{b.ConstFloat("c", nil, 1), b.Scope("x").ConstFloat("other", nil, 1)}
			},
			want: []string{"c", "c"}, numConst: 1,
		},
		{
			name: "different data, same name",
			build: func(b *graph.Builder) []string {
				return []string{b.ConstFloat("c", nil, 1), b.ConstFloat("c", nil, 2)}
			},
			want: []string{"c", "c_2"}, numConst: 2,
		},
		{
			name: "same bytes, different dims",
			build: func(b *graph.Builder) []string {
				return []string{b.ConstInt64("c", []int64{2}, 1, 2), b.ConstInt64("c", []int64{1, 2}, 1, 2)}
			},
			want: []string{"c", "c_2"}, numConst: 2,
		},
		{
			name: "same bytes, different dtype",
			build: func(b *graph.Builder) []string {
				// float32 bits of 0 and int64 0 are both zero bytes
				return []string{b.ConstFloat("c", []int64{2}, 0, 0), b.ConstInt64("c", nil, 0)}
			},
			want: []string{"c", "c_2"}, numConst: 2,
		},
		{
			name: "Ints1D is a 1-D int64 const",
			build: func(b *graph.Builder) []string {
				return []string{b.Ints1D("axes", 0, 1), b.ConstInt64("other", []int64{2}, 0, 1)}
			},
			want: []string{"axes", "axes"}, numConst: 1,
		},
	}
	for _, tt := range tests {
		for _, fn := range []bool{false, true} {
			name := tt.name + "/graph"
			if fn {
				name = tt.name + "/function"
			}
			t.Run(name, func(t *testing.T) {
				b := graph.NewGraphBuilder(18)
				if fn {
					b = graph.NewFunctionBuilder(18)
				}
				got := tt.build(b)
				if !reflect.DeepEqual(got, tt.want) {
					t.Errorf("names %q, want %q", got, tt.want)
				}
				if fn {
					if len(b.Initializers()) != 0 {
						t.Errorf("function builder has %d initializers", len(b.Initializers()))
					}
					if len(b.Nodes()) != tt.numConst {
						t.Fatalf("%d Constant nodes, want %d", len(b.Nodes()), tt.numConst)
					}
					for i, n := range b.Nodes() {
						if n.OpType != "Constant" || n.Name != n.Outputs[0] || len(n.Inputs) != 0 {
							t.Errorf("node %d: %+v, want a Constant node named as its output", i, n)
						}
						a, ok := n.Attr("value")
						if !ok || a.Type != graph.AttrTensor || a.T == nil || a.T.Check() != nil {
							t.Errorf("node %d: value attribute %+v", i, a)
						}
					}
				} else {
					if len(b.Nodes()) != 0 {
						t.Errorf("graph builder emitted %d nodes for constants", len(b.Nodes()))
					}
					if len(b.Initializers()) != tt.numConst {
						t.Errorf("%d initializers, want %d", len(b.Initializers()), tt.numConst)
					}
				}
			})
		}
	}
}

func TestBuilderConstValue(t *testing.T) {
	b := graph.NewGraphBuilder(18)
	b.ConstFloat("c", []int64{3}, 1, -2, 0.5)
	inits := b.Initializers()
	if len(inits) != 1 {
		t.Fatalf("%d initializers", len(inits))
	}
	got, err := inits[0].Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []float32{1, -2, 0.5}) || !reflect.DeepEqual(inits[0].Dims, []int64{3}) || inits[0].Name != "c" {
		t.Errorf("initializer %q %v %v", inits[0].Name, inits[0].Dims, got)
	}
}

func TestBuilderInitializer(t *testing.T) {
	w := graph.FloatTensor("layer.weight", []int64{2, 2}, []float32{1, 2, 3, 4})
	t.Run("graph", func(t *testing.T) {
		b := graph.NewGraphBuilder(18)
		name, err := b.Initializer(w)
		if err != nil || name != "layer.weight" {
			t.Fatalf("Initializer = %q, %v", name, err)
		}
		if len(b.Initializers()) != 1 || b.Initializers()[0] != w || len(b.Nodes()) != 0 {
			t.Errorf("initializers %v nodes %v", b.Initializers(), b.Nodes())
		}
		// The name is now taken: a node asking for it gets a suffix.
		if got := b.Name("layer.weight"); got != "layer.weight_2" {
			t.Errorf("Name after Initializer = %q", got)
		}
		if _, err := b.Initializer(w); err == nil || !strings.Contains(err.Error(), `"layer.weight" is already in use`) {
			t.Errorf("second Initializer: %v", err)
		}
	})
	t.Run("function", func(t *testing.T) {
		b := graph.NewFunctionBuilder(18)
		if !b.InFunction() {
			t.Fatal("InFunction false")
		}
		name, err := b.Initializer(w)
		if err != nil || name != "layer.weight" {
			t.Fatalf("Initializer = %q, %v", name, err)
		}
		if len(b.Initializers()) != 0 || len(b.Nodes()) != 1 {
			t.Fatalf("initializers %d nodes %d, want 0 and 1", len(b.Initializers()), len(b.Nodes()))
		}
		n := b.Nodes()[0]
		a, _ := n.Attr("value")
		if n.OpType != "Constant" || n.Outputs[0] != "layer.weight" || a.T == nil ||
			!reflect.DeepEqual(a.T.Raw, w.Raw) || !reflect.DeepEqual(a.T.Dims, w.Dims) || a.T.Name != "" {
			t.Errorf("node %+v value %+v", n, a.T)
		}
	})
	t.Run("bad tensor", func(t *testing.T) {
		b := graph.NewGraphBuilder(18)
		_, err := b.Initializer(&graph.Tensor{Name: "bad", DType: graph.Float, Dims: []int64{3}, Raw: make([]byte, 8)})
		if err == nil || !strings.Contains(err.Error(), `tensor "bad"`) || !strings.Contains(err.Error(), "needs 12 bytes, data has 8") {
			t.Errorf("err = %v", err)
		}
		if len(b.Initializers()) != 0 {
			t.Error("bad tensor was added")
		}
	})
}

// relu builds a one-input function whose body is a single Relu.
func relu(t *testing.T, name string) *graph.Function {
	t.Helper()
	f, err := graph.BuildFunction(18, graph.FunctionSpec{Domain: graph.DomainXT, Name: name, Inputs: []string{"x"}, Outputs: []string{"y"}},
		func(b *graph.Builder, in []string) ([]string, error) {
			return []string{b.Op("Relu", "y", in)}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestBuildFunction(t *testing.T) {
	t.Run("outputs renamed with Identity", func(t *testing.T) {
		f, err := graph.BuildFunction(18, graph.FunctionSpec{
			Domain: graph.DomainXT, Name: "F", Doc: "  doc with spaces \n",
			Inputs: []string{"x", "w"}, Outputs: []string{"y", "x_out"}, Attributes: []string{"alpha"},
		}, func(b *graph.Builder, in []string) ([]string, error) {
			// "y" is reserved for the output, so the node becomes y_2.
			y := b.Op("MatMul", "y", in)
			return []string{y, in[0]}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range f.Nodes {
			got = append(got, n.OpType+":"+n.Name+":"+strings.Join(n.Inputs, ",")+"->"+strings.Join(n.Outputs, ","))
		}
		want := []string{"MatMul:y_2:x,w->y_2", "Identity:y:y_2->y", "Identity:x_out:x->x_out"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("nodes %q, want %q", got, want)
		}
		if f.Doc != "doc with spaces" || f.Domain != graph.DomainXT || f.Name != "F" ||
			!reflect.DeepEqual(f.Attributes, []string{"alpha"}) ||
			!reflect.DeepEqual(f.Opsets, []graph.OpsetImport{{Domain: "", Version: 18}}) {
			t.Errorf("function %+v", f)
		}
	})
	t.Run("wrong output count", func(t *testing.T) {
		_, err := graph.BuildFunction(18, graph.FunctionSpec{Domain: "d", Name: "G", Inputs: []string{"x"}, Outputs: []string{"a", "b"}},
			func(b *graph.Builder, in []string) ([]string, error) { return in, nil })
		if err == nil || !strings.Contains(err.Error(), "function d.G: body returned 1 outputs, spec has 2") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("body error is wrapped", func(t *testing.T) {
		sentinel := errors.New("boom")
		_, err := graph.BuildFunction(18, graph.FunctionSpec{Domain: "d", Name: "G"},
			func(b *graph.Builder, in []string) ([]string, error) { return nil, sentinel })
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), "building function d.G") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("nested dependencies in first-use order", func(t *testing.T) {
		d, c := relu(t, "D"), relu(t, "C")
		bFn, err := graph.BuildFunction(18, graph.FunctionSpec{Domain: graph.DomainXT, Name: "B", Inputs: []string{"x"}, Outputs: []string{"y"}},
			func(b *graph.Builder, in []string) ([]string, error) {
				return b.Call(d, "d", in), nil
			})
		if err != nil {
			t.Fatal(err)
		}
		a, err := graph.BuildFunction(18, graph.FunctionSpec{Domain: graph.DomainXT, Name: "A", Inputs: []string{"x"}, Outputs: []string{"y"}},
			func(b *graph.Builder, in []string) ([]string, error) {
				h := b.Call(bFn, "b", in)
				h = b.Call(c, "c", h)
				h = b.Call(bFn, "b", h) // second use: no new registration
				return h, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if want := []graph.OpsetImport{{Domain: "", Version: 18}, {Domain: graph.DomainXT, Version: 1}}; !reflect.DeepEqual(a.Opsets, want) {
			t.Errorf("A opsets %v, want %v", a.Opsets, want)
		}
		g := graph.NewGraphBuilder(18)
		g.Call(c, "first_c", []string{"x"}) // C used before A
		g.Call(a, "a", []string{"x"})
		g.Call(a, "a", []string{"x"})
		var order []string
		for _, f := range g.Functions() {
			order = append(order, f.Name)
		}
		if want := []string{"C", "D", "B", "A"}; !reflect.DeepEqual(order, want) {
			t.Errorf("functions %v, want %v", order, want)
		}
		var calls []string
		for _, n := range g.Nodes() {
			calls = append(calls, n.Domain+"."+n.OpType+":"+n.Name)
		}
		if want := []string{"ai.xtransformers.C:first_c", "ai.xtransformers.A:a", "ai.xtransformers.A:a_2"}; !reflect.DeepEqual(calls, want) {
			t.Errorf("call nodes %v, want %v", calls, want)
		}
	})
	t.Run("function body constants become Constant nodes", func(t *testing.T) {
		f, err := graph.BuildFunction(18, graph.FunctionSpec{Name: "K", Inputs: []string{"x"}, Outputs: []string{"y"}},
			func(b *graph.Builder, in []string) ([]string, error) {
				return []string{b.Op("Add", "sum", []string{in[0], b.ConstFloat("one", nil, 1)})}, nil
			})
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Nodes) != 3 || f.Nodes[0].OpType != "Constant" || f.Nodes[0].Outputs[0] != "one" {
			t.Errorf("nodes %+v", f.Nodes)
		}
	})
}
