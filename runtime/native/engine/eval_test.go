package engine

import (
	"errors"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// testModel returns y = Relu(x + bias) · 2 through a model-local function
// that doubles, at opset 17.
func testModel() *graph.Model {
	double := &graph.Function{
		Domain: graph.DomainXT, Name: "Double",
		Inputs: []string{"a"}, Outputs: []string{"b"},
		Nodes:  []*graph.Node{{Name: "add", OpType: "Add", Inputs: []string{"a", "a"}, Outputs: []string{"b"}}},
		Opsets: []graph.OpsetImport{{Domain: "", Version: 17}},
	}
	return &graph.Model{
		IRVersion: 8,
		Opsets:    []graph.OpsetImport{{Domain: "", Version: 17}, {Domain: graph.DomainXT, Version: 1}},
		Graph: &graph.Graph{
			Inputs:       []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("n"), graph.Fixed(2)}}},
			Outputs:      []graph.ValueInfo{{Name: "y", DType: graph.Float}},
			Initializers: []*graph.Tensor{graph.FloatTensor("bias", []int64{2}, []float32{1, -10})},
			Nodes: []*graph.Node{
				{Name: "layers.0.add", OpType: "Add", Inputs: []string{"x", "bias"}, Outputs: []string{"s"}},
				{Name: "layers.0.relu", OpType: "Relu", Inputs: []string{"s"}, Outputs: []string{"r"}},
				{Name: "layers.0.double", OpType: "Double", Domain: graph.DomainXT, Inputs: []string{"r"}, Outputs: []string{"y"}},
			},
		},
		Functions: []*graph.Function{double},
	}
}

