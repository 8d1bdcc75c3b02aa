package autodiff

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime/native/engine"

	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// ctModel builds a model of the default domain at opset 17.
func ctModel(inputs []graph.ValueInfo, inits []*graph.Tensor, nodes []*graph.Node, outputs ...string) *graph.Model {
	g := &graph.Graph{Name: "t", Inputs: inputs, Initializers: inits, Nodes: nodes}
	for _, o := range outputs {
		g.Outputs = append(g.Outputs, graph.ValueInfo{Name: o, DType: graph.Float})
	}
	return &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 17}}, Graph: g}
}

func ctNode(name, op string, inputs []string, outputs ...string) *graph.Node {
	return &graph.Node{Name: name, OpType: op, Inputs: inputs, Outputs: outputs}
}

func ctIn(name string, dt graph.DType, dims ...graph.Dim) graph.ValueInfo {
	return graph.ValueInfo{Name: name, DType: dt, Shape: dims}
}

func ctF64(shape []int, v ...float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func ctF32(shape []int, v ...float32) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v))
}

func ctDoubles(name string, dims []int64, v ...float64) *graph.Tensor {
	t := &graph.Tensor{Name: name, DType: graph.Double, Dims: dims}
	for _, x := range v {
		t.Raw = append(t.Raw, make([]byte, 8)...)
		b := math.Float64bits(x)
		for i := range 8 {
			t.Raw[len(t.Raw)-8+i] = byte(b >> (8 * i))
		}
	}
	return t
}

func ctCompile(t *testing.T, m *graph.Model, shapes map[string][]int64, opts CompileOptions) *Program {
	t.Helper()
	p, err := Compile(m, testRegistry(), shapes, opts)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

func ctRun(t *testing.T, p *Program, inputs map[string]*tensor.Dense) map[string]*tensor.Dense {
	t.Helper()
	outs, err := p.Run(context.Background(), inputs)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return outs
}

func ctEqual(t *testing.T, what string, got *tensor.Dense, shape []int, want ...float64) {
	t.Helper()
	if !slices.Equal([]int(got.Shape()), shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape(), shape)
	}
	v := ctVals(got)
	for i := range want {
		if math.Abs(v[i]-want[i]) > 1e-6 {
			t.Fatalf("%s = %v, want %v", what, v, want)
		}
	}
}

// shapeChainModel: y = Reshape(x, Concat(Gather(Shape(x), 0), [-1])) · W,
// z = Relu(y) + b. The Shape → Gather → Unsqueeze → Concat chain folds.
func shapeChainModel() *graph.Model {
	return ctModel(
		[]graph.ValueInfo{ctIn("x", graph.Double, graph.Sym("batch"), graph.Fixed(2), graph.Fixed(2))},
		[]*graph.Tensor{
			graph.Int64Tensor("zero", nil, []int64{0}),
			graph.Int64Tensor("axes", []int64{1}, []int64{0}),
			graph.Int64Tensor("minus1", []int64{1}, []int64{-1}),
			ctDoubles("W", []int64{4, 2}, 1, 0, 0, 1, 1, 0, 0, 1),
			ctDoubles("b", []int64{2}, 10, 20),
		},
		[]*graph.Node{
			ctNode("shape", "Shape", []string{"x"}, "s"),
			ctNode("gather", "Gather", []string{"s", "zero"}, "n"),
			ctNode("unsq", "Unsqueeze", []string{"n", "axes"}, "n1"),
			ctNode("concat", "Concat", []string{"n1", "minus1"}, "target"),
			ctNode("reshape", "Reshape", []string{"x", "target"}, "flat"),
			ctNode("mm", "MatMul", []string{"flat", "W"}, "y"),
			ctNode("relu", "Relu", []string{"y"}, "r"),
			ctNode("add", "Add", []string{"r", "b"}, "z"),
		}, "z")
}

