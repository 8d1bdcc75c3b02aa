package native

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime/native/engine"

	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime"
)

func node(name, op string, inputs []string, outputs []string, attrs ...graph.Attr) *graph.Node {
	return &graph.Node{Name: name, OpType: op, Inputs: inputs, Outputs: outputs, Attrs: attrs}
}

func marshal(t testing.TB, g *graph.Graph) []byte {
	t.Helper()
	m := &graph.Model{IRVersion: 8, Opsets: []graph.OpsetImport{{Domain: "", Version: 18}}, Graph: g}
	b, err := export.Marshal(m, export.Options{Opset: 18})
	if err != nil {
		t.Fatalf("export.Marshal: %v", err)
	}
	return b
}

func openNative(t testing.TB, model []byte, opts runtime.Options) runtime.Session {
	t.Helper()
	opts.Backend = "native"
	s, err := runtime.OpenBytes(model, opts)
	if err != nil {
		t.Fatalf("OpenBytes: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// mlpGraph: y = Relu(Reshape(x, [batch·seq, 4]) · W + b), reshaped back
// to [batch, seq, 3] through a Shape → Gather → Concat chain; x is
// float32[batch seq 4]. A second output echoes the mask.
func mlpGraph() *graph.Graph {
	w := make([]float32, 12)
	for i := range w {
		w[i] = float32(i%5) - 2
	}
	return &graph.Graph{
		Name: "mlp",
		Inputs: []graph.ValueInfo{
			{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq"), graph.Fixed(4)}},
			{Name: "mask", DType: graph.Bool, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq")}},
			{Name: "W", DType: graph.Float, Shape: []graph.Dim{graph.Fixed(4), graph.Fixed(3)}}, // also an initializer: a constant
		},
		Initializers: []*graph.Tensor{
			graph.FloatTensor("W", []int64{4, 3}, w),
			graph.FloatTensor("b", []int64{3}, []float32{0.5, -1, 2}),
			graph.Int64Tensor("flat", []int64{2}, []int64{-1, 4}),
			graph.Int64Tensor("first2", []int64{2}, []int64{0, 1}),
			graph.Int64Tensor("three", []int64{1}, []int64{3}),
		},
		Nodes: []*graph.Node{
			node("reshape_in", "Reshape", []string{"x", "flat"}, []string{"x2"}),
			node("mm", "MatMul", []string{"x2", "W"}, []string{"h"}),
			node("add", "Add", []string{"h", "b"}, []string{"h1"}),
			node("relu", "Relu", []string{"h1"}, []string{"h2"}),
			node("shape", "Shape", []string{"x"}, []string{"s"}),
			node("gather", "Gather", []string{"s", "first2"}, []string{"bs"}, graph.AInt("axis", 0)),
			node("concat", "Concat", []string{"bs", "three"}, []string{"target"}, graph.AInt("axis", 0)),
			node("reshape_out", "Reshape", []string{"h2", "target"}, []string{"y"}),
			node("echo", "Identity", []string{"mask"}, []string{"mask_out"}),
		},
		Outputs: []graph.ValueInfo{
			{Name: "y", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq"), graph.Fixed(3)}},
			{Name: "mask_out", DType: graph.Bool, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq")}},
		},
	}
}

// mlpWant computes mlpGraph's y in Go.
func mlpWant(x []float32) []float32 {
	g := mlpGraph()
	w, _ := g.Initializers[0].Float32s()
	b, _ := g.Initializers[1].Float32s()
	var out []float32
	for r := 0; r < len(x)/4; r++ {
		for j := range 3 {
			s := b[j]
			for k := range 4 {
				s += x[r*4+k] * w[k*3+j]
			}
			out = append(out, max(s, 0))
		}
	}
	return out
}

func mlpInputs(t testing.TB, batch, seq int64, seed float32) map[string]*runtime.Tensor {
	t.Helper()
	n := batch * seq
	x := make([]float32, n*4)
	for i := range x {
		x[i] = float32(math.Sin(float64(seed) + float64(i)))
	}
	mask := make([]bool, n)
	for i := range mask {
		mask[i] = i%3 != 0
	}
	xt, err := runtime.NewFloat32([]int64{batch, seq, 4}, x)
	if err != nil {
		t.Fatal(err)
	}
	mt, err := runtime.NewBool([]int64{batch, seq}, mask)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*runtime.Tensor{"x": xt, "mask": mt}
}

func checkMLP(inputs, outs map[string]*runtime.Tensor) error {
	x, _ := inputs["x"].Float32s()
	want := mlpWant(x)
	y := outs["y"]
	if y == nil {
		return errors.New("no output y")
	}
	shape := inputs["x"].Shape()
	if got := y.Shape(); !reflect.DeepEqual(got, []int64{shape[0], shape[1], 3}) {
		return fmt.Errorf("y has shape %v, want [%d %d 3]", got, shape[0], shape[1])
	}
	got, err := y.Float32s()
	if err != nil {
		return err
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5 {
			return fmt.Errorf("y[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	m, _ := inputs["mask"].Bools()
	mo, err := outs["mask_out"].Bools()
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(m, mo) {
		return fmt.Errorf("mask_out = %v, want %v", mo, m)
	}
	return nil
}

func TestSessionInfo(t *testing.T) {
	s := openNative(t, marshal(t, mlpGraph()), runtime.Options{})
	var got []string
	for _, v := range s.Inputs() {
		got = append(got, v.String())
	}
	for _, v := range s.Outputs() {
		got = append(got, v.String())
	}
	want := []string{"x: float32[batch seq 4]", "mask: bool[batch seq]", "y: float32[batch seq 3]", "mask_out: bool[batch seq]"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inputs and outputs = %q, want %q (an initializer listed as input is not an input)", got, want)
	}
}

func TestSessionRun(t *testing.T) {
	s := openNative(t, marshal(t, mlpGraph()), runtime.Options{})
	for _, shape := range [][2]int64{{1, 1}, {2, 5}, {1, 1}} {
		in := mlpInputs(t, shape[0], shape[1], 1)
		outs, err := s.Run(context.Background(), in)
		if err != nil {
			t.Fatalf("Run %v: %v", shape, err)
		}
		if err := checkMLP(in, outs); err != nil {
			t.Errorf("batch %d seq %d: %v", shape[0], shape[1], err)
		}
		// Outputs are copies: changing one changes nothing else.
		mo, _ := outs["mask_out"].Bools()
		mo[0] = !mo[0]
		if m, _ := in["mask"].Bools(); m[0] == mo[0] {
			t.Error("mask_out shares memory with the mask input")
		}
	}
}

func TestSessionRunErrors(t *testing.T) {
	s := openNative(t, marshal(t, mlpGraph()), runtime.Options{})
	in := mlpInputs(t, 1, 2, 0)
	delete(in, "mask")
	_, err := s.Run(context.Background(), in)
	var ie *runtime.InputError
	if !errors.As(err, &ie) || !ie.Has(runtime.MissingInput) || !strings.HasPrefix(err.Error(), "native: run <model bytes") {
		t.Errorf("missing input: error %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, mlpInputs(t, 1, 2, 0)); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Run(context.Background(), mlpInputs(t, 1, 2, 0)); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("after Close: error %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	model := marshal(t, mlpGraph())
	bad := mlpGraph()
	bad.Nodes = append(bad.Nodes,
		node("f1", "NoSuchOp", []string{"y"}, []string{"f1"}),
		node("f2", "NoSuchOp", []string{"f1"}, []string{"f2"}),
		node("f3", "AlsoMissing", []string{"f2"}, []string{"f3"}))
	bad.Outputs = append(bad.Outputs, graph.ValueInfo{Name: "f3", DType: graph.Float})
	tests := []struct {
		name  string
		model []byte
		opts  runtime.Options
		want  string
		is    error
	}{
		{"cuda", model, runtime.Options{CUDA: true}, "native: open <model bytes", ErrCUDA},
		{"threads", model, runtime.Options{IntraOpThreads: -1}, "Options.IntraOpThreads is -1", nil},
		{"inter threads", model, runtime.Options{InterOpThreads: -2}, "Options.InterOpThreads is -2", nil},
		{"output names", model, runtime.Options{OutputNames: []string{"z"}}, `unknown output "z"`, nil},
		{"not onnx", []byte("not a model"), runtime.Options{}, "onnximport: invalid model", nil},
		{"unsupported", marshal(t, bad), runtime.Options{}, `native: 2 unsupported operators: NoSuchOp (opset 18; nodes "f1", "f2"), AlsoMissing (opset 18; node "f3")`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Backend = "native"
			_, err := runtime.OpenBytes(tt.model, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
	_, err := runtime.OpenBytes(marshal(t, bad), runtime.Options{Backend: "native"})
	var ue *engine.UnsupportedOpsError
	if !errors.As(err, &ue) || len(ue.Ops) != 2 {
		t.Errorf("unsupported ops: error %v (%T) is not an *UnsupportedOpsError with 2 ops", err, err)
	}
}

func TestOutputNames(t *testing.T) {
	s := openNative(t, marshal(t, mlpGraph()), runtime.Options{OutputNames: []string{"mask_out"}})
	outs, err := s.Run(context.Background(), mlpInputs(t, 2, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs["mask_out"] == nil {
		t.Errorf("outputs %v, want only mask_out", outs)
	}
	if len(s.Outputs()) != 1 || s.Outputs()[0].Name != "mask_out" {
		t.Errorf("Outputs() = %v", s.Outputs())
	}
}

// TestConcurrentRuns runs one session from several goroutines at once,
// with shapes that repeat across goroutines (shared cache entries, cloned
// programs) and differ between them (several entries). Run it with -race.
func TestConcurrentRuns(t *testing.T) {
	s := openNative(t, marshal(t, mlpGraph()), runtime.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 6 {
		wg.Go(func() {
			for i := range 8 {
				batch, seq := int64(1+w%2), int64(1+(w+i)%3)
				in := mlpInputs(t, batch, seq, float32(w*10+i))
				outs, err := s.Run(context.Background(), in)
				if err == nil {
					err = checkMLP(in, outs)
				}
				if err != nil {
					errs <- fmt.Errorf("worker %d run %d (batch %d seq %d): %w", w, i, batch, seq, err)
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

// TestArenaReuse checks that a session allocates no new buffers for a
// run of shapes it has served before: the run's arena hands back those of
// the previous run.
func TestArenaReuse(t *testing.T) {
	s := openNative(t, marshal(t, mlpGraph()), runtime.Options{IntraOpThreads: 1}).(*session)
	allocs := func() int {
		a := <-s.arenas
		defer func() { s.arenas <- a }()
		return a.Allocs
	}
	in := mlpInputs(t, 4, 64, 0)
	if _, err := s.Run(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	first := allocs()
	if first == 0 {
		t.Fatal("the first run allocated nothing from its arena")
	}
	for range 3 {
		if _, err := s.Run(context.Background(), in); err != nil {
			t.Fatal(err)
		}
	}
	if n := allocs(); n != first {
		t.Errorf("%d arena buffers after 4 runs of one shape, %d after the first: the arena does not recycle", n, first)
	}
}

func TestDTypesRoundTrip(t *testing.T) {
	type tc struct {
		dt graph.DType
		in *runtime.Tensor
	}
	must := func(x *runtime.Tensor, err error) *runtime.Tensor {
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []tc{
		{graph.Float, must(runtime.NewFloat32([]int64{2}, []float32{1.5, -2}))},
		{graph.Double, must(runtime.NewFloat64([]int64{1, 2}, []float64{1e300, -2}))},
		{graph.Int64, must(runtime.NewInt64([]int64{3}, []int64{1 << 40, -1, 0}))},
		{graph.Int32, must(runtime.NewInt32([]int64{}, []int32{-7}))},
		{graph.Bool, must(runtime.NewBool([]int64{2, 1}, []bool{true, false}))},
		{graph.Uint8, must(runtime.NewUint8([]int64{2}, []uint8{255, 1}))},
		{graph.Float16, must(runtime.NewFloat16([]int64{2}, []uint16{0x3c00, 0xc000}))},
		{graph.Float, must(runtime.NewFloat32([]int64{0, 3}, []float32{}))},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s%v", tt.dt, tt.in.Shape()), func(t *testing.T) {
			dims := make([]graph.Dim, tt.in.Rank())
			for i := range dims {
				dims[i] = graph.Sym(fmt.Sprintf("d%d", i))
			}
			g := &graph.Graph{Name: "id",
				Inputs:  []graph.ValueInfo{{Name: "x", DType: tt.dt, Shape: dims}},
				Nodes:   []*graph.Node{node("id", "Identity", []string{"x"}, []string{"y"})},
				Outputs: []graph.ValueInfo{{Name: "y", DType: tt.dt, Shape: dims}},
			}
			s := openNative(t, marshal(t, g), runtime.Options{})
			outs, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": tt.in})
			if err != nil {
				t.Fatal(err)
			}
			y := outs["y"]
			if y.DType() != tt.in.DType() || !reflect.DeepEqual(y.Shape(), tt.in.Shape()) || !reflect.DeepEqual(y.Data(), tt.in.Data()) {
				t.Errorf("y = %v %v, want %v %v", y, y.Data(), tt.in, tt.in.Data())
			}
		})
	}
}