func TestEval(t *testing.T) {
	m := testModel()
	out, err := Eval(m, map[string]*tensor.Dense{"x": f32([]int{2, 2}, 1, 20, -5, 3)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sameValues(out["y"], f32([]int{2, 2}, 4, 20, 0, 0), 0); err != nil {
		t.Error(err)
	}
	if len(m.Functions) != 1 || len(m.Graph.Nodes) != 3 || len(m.Opsets) != 2 {
		t.Errorf("Eval changed the model: %d functions, %d nodes, %d opsets", len(m.Functions), len(m.Graph.Nodes), len(m.Opsets))
	}
}

func TestEvalErrors(t *testing.T) {
	x := map[string]*tensor.Dense{"x": f32([]int{1, 2}, 1, 2)}
	tests := []struct {
		name   string
		edit   func(m *graph.Model)
		inputs map[string]*tensor.Dense
		want   string
		check  func(t *testing.T, err error)
	}{
		{name: "missing input", inputs: map[string]*tensor.Dense{}, want: "no value for graph input(s) x"},
		{name: "unknown input", inputs: map[string]*tensor.Dense{"x": x["x"], "z": x["x"]}, want: `"z" is not a graph input`},
		{name: "wrong type", inputs: map[string]*tensor.Dense{"x": i64([]int{1, 2}, 1, 2)}, want: `input "x" is int64, the model declares float32`},
		{name: "wrong fixed dim", inputs: map[string]*tensor.Dense{"x": f32([]int{1, 3}, 1, 2, 3)}, want: "has shape (1, 3)"},
		{
			name: "unsupported operators are collected",
			edit: func(m *graph.Model) {
				m.Graph.Nodes = append(m.Graph.Nodes,
					&graph.Node{Name: "g1", OpType: "Frobnicate", Inputs: []string{"y"}, Outputs: []string{"u"}},
					&graph.Node{Name: "g2", OpType: "Frobnicate", Inputs: []string{"u"}, Outputs: []string{"v"}},
					&graph.Node{Name: "gelu", OpType: "Gelu", Inputs: []string{"v"}, Outputs: []string{"w"}})
			},
			want: `Frobnicate (opset 17; nodes "g1", "g2")`,
			check: func(t *testing.T, err error) {
				var ue *UnsupportedOpsError
				if !errors.As(err, &ue) || len(ue.Ops) != 2 {
					t.Fatalf("want an *UnsupportedOpsError with 2 operators, got %v", err)
				}
				if g := ue.Ops[1]; g.OpType != "Gelu" || len(g.Supported) != 1 || g.Supported[0] != 20 {
					t.Errorf("second entry %+v, want Gelu implemented from 20", g)
				}
			},
		},
		{
			name: "bad attribute fails before running",
			edit: func(m *graph.Model) {
				m.Graph.Nodes[1].Attrs = []graph.Attr{graph.AFloat("alpha", 1)}
			},
			want: `native: node "layers.0.relu" (Relu, opset 17): unknown attribute(s) alpha`,
		},
		{
			name: "kernel errors name the node",
			edit: func(m *graph.Model) {
				m.Graph.Initializers[0] = graph.FloatTensor("bias", []int64{3}, []float32{1, 2, 3})
			},
			want: `native: node "layers.0.add" (Add, opset 17): shapes`,
			check: func(t *testing.T, err error) {
				var ne *kernels.NodeError
				if !errors.As(err, &ne) || ne.Node != "layers.0.add" || ne.OpType != "Add" || ne.Opset != 17 {
					t.Errorf("want a *kernels.NodeError for layers.0.add, got %#v", err)
				}
			},
		},
		{
			name: "value never computed",
			edit: func(m *graph.Model) { m.Graph.Nodes[1].Inputs[0] = "nowhere" },
			want: `input 0 ("nowhere") is not computed by any earlier node`,
		},
		{
			name: "arity",
			edit: func(m *graph.Model) { m.Graph.Nodes[0].Inputs = []string{"x"} },
			want: "has 1 inputs, needs at least 2",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel()
			if tc.edit != nil {
				tc.edit(m)
			}
			in := tc.inputs
			if in == nil {
				in = x
			}
			_, err := Eval(m, in, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

func TestKernelPanicIsRecovered(t *testing.T) {
	reg := kernels.NewRegistry()
	reg.Register(kernels.OpSpec{OpType: "Boom", Since: 1, MinInputs: 1, MaxInputs: 1, Outputs: 1,
		Convert: func(n *kernels.Node) (kernels.Kernel, error) {
			return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
				var s []int
				_ = s[len(in)+3] // index out of range
				return nil, nil
			}, nil
		}})
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Version: 17}},
		Graph: &graph.Graph{
			Inputs:  []graph.ValueInfo{{Name: "x", DType: graph.Float}},
			Outputs: []graph.ValueInfo{{Name: "y"}},
			Nodes:   []*graph.Node{{Name: "boom", OpType: "Boom", Inputs: []string{"x"}, Outputs: []string{"y"}}},
		},
	}
	_, err := Eval(m, map[string]*tensor.Dense{"x": f32(nil, 1)}, reg)
	var ne *kernels.NodeError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "kernel panicked") {
		t.Fatalf("want a *kernels.NodeError reporting the panic, got %v", err)
	}
}

func TestDenseTensorRoundTrip(t *testing.T) {
	half := kernels.FromSlice([]int{2}, []kernels.Float16{kernels.Float16From(1.5), kernels.Float16From(-2)})
	for _, d := range []*tensor.Dense{
		f32([]int{2, 2}, 1, 2, 3, 4), f64(sc, 2.5), i64(nil, -1, 1<<40), i32(nil, 7), bools([]int{1, 2}, true, false),
		kernels.FromSlice([]int{2}, []uint8{1, 255}), kernels.FromSlice([]int{1}, []int8{-3}), kernels.FromSlice([]int{1}, []uint16{65535}),
		kernels.FromSlice([]int{1}, []int16{-300}), kernels.FromSlice([]int{1}, []uint32{1 << 31}), kernels.FromSlice([]int{1}, []uint64{1 << 63}),
		half, f32([]int{0, 3}),
	} {
		gt, err := kernels.TensorFromDense("t", d)
		if err != nil {
			t.Fatal(err)
		}
		if err := gt.Check(); err != nil {
			t.Fatal(err)
		}
		back, err := kernels.DenseFromTensor(gt)
		if err != nil {
			t.Fatal(err)
		}
		if err := sameValues(back, d, 0); err != nil {
			t.Errorf("%v %v: %v", d.Dtype(), d.Shape(), err)
		}
	}
	// Raw bool bytes other than 0 and 1 mean true.
	b, err := kernels.DenseFromTensor(&graph.Tensor{Name: "b", DType: graph.Bool, Dims: []int64{2}, Raw: []byte{0, 7}})
	if err != nil || !b.Data().([]bool)[1] || b.Data().([]bool)[0] {
		t.Errorf("bool decode: %v %v", b, err)
	}
	if _, err := kernels.DenseFromTensor(&graph.Tensor{Name: "s", DType: graph.String}); err == nil {
		t.Error("string tensor converted")
	}
	if gt, err := kernels.TensorFromDense("h", half); err != nil || gt.DType != graph.Float16 || len(gt.Raw) != 4 {
		t.Errorf("float16 tensor: %+v, %v", gt, err)
	}
}

func TestRegistryDispatch(t *testing.T) {
	r := kernels.DefaultRegistry()
	for _, c := range []struct {
		op    string
		opset int64
		since int64
	}{{"Softmax", 11, 1}, {"Softmax", 17, 13}, {"ReduceMean", 17, 1}, {"ReduceMean", 18, 18}, {"ReduceSum", 13, 13},
		{"Split", 17, 13}, {"Split", 18, 18}, {"Pad", 18, 18}, {"Pad", 23, 19}, {"Squeeze", 12, 1}, {"Squeeze", 13, 13},
		{"Attention", 23, 23}, {"Attention", 25, 24}, {"Cast", 23, 21}} {
		s, err := r.Lookup("ai.onnx", c.op, c.opset)
		if err != nil || s.Since != c.since {
			t.Errorf("Lookup(%s, %d) = since %d, %v; want since %d", c.op, c.opset, s.Since, err, c.since)
		}
	}
	if _, err := r.Lookup("", "RotaryEmbedding", 22); err == nil {
		t.Error("RotaryEmbedding found at opset 22")
	}
	for _, s := range r.Ops() {
		if s.Convert == nil || s.Outputs < 1 || (s.MaxInputs >= 0 && s.MaxInputs < s.MinInputs) {
			t.Errorf("bad spec %+v", s)
		}
	}
}