func TestCompileFoldsShapeChains(t *testing.T) {
	m := shapeChainModel()
	for _, batch := range []int{1, 3} {
		p := ctCompile(t, m, map[string][]int64{"x": {int64(batch), 2, 2}}, CompileOptions{})
		if got := p.NumNodes(); got != 4 { // Reshape, MatMul, Relu, Add
			t.Errorf("batch %d: %d nodes run, want 4 (the shape chain folds)", batch, got)
		}
		x := make([]float64, batch*4)
		for i := range x {
			x[i] = float64(i) - 2
		}
		outs := ctRun(t, p, map[string]*tensor.Dense{"x": ctF64([]int{batch, 2, 2}, x...)})
		want := make([]float64, 0, batch*2)
		for r := range batch {
			row := x[r*4 : r*4+4]
			want = append(want, max(row[0]+row[2], 0)+10, max(row[1]+row[3], 0)+20)
		}
		ctEqual(t, fmt.Sprintf("batch %d: z", batch), outs["z"], []int{batch, 2}, want...)
	}
}

func TestCompileInlinesFunctions(t *testing.T) {
	f := &graph.Function{Domain: "ai.test", Name: "AddRelu", Inputs: []string{"a", "b"}, Outputs: []string{"c"},
		Nodes:  []*graph.Node{ctNode("add", "Add", []string{"a", "b"}, "s"), ctNode("relu", "Relu", []string{"s"}, "c")},
		Opsets: []graph.OpsetImport{{Domain: "", Version: 17}}}
	m := ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Fixed(3)), ctIn("y", graph.Double, graph.Fixed(3))}, nil,
		[]*graph.Node{{Name: "call", OpType: "AddRelu", Domain: "ai.test", Inputs: []string{"x", "y"}, Outputs: []string{"z"}}}, "z")
	m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: "ai.test", Version: 1})
	m.Functions = []*graph.Function{f}
	p := ctCompile(t, m, map[string][]int64{"x": {3}, "y": {3}}, CompileOptions{})
	outs := ctRun(t, p, map[string]*tensor.Dense{"x": ctF64([]int{3}, 1, -5, 2), "y": ctF64([]int{3}, 1, 1, 1)})
	ctEqual(t, "z", outs["z"], []int{3}, 2, 0, 3)
	if len(m.Functions) != 1 || len(m.Graph.Nodes) != 1 || len(m.Opsets) != 2 {
		t.Error("Compile changed its model")
	}
}

func TestCompileUnsupportedOps(t *testing.T) {
	m := ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Fixed(2))}, nil,
		[]*graph.Node{
			ctNode("a", "Foo", []string{"x"}, "a"),
			ctNode("", "Erf", []string{"a"}, "b"),
			ctNode("c", "Foo", []string{"b"}, "c"),
			{Name: "d", OpType: "Bar", Domain: "ai.other", Inputs: []string{"c"}, Outputs: []string{"d"}},
			ctNode("e", "Relu", []string{"d", "d"}, "e"), // bad arity: reported only once ops are supported
		}, "e")
	_, err := Compile(m, testRegistry(), map[string][]int64{"x": {2}}, CompileOptions{})
	var ue *engine.UnsupportedOpsError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T) is not an *engine.UnsupportedOpsError", err, err)
	}
	want := []engine.UnsupportedOp{
		{Domain: "", OpType: "Foo", Opset: 17, Nodes: []string{"a", "c"}},
		{Domain: "", OpType: "Erf", Opset: 17, Supported: []int64{99}, Nodes: []string{"#1"}},
		{Domain: "ai.other", OpType: "Bar", Opset: 0, Nodes: []string{"d"}},
	}
	if fmt.Sprint(ue.Ops) != fmt.Sprint(want) {
		t.Errorf("Ops = %+v\nwant %+v", ue.Ops, want)
	}
	wantMsg := `native: 3 unsupported operators: Foo (opset 17; nodes "a", "c"), Erf (opset 17, implemented from opset 99; node #1), ai.other.Bar (opset 0; node "d")`
	if err.Error() != wantMsg {
		t.Errorf("message:\n got %s\nwant %s", err, wantMsg)
	}
}

func TestCompileErrors(t *testing.T) {
	in := []graph.ValueInfo{ctIn("x", graph.Double, graph.Sym("n"), graph.Fixed(2))}
	relu := []*graph.Node{ctNode("r", "Relu", []string{"x"}, "y")}
	tests := []struct {
		name   string
		m      *graph.Model
		shapes map[string][]int64
		opts   CompileOptions
		want   string
	}{
		{"missing shape", ctModel(in, nil, relu, "y"), nil, CompileOptions{},
			`native: compile: no shape given for input "x" (float64[n 2])`},
		{"extra shape", ctModel(in, nil, relu, "y"), map[string][]int64{"x": {1, 2}, "q": {1}}, CompileOptions{},
			`native: compile: shapes given for q, which are not graph inputs (inputs: x)`},
		{"rank", ctModel(in, nil, relu, "y"), map[string][]int64{"x": {2}}, CompileOptions{},
			`native: compile: input "x": shape [2] has rank 1, the model declares float64[n 2]`},
		{"fixed dim", ctModel(in, nil, relu, "y"), map[string][]int64{"x": {1, 3}}, CompileOptions{},
			`native: compile: input "x": dim 1 is 3, the model declares float64[n 2]`},
		{"unknown output", ctModel(in, nil, relu, "y"), map[string][]int64{"x": {1, 2}}, CompileOptions{Outputs: []string{"z"}},
			`native: compile: CompileOptions.Outputs names "z", which is not a graph output (outputs: y)`},
		{"unknown param", ctModel(in, nil, relu, "y"), map[string][]int64{"x": {1, 2}}, CompileOptions{Params: []string{"w"}},
			`native: compile: CompileOptions.Params names "w", which is not an initializer`},
		{"arity", ctModel(in, nil, []*graph.Node{ctNode("r", "Relu", []string{"x", "x"}, "y")}, "y"), map[string][]int64{"x": {1, 2}}, CompileOptions{},
			`native: node "r" (Relu, opset 17): has 2 inputs, takes at most 1`},
		{"undefined input", ctModel(in, nil, []*graph.Node{ctNode("r", "Relu", []string{"q"}, "y")}, "y"), map[string][]int64{"x": {1, 2}}, CompileOptions{},
			`native: node "r" (Relu, opset 17): input "q" is not a graph input, an initializer or an earlier node's output`},
		{"order", ctModel(in, nil, []*graph.Node{ctNode("b", "Relu", []string{"a"}, "y"), ctNode("a", "Relu", []string{"x"}, "a")}, "y"),
			map[string][]int64{"x": {1, 2}}, CompileOptions{},
			`native: node "b" (Relu, opset 17): input "a" is produced by a later node (a): the graph is not in topological order`},
		{"output twice", ctModel(in, nil, []*graph.Node{ctNode("a", "Relu", []string{"x"}, "y"), ctNode("b", "Relu", []string{"x"}, "y")}, "y"),
			map[string][]int64{"x": {1, 2}}, CompileOptions{},
			`native: node "b" (Relu, opset 17): output "y" is also produced by node a`},
		{"undefined initializer", ctModel(in, nil, []*graph.Node{ctNode("g", "Gather", []string{"x", "idx"}, "y")}, "y"),
			map[string][]int64{"x": {1, 2}}, CompileOptions{},
			`native: node "g" (Gather, opset 17): input "idx" is not a graph input, an initializer or an earlier node's output`},
		{"dangling output", ctModel(in, nil, relu, "nope"), map[string][]int64{"x": {1, 2}}, CompileOptions{},
			`native: compile: graph output "nope" is produced by no node, input or initializer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.m, testRegistry(), tt.shapes, tt.opts)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v\nwant %s", err, tt.want)
			}
		})
	}
	if _, err := Compile(nil, testRegistry(), nil, CompileOptions{}); err == nil {
		t.Error("Compile(nil model) succeeded")
	}
	if _, err := Compile(ctModel(in, nil, relu, "y"), nil, nil, CompileOptions{}); err == nil {
		t.Error("Compile(nil registry) succeeded")
	}
}

func TestProgramRunErrors(t *testing.T) {
	m := ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Fixed(3))}, nil, []*graph.Node{
		ctNode("f", "FailNegative", []string{"x"}, "a"),
		ctNode("p", "PanicNegative", []string{"a"}, "b"),
		ctNode("r", "Relu", []string{"b"}, "y"),
	}, "y")
	p := ctCompile(t, m, map[string][]int64{"x": {3}}, CompileOptions{})
	tests := []struct {
		name   string
		inputs map[string]*tensor.Dense
		want   string
	}{
		{"kernel error", map[string]*tensor.Dense{"x": ctF64([]int{3}, 1, -1, 2)},
			`native: node "f" (FailNegative, opset 17): negative input`},
		{"missing", map[string]*tensor.Dense{}, `native: run: missing input "x" (float64[3])`},
		{"shape", map[string]*tensor.Dense{"x": ctF64([]int{2}, 1, 2)},
			`native: run: input "x" has shape [2], the program was compiled for [3]: compile another program for it`},
		{"dtype", map[string]*tensor.Dense{"x": ctF32([]int{3}, 1, 2, 3)},
			`native: run: input "x" is float32, the program was compiled for float64`},
		{"unknown", map[string]*tensor.Dense{"x": ctF64([]int{3}, 1, 2, 3), "q": ctF64([]int{1}, 1)},
			`native: run: unknown input "q"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Run(context.Background(), tt.inputs)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v\nwant %s", err, tt.want)
			}
		})
	}
	// A panicking kernel: the recovered panic names the node.
	q := ctCompile(t, ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Fixed(3))}, nil,
		[]*graph.Node{ctNode("p", "PanicNegative", []string{"x"}, "y")}, "y"), map[string][]int64{"x": {3}}, CompileOptions{})
	_, err := q.Run(context.Background(), map[string]*tensor.Dense{"x": ctF64([]int{3}, 1, -1, 2)})
	if err == nil || !strings.HasPrefix(err.Error(), `native: node "p" (PanicNegative, opset 17): `) || !strings.Contains(err.Error(), "negative input") {
		t.Errorf("panic error = %v", err)
	}
	var ne *kernels.NodeError
	if !errors.As(err, &ne) || ne.OpType != "PanicNegative" {
		t.Errorf("panic error %v is not a *kernels.NodeError of the node", err)
	}
	// The program still runs after failures.
	outs := ctRun(t, p, map[string]*tensor.Dense{"x": ctF64([]int{3}, 1, 0, 2)})
	ctEqual(t, "y", outs["y"], []int{3}, 1, 0, 2)

	// A cancelled context stops the run.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Run(ctx, map[string]*tensor.Dense{"x": ctF64([]int{3}, 1, 0, 2)}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled run: error %v does not wrap context.Canceled", err)
	}
}

func TestProgramDataDependentShape(t *testing.T) {
	m := ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Fixed(4))}, nil,
		[]*graph.Node{ctNode("nz", "NonZeroCount", []string{"x"}, "a"), ctNode("r", "Relu", []string{"a"}, "y")}, "y")
	p := ctCompile(t, m, map[string][]int64{"x": {4}}, CompileOptions{})
	_, err := p.Run(context.Background(), map[string]*tensor.Dense{"x": ctF64([]int{4}, 0, 1, 0, 2)})
	want := `native: node "nz" (NonZeroCount, opset 17): output 0 is float64[2] at run time, but was float64[0] when compiled: its shape depends on input values that differ from those it was compiled with`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant %s", err, want)
	}
	var de *DataDependentShapeError
	if !errors.As(err, &de) || !slices.Equal(de.Shape, []int{2}) || !slices.Equal(de.CompiledShape, []int{0}) {
		t.Errorf("error %v does not wrap the right *DataDependentShapeError", err)
	}
	// Compiled with the values as samples, the program serves them, and
	// other values that give the same shapes.
	x := ctF64([]int{4}, 0, 1, 0, 2)
	q := ctCompile(t, m, map[string][]int64{"x": {4}}, CompileOptions{Samples: map[string]*tensor.Dense{"x": x}})
	outs := ctRun(t, q, map[string]*tensor.Dense{"x": x})
	ctEqual(t, "y", outs["y"], []int{2}, 1, 2)
	outs = ctRun(t, q, map[string]*tensor.Dense{"x": ctF64([]int{4}, -3, 0, 5, 0)})
	ctEqual(t, "y", outs["y"], []int{2}, 0, 5)
	// Bad samples.
	for _, bad := range []map[string]*tensor.Dense{{"x": ctF64([]int{3}, 1, 2, 3)}, {"x": ctF32([]int{4}, 1, 2, 3, 4)}, {"q": x}} {
		if _, err := Compile(m, testRegistry(), map[string][]int64{"x": {4}}, CompileOptions{Samples: bad}); err == nil || !strings.Contains(err.Error(), "CompileOptions.Samples") {
			t.Errorf("samples %v: error %v", bad, err)
		}
	}
}

func TestProgramMultipleOutputs(t *testing.T) {
	m := ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Fixed(4), graph.Fixed(1))}, nil, []*graph.Node{
		ctNode("split", "Split", []string{"x"}, "a", "b"),
		ctNode("ra", "Neg", []string{"a"}, "na"),
		ctNode("rb", "Relu", []string{"b"}, "rb"),
		ctNode("split2", "Split", []string{"x"}, "", "only1"), // output 0 omitted
		ctNode("sum", "Add", []string{"rb", "only1"}, "s"),
	}, "na", "s", "b")
	p := ctCompile(t, m, map[string][]int64{"x": {4, 1}}, CompileOptions{})
	outs := ctRun(t, p, map[string]*tensor.Dense{"x": ctF64([]int{4, 1}, 1, 2, -3, 4)})
	ctEqual(t, "na", outs["na"], []int{2, 1}, -1, -2)
	ctEqual(t, "s", outs["s"], []int{2, 1}, -3, 8)
	ctEqual(t, "b", outs["b"], []int{2, 1}, -3, 4)
	// Only one output requested: the rest is dropped.
	q := ctCompile(t, m, map[string][]int64{"x": {4, 1}}, CompileOptions{Outputs: []string{"na"}})
	if q.NumNodes() != 2 || !slices.Equal(q.Outputs(), []string{"na"}) {
		t.Errorf("Outputs na: %d nodes, outputs %v; want 2 and [na]", q.NumNodes(), q.Outputs())
	}
}

// TestProgramReleasesShared checks that values with several readers survive
// until the last one, and that a run leaves only inputs and outputs held.
func TestProgramReleasesShared(t *testing.T) {
	m := ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Fixed(2))}, nil, []*graph.Node{
		ctNode("r", "Relu", []string{"x"}, "a"),
		ctNode("s", "Add", []string{"a", "a"}, "b"),
		ctNode("t", "Mul", []string{"b", "a"}, "c"),
		ctNode("u", "Sub", []string{"c", "a"}, "d"),
	}, "d", "a")
	p := ctCompile(t, m, map[string][]int64{"x": {2}}, CompileOptions{})
	live := -1
	testHookLive = func(n int) { live = n }
	defer func() { testHookLive = nil }()
	for range 2 {
		outs := ctRun(t, p, map[string]*tensor.Dense{"x": ctF64([]int{2}, 3, -1)})
		ctEqual(t, "d", outs["d"], []int{2}, 15, 0) // (2a)·a − a for a = 3
		ctEqual(t, "a", outs["a"], []int{2}, 3, 0)
		if live != 2 { // the outputs a and d; the input x is the caller's
			t.Errorf("the direct run holds %d values after its last step, want 2 (a, d)", live)
		}
	}
	// The Gorgonia path releases the same way.
	testHookLive = nil
	if p.Graph() == nil {
		t.Fatal(p.GraphErr())
	}
	if _, err := p.Eval(context.Background(), map[string]*tensor.Dense{"x": ctF64([]int{2}, 3, -1)}, p.Output("d")); err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, n := range p.Graph().AllNodes() {
		if b, ok := n.Value().(*denseBox); ok && b.d != nil {
			t.Fatalf("node %v still holds its value after the run", n)
		} else if !ok && n.Value() != nil {
			held++
		}
	}
	if held != 3 { // x, a, d
		t.Errorf("%d nodes hold plain values after the Gorgonia run, want 3 (x, a, d)", held)
	}
}

func TestProgramConstantOutputs(t *testing.T) {
	m := ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Fixed(2))},
		[]*graph.Tensor{ctDoubles("w", []int64{2}, 1, 2)},
		[]*graph.Node{ctNode("n", "Neg", []string{"w"}, "nw")}, "nw", "w", "x")
	p := ctCompile(t, m, map[string][]int64{"x": {2}}, CompileOptions{})
	if p.NumNodes() != 0 {
		t.Errorf("%d nodes run, want 0", p.NumNodes())
	}
	outs := ctRun(t, p, map[string]*tensor.Dense{"x": ctF64([]int{2}, 5, 6)})
	ctEqual(t, "nw", outs["nw"], []int{2}, -1, -2)
	ctEqual(t, "w", outs["w"], []int{2}, 1, 2)
	ctEqual(t, "x", outs["x"], []int{2}, 5, 6)
}

func TestProgramCloneConcurrent(t *testing.T) {
	m := shapeChainModel()
	base := ctCompile(t, m, map[string][]int64{"x": {2, 2, 2}}, CompileOptions{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 4 {
		p, err := base.Clone()
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range 20 {
				v := float64(w*100 + i)
				outs, err := p.Run(context.Background(), map[string]*tensor.Dense{"x": ctF64([]int{2, 2, 2}, v, 0, 0, 0, 0, 0, 0, v)})
				if err != nil {
					errs <- err
					return
				}
				got := ctVals(outs["z"])
				if want := []float64{v + 10, 20, 10, v + 20}; !slices.Equal(got, want) {
					errs <- fmt.Errorf("worker %d run %d: z = %v, want %v", w, i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// mlpModel: y = Softmax(Exp(−Sigmoid(Tanh(Relu(x·W1 + b1)·W2) / d − c))²),
// every differentiable operator on the way.
func mlpModel() *graph.Model {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64() * 0.7
		}
		return v
	}
	return ctModel([]graph.ValueInfo{ctIn("x", graph.Double, graph.Sym("batch"), graph.Fixed(4))},
		[]*graph.Tensor{
			ctDoubles("W1", []int64{4, 5}, vals(20)...),
			ctDoubles("b1", []int64{5}, vals(5)...),
			ctDoubles("W2", []int64{5, 3}, vals(15)...),
			ctDoubles("d", []int64{3}, 1.5, -2, 0.8),
			ctDoubles("c", []int64{1, 3}, 0.1, 0.2, -0.3),
		},
		[]*graph.Node{
			ctNode("mm1", "MatMul", []string{"x", "W1"}, "h0"),
			ctNode("add1", "Add", []string{"h0", "b1"}, "h1"),
			ctNode("relu", "Relu", []string{"h1"}, "h2"),
			ctNode("mm2", "MatMul", []string{"h2", "W2"}, "h3"),
			ctNode("tanh", "Tanh", []string{"h3"}, "h4"),
			ctNode("div", "Div", []string{"h4", "d"}, "h5"),
			ctNode("sig", "Sigmoid", []string{"h5"}, "h6"),
			ctNode("sub", "Sub", []string{"h6", "c"}, "h7"),
			ctNode("neg", "Neg", []string{"h7"}, "h8"),
			ctNode("exp", "Exp", []string{"h8"}, "h9"),
			ctNode("sq", "Mul", []string{"h9", "h9"}, "h10"),
			ctNode("id", "Identity", []string{"h10"}, "h11"),
			{Name: "softmax", OpType: "Softmax", Inputs: []string{"h11"}, Outputs: []string{"h12"}, Attrs: []graph.Attr{graph.AInt("axis", 1)}},
			ctNode("shape", "Shape", []string{"h12"}, "s"),
			ctNode("reshape", "Reshape", []string{"h12", "s"}, "y"),
		}, "y")
}

// TestGradientMLP takes the gradient of a scalar loss built with Gorgonia's
// own ops on the program's output, with respect to the input and to the
// params, and checks it against central finite differences of the program.
func TestGradientMLP(t *testing.T) {
	m := mlpModel()
	params := []string{"W1", "b1", "W2", "d", "c"}
	shapes := map[string][]int64{"x": {3, 4}}
	p := ctCompile(t, m, shapes, CompileOptions{Params: params})
	y := p.Output("y")
	if y == nil {
		t.Fatal("no node for output y")
	}
	weights := gorgonia.NewConstant(ctF64([]int{3, 3}, 1, -2, 3, 0.5, 4, -1, 2, 2, -3), gorgonia.WithName("weights"))
	loss := gorgonia.Must(gorgonia.Sum(gorgonia.Must(gorgonia.HadamardProd(y, weights))))
	wrt := []*gorgonia.Node{p.Input("x")}
	for _, name := range params {
		wrt = append(wrt, p.Param(name))
	}
	grads, err := gorgonia.Grad(loss, wrt...)
	if err != nil {
		t.Fatalf("Grad: %v", err)
	}
	x := ctF64([]int{3, 4}, 0.3, -0.2, 0.9, 1.1, -0.7, 0.4, 0.05, -1.3, 0.6, 0.6, -0.5, 0.2)
	vals, err := p.Eval(context.Background(), map[string]*tensor.Dense{"x": x}, append([]*gorgonia.Node{loss}, grads...)...)
	if err != nil {
		t.Fatalf("Eval: %v", err)
	}

	// The loss, recomputed from the forward output of a plain program.
	fwd := ctCompile(t, m, shapes, CompileOptions{})
	lossOf := func(x *tensor.Dense) float64 {
		outs, err := fwd.Run(context.Background(), map[string]*tensor.Dense{"x": x})
		if err != nil {
			t.Fatal(err)
		}
		w := []float64{1, -2, 3, 0.5, 4, -1, 2, 2, -3}
		s := 0.0
		for i, v := range ctVals(outs["y"]) {
			s += v * w[i]
		}
		return s
	}
	if got, want := ctVals(vals[0])[0], lossOf(x); math.Abs(got-want) > 1e-12 {
		t.Fatalf("loss = %v, forward program says %v", got, want)
	}
	const h = 1e-6
	check := func(what string, grad *tensor.Dense, perturb func(i int, delta float64) float64) {
		g := ctVals(grad)
		nonzero := 0
		for i := range g {
			num := (perturb(i, h) - perturb(i, -h)) / (2 * h)
			if math.Abs(num-g[i]) > 1e-6*max(1, math.Abs(num)) {
				t.Errorf("∂loss/∂%s[%d] = %.9g, finite differences say %.9g", what, i, g[i], num)
			}
			if g[i] != 0 {
				nonzero++
			}
		}
		if nonzero == 0 {
			t.Errorf("∂loss/∂%s is all zeros", what)
		}
	}
	check("x", vals[1], func(i int, delta float64) float64 {
		xv := slices.Clone(ctVals(x))
		xv[i] += delta
		return lossOf(ctF64([]int{3, 4}, xv...))
	})
	for k, name := range params {
		check(name, vals[2+k], func(i int, delta float64) float64 {
			mm := mlpModel()
			for _, init := range mm.Graph.Initializers {
				if init.Name == name {
					v := math.Float64frombits(leUint64(init.Raw[8*i:])) + delta
					b := math.Float64bits(v)
					for j := range 8 {
						init.Raw[8*i+j] = byte(b >> (8 * j))
					}
				}
			}
			q := ctCompile(t, mm, shapes, CompileOptions{})
			outs, err := q.Run(context.Background(), map[string]*tensor.Dense{"x": x})
			if err != nil {
				t.Fatal(err)
			}
			w := []float64{1, -2, 3, 0.5, 4, -1, 2, 2, -3}
			s := 0.0
			for i, v := range ctVals(outs["y"]) {
				s += v * w[i]
			}
			return s
		})
	}
	// Gradients through a node with several outputs are refused.
	if ops := GradientOps(); !slices.Contains(ops, "MatMul") || !slices.Contains(ops, "Softmax") || slices.Contains(ops, "Shape") {
		t.Errorf("GradientOps() = %v", ops)
	}
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := range 8 {
		v |= uint64(b[i]) << (8 * i)
	}
	return v
}

func TestGradMatMulBroadcast(t *testing.T) {
	// A [2,1,2,3] · B [2,3,2] (batch dims broadcast to [2,2]) against
	// finite differences of the test kernel.
	a := []float64{1, 2, -1, 0.5, 3, -2, 0.1, 0.2, 0.3, -0.4, 0.5, 0.6}
	b := []float64{2, -1, 0.5, 1, 1.5, -2, -1, 0.25, 3, 1, 0, -0.5}
	sa, sb := []int{2, 1, 2, 3}, []int{2, 3, 2}
	gw := make([]float64, 2*2*2*2)
	for i := range gw {
		gw[i] = float64(i%5) - 1.5
	}
	k, _ := ctMatMul(nil)
	f := func(av, bv []float64) float64 {
		out, err := k(nil, []*tensor.Dense{ctF64(sa, slices.Clone(av)...), ctF64(sb, slices.Clone(bv)...)})
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for i, v := range ctVals(out[0]) {
			s += v * gw[i]
		}
		return s
	}
	out, _ := k(nil, []*tensor.Dense{ctF64(sa, a...), ctF64(sb, b...)})
	for wrt := range 2 {
		c := &gradCtx{st: &cStep{node: ctNode("mm", "MatMul", []string{"a", "b"}, "y")},
			in: []*tensor.Dense{ctF64(sa, a...), ctF64(sb, b...)}, y: out[0], g: ctF64([]int{2, 2, 2, 2}, gw...), wrt: wrt}
		g, err := gradMatMul(c)
		if err != nil {
			t.Fatal(err)
		}
		for i := range g {
			av, bv := slices.Clone(a), slices.Clone(b)
			p, q := slices.Clone(a), slices.Clone(b)
			if wrt == 0 {
				av[i] += 1e-6
				p[i] -= 1e-6
			} else {
				bv[i] += 1e-6
				q[i] -= 1e-6
			}
			num := (f(av, bv) - f(p, q)) / 2e-6
			if math.Abs(num-g[i]) > 1e-6 {
				t.Errorf("wrt %d element %d: %v, finite differences %v", wrt, i, g[i], num)
			}
		}
	}
}

func TestGradBroadcastIndex(t *testing.T) {
	tests := []struct {
		out, in []int
		want    []int
	}{
		{[]int{2, 3}, []int{3}, []int{0, 1, 2, 0, 1, 2}},
		{[]int{2, 3}, []int{2, 1}, []int{0, 0, 0, 1, 1, 1}},
		{[]int{2, 3}, []int{}, []int{0, 0, 0, 0, 0, 0}},
		{[]int{2, 2}, []int{2, 2}, []int{0, 1, 2, 3}},
		{[]int{}, []int{}, []int{0}},
	}
	for _, tt := range tests {
		if got := gradBroadcastIndex(tt.out, tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("gradBroadcastIndex(%v, %v) = %v, want %v", tt.out, tt.in, got, tt.want)
		}
	}
}
