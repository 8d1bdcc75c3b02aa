package ops_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/ort"
)

// requireORT loads ONNX Runtime or fails the test: these tests never skip
// because the library is missing.
func requireORT(t testing.TB) {
	t.Helper()
	if err := ort.Init(""); err != nil {
		t.Fatalf("ONNX Runtime is required for this test (run `make ort` or set ONNXRUNTIME_LIB): %v", err)
	}
}

// tensor is a graph input: float32 data, or a bool keep mask.
type tensor struct {
	shape []int64
	f     []float32
	b     []bool
}

func (x tensor) at(idx ...int) int {
	off := 0
	for d, i := range idx {
		if x.shape[d] == 1 {
			i = 0 // broadcast
		}
		off = off*int(x.shape[d]) + i
	}
	return off
}

func (x tensor) f64() []float64 {
	out := make([]float64, len(x.f))
	for i, v := range x.f {
		out[i] = float64(v)
	}
	return out
}

func randTensor(r *rand.Rand, shape ...int64) tensor {
	n := graph.NumElements(shape)
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(r.Float64()*2 - 1)
	}
	return tensor{shape: shape, f: f}
}

func keepTensor(shape []int64, keep func(idx []int) bool) tensor {
	n := graph.NumElements(shape)
	out := make([]bool, n)
	idx := make([]int, len(shape))
	for k := range out {
		rem := k
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d] = rem % int(shape[d])
			rem /= int(shape[d])
		}
		out[k] = keep(idx)
	}
	return tensor{shape: shape, b: out}
}

// refL2NormGroups normalises each of the groups chunks of the last axis
// (length d) to unit L2 norm, dividing by max(norm, 1e-12) as
// torch.nn.functional.normalize does.
func refL2NormGroups(x []float64, d, groups int) []float64 {
	out := make([]float64, len(x))
	g := d / groups
	for start := 0; start < len(x); start += g {
		s := 0.0
		for _, v := range x[start : start+g] {
			s += v * v
		}
		n := math.Max(math.Sqrt(s), 1e-12)
		for i := start; i < start+g; i++ {
			out[i] = x[i] / n
		}
	}
	return out
}

// refQKNorm is refL2NormGroups times a per-dimension gain.
func refQKNorm(x []float64, gain []float64, d, groups int) []float64 {
	out := refL2NormGroups(x, d, groups)
	for i := range out {
		out[i] *= gain[i%d]
	}
	return out
}

// refAttention computes softmax(masked(q·kᵀ·scale))·v for q [b,h,i,d],
// k [b,hk,j,d], v [b,hk,j,dv] (hk 1 or h) and a keep mask broadcasting to
// [b,h,i,j]; masked logits are -FLT_MAX, as x-transformers' masked_fill.
func refAttention(q, k, v []float64, qs, ks, vs []int64, keep *tensor, scale float64) []float64 {
	B, H, I, D := int(qs[0]), int(qs[1]), int(qs[2]), int(qs[3])
	HK, J, DV := int(ks[1]), int(ks[2]), int(vs[3])
	out := make([]float64, B*H*I*DV)
	logits := make([]float64, J)
	for b := 0; b < B; b++ {
		for h := 0; h < H; h++ {
			hk := h
			if HK == 1 {
				hk = 0
			}
			for i := 0; i < I; i++ {
				mx := math.Inf(-1)
				for j := 0; j < J; j++ {
					s := 0.0
					for e := 0; e < D; e++ {
						s += q[((b*H+h)*I+i)*D+e] * k[((b*HK+hk)*J+j)*D+e]
					}
					s *= scale
					if keep != nil && !keep.b[keep.at(b, h, i, j)] {
						s = -math.MaxFloat32
					}
					logits[j] = s
					mx = math.Max(mx, s)
				}
				sum := 0.0
				for j := range logits {
					logits[j] = math.Exp(logits[j] - mx)
					sum += logits[j]
				}
				for j := 0; j < J; j++ {
					w := logits[j] / sum
					for e := 0; e < DV; e++ {
						out[((b*H+h)*I+i)*DV+e] += w * v[((b*HK+hk)*J+j)*DV+e]
					}
				}
			}
		}
	}
	return out
}

func refGelu(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = 0.5 * v * (1 + math.Erf(v/math.Sqrt2))
	}
	return out
}

// fnCase is one subgraph under test: its inputs, how to emit it, the
// output shape and the float64 reference.
type fnCase struct {
	name      string
	inputs    []tensor
	emit      func(b *graph.Builder, lib *ops.Library, in []string) string
	outShape  []int64
	want      func(in []tensor) []float64
	functions bool                              // the graph must call model-local functions
	check     func(t *testing.T, got []float32) // extra assertions
}

func cases() []fnCase {
	r := rand.New(rand.NewPCG(1, 2))
	x := randTensor(r, 2, 3, 8)
	// Row 0 of batch 1: first chunk all zero, second chunk tiny. Both need
	// the 1e-12 clamp: without it 0/0 is NaN and 1e-20/‖…‖ is about 0.35.
	for i := 0; i < 4; i++ {
		x.f[24+i] = 0
		x.f[28+i] = 1e-20
	}
	x4 := randTensor(r, 1, 2, 3, 8)
	gain := randTensor(r, 8)
	for i := range gain.f {
		gain.f[i] += 1.5
	}

	q, k, v := randTensor(r, 2, 2, 3, 4), randTensor(r, 2, 2, 5, 4), randTensor(r, 2, 2, 5, 4)
	k1, v1 := randTensor(r, 2, 1, 5, 4), randTensor(r, 2, 1, 5, 6)
	// Key padding per batch, with row i=1 of batch 1 fully masked.
	padKeep := keepTensor([]int64{2, 1, 3, 5}, func(idx []int) bool {
		if idx[0] == 1 && idx[2] == 1 {
			return false
		}
		return idx[3] < 5-idx[0]*2
	})
	causalKeep := keepTensor([]int64{1, 1, 3, 5}, func(idx []int) bool { return idx[3] <= idx[2]+2 })
	qg, kg := randTensor(r, 4), randTensor(r, 4)
	gx := randTensor(r, 4, 8)
	for i := range gx.f {
		gx.f[i] *= 4
	}

	l2 := func(groups int64) fnCase {
		return fnCase{
			name:   fmt.Sprintf("L2NormGroups/groups%d", groups),
			inputs: []tensor{x},
			emit: func(b *graph.Builder, lib *ops.Library, in []string) string {
				return b.Call(lib.L2NormGroups(), "l2", in, graph.AInt("groups", groups))[0]
			},
			outShape:  x.shape,
			want:      func(in []tensor) []float64 { return refL2NormGroups(in[0].f64(), 8, int(groups)) },
			functions: true,
			check: func(t *testing.T, got []float32) {
				for i := 24; i < 24+8/int(groups); i++ {
					if got[i] != 0 && groups == 2 {
						t.Errorf("zero chunk normalised to %v at %d, want 0", got[i], i)
					}
				}
				if groups == 2 {
					for i := 28; i < 32; i++ {
						if math.Abs(float64(got[i])-1e-8) > 1e-12 {
							t.Errorf("tiny chunk element %d = %g, want 1e-20/1e-12 = 1e-8 (eps clamp)", i, got[i])
						}
					}
				}
			},
		}
	}
	qkn := func(groups int64) fnCase {
		return fnCase{
			name:   fmt.Sprintf("QKNorm/groups%d", groups),
			inputs: []tensor{x4, gain},
			emit: func(b *graph.Builder, lib *ops.Library, in []string) string {
				return ops.CallQKNorm(b, lib, "qk", in[0], in[1], groups)
			},
			outShape:  x4.shape,
			want:      func(in []tensor) []float64 { return refQKNorm(in[0].f64(), in[1].f64(), 8, int(groups)) },
			functions: true,
		}
	}
	uniformRow := func(t *testing.T, got []float32) {
		// Batch 1, query row 1 is fully masked: softmax of all -FLT_MAX
		// is uniform, so the row is the mean of v over the keys.
		for h := 0; h < 2; h++ {
			for e := 0; e < 4; e++ {
				mean := 0.0
				for j := 0; j < 5; j++ {
					mean += float64(v.f[((1*2+h)*5+j)*4+e]) / 5
				}
				if g := float64(got[((1*2+h)*3+1)*4+e]); math.Abs(g-mean) > 1e-6 {
					t.Errorf("fully masked row, head %d dim %d: %v, want the mean of v %v", h, e, g, mean)
				}
			}
		}
	}
	return []fnCase{
		l2(1), l2(2), qkn(1), qkn(2),
		{
			name:   "Attention/key_padding_fully_masked_row",
			inputs: []tensor{q, k, v, padKeep},
			emit: func(b *graph.Builder, lib *ops.Library, in []string) string {
				return ops.CallAttention(b, lib, "attn", in[0], in[1], in[2], in[3], 0.5)
			},
			outShape: []int64{2, 2, 3, 4},
			want: func(in []tensor) []float64 {
				return refAttention(in[0].f64(), in[1].f64(), in[2].f64(), in[0].shape, in[1].shape, in[2].shape, &in[3], 0.5)
			},
			functions: true,
			check:     uniformRow,
		},
		{
			name:   "Attention/one_kv_head",
			inputs: []tensor{q, k1, v1, causalKeep},
			emit: func(b *graph.Builder, lib *ops.Library, in []string) string {
				return ops.CallAttention(b, lib, "attn", in[0], in[1], in[2], in[3], 0.5)
			},
			outShape: []int64{2, 2, 3, 6},
			want: func(in []tensor) []float64 {
				return refAttention(in[0].f64(), in[1].f64(), in[2].f64(), in[0].shape, in[1].shape, in[2].shape, &in[3], 0.5)
			},
			functions: true,
		},
		{
			name:   "CosineSimAttention/groups1",
			inputs: []tensor{q, k, v, padKeep, qg, kg},
			emit: func(b *graph.Builder, lib *ops.Library, in []string) string {
				return ops.CallCosineSimAttention(b, lib, "cos", in[0], in[1], in[2], in[3], in[4], in[5], 1, 10)
			},
			outShape: []int64{2, 2, 3, 4},
			want: func(in []tensor) []float64 {
				qn := refQKNorm(in[0].f64(), in[4].f64(), 4, 1)
				kn := refQKNorm(in[1].f64(), in[5].f64(), 4, 1)
				return refAttention(qn, kn, in[2].f64(), in[0].shape, in[1].shape, in[2].shape, &in[3], 10)
			},
			functions: true,
			check:     uniformRow,
		},
		{
			name:   "CosineSimAttention/groups2_one_kv_head",
			inputs: []tensor{q, k1, v1, causalKeep, qg, kg},
			emit: func(b *graph.Builder, lib *ops.Library, in []string) string {
				return ops.CallCosineSimAttention(b, lib, "cos", in[0], in[1], in[2], in[3], in[4], in[5], 2, 8)
			},
			outShape: []int64{2, 2, 3, 6},
			want: func(in []tensor) []float64 {
				qn := refQKNorm(in[0].f64(), in[4].f64(), 4, 2)
				kn := refQKNorm(in[1].f64(), in[5].f64(), 4, 2)
				return refAttention(qn, kn, in[2].f64(), in[0].shape, in[1].shape, in[2].shape, &in[3], 8)
			},
			functions: true,
		},
		{
			name:   "Gelu",
			inputs: []tensor{gx},
			emit: func(b *graph.Builder, lib *ops.Library, in []string) string {
				return ops.Gelu(b, "gelu", in[0])
			},
			outShape: gx.shape,
			want:     func(in []tensor) []float64 { return refGelu(in[0].f64()) },
		},
		{
			name:   "Attend",
			inputs: []tensor{q, k, v},
			emit: func(b *graph.Builder, lib *ops.Library, in []string) string {
				return ops.Attend(b, "attend", in[0], in[1], in[2], 0.5)
			},
			outShape: []int64{2, 2, 3, 4},
			want: func(in []tensor) []float64 {
				return refAttention(in[0].f64(), in[1].f64(), in[2].f64(), in[0].shape, in[1].shape, in[2].shape, nil, 0.5)
			},
		},
	}
}

// buildModel wraps one emitted subgraph in a model with inputs in0, in1, …
// and output "out".
func buildModel(t *testing.T, c fnCase, opset int64) *graph.Model {
	t.Helper()
	lib, err := ops.NewLibrary(opset)
	if err != nil {
		t.Fatal(err)
	}
	if lib.Opset() != opset {
		t.Fatalf("library opset %d, want %d", lib.Opset(), opset)
	}
	b := graph.NewGraphBuilder(opset)
	var names []string
	var inputs []graph.ValueInfo
	for i, in := range c.inputs {
		vi := graph.ValueInfo{Name: fmt.Sprintf("in%d", i), DType: graph.Float}
		if in.b != nil {
			vi.DType = graph.Bool
		}
		for _, d := range in.shape {
			vi.Shape = append(vi.Shape, graph.Fixed(d))
		}
		names = append(names, vi.Name)
		inputs = append(inputs, vi)
	}
	b.Reserve(names...)
	b.Reserve("out")
	y := c.emit(b, lib, names)
	out := graph.ValueInfo{Name: y, DType: graph.Float}
	for _, d := range c.outShape {
		out.Shape = append(out.Shape, graph.Fixed(d))
	}
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: graph.DomainONNX, Version: opset}},
		Graph: &graph.Graph{Name: c.name, Inputs: inputs, Outputs: []graph.ValueInfo{out},
			Initializers: b.Initializers(), Nodes: b.Nodes()},
		Functions: b.Functions(),
	}
	if len(m.Functions) > 0 {
		m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: graph.DomainXT, Version: 1})
	}
	if got := len(m.Functions) > 0; got != c.functions {
		t.Fatalf("model has functions: %v, want %v", got, c.functions)
	}
	return m
}

func run(t *testing.T, model []byte, c fnCase) []float32 {
	t.Helper()
	sess, err := runtime.OpenBytes(model, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	feeds := map[string]*runtime.Tensor{}
	for i, in := range c.inputs {
		var rt *runtime.Tensor
		if in.b != nil {
			rt, err = runtime.NewBool(in.shape, in.b)
		} else {
			rt, err = runtime.NewFloat32(in.shape, in.f)
		}
		if err != nil {
			t.Fatal(err)
		}
		feeds[fmt.Sprintf("in%d", i)] = rt
	}
	outs, err := sess.Run(context.Background(), feeds)
	if err != nil {
		t.Fatal(err)
	}
	o := outs[sess.Outputs()[0].Name]
	if fmt.Sprint(o.Shape()) != fmt.Sprint(c.outShape) {
		t.Fatalf("output shape %v, want %v", o.Shape(), c.outShape)
	}
	got, err := o.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestFunctionsAgainstReference runs every library function (and the Gelu
// and Attend emitters) through ONNX Runtime as model-local functions and
// inlined, at opsets 17 and 18, and compares the two with each other and
// with a float64 Go reference.
func TestFunctionsAgainstReference(t *testing.T) {
	requireORT(t)
	for _, c := range cases() {
		for _, opset := range []int64{17, 18} {
			t.Run(fmt.Sprintf("%s/opset%d", c.name, opset), func(t *testing.T) {
				m := buildModel(t, c, opset)
				fnBytes, err := export.Marshal(m, export.Options{Opset: opset})
				if err != nil {
					t.Fatal(err)
				}
				inBytes, err := export.Marshal(m, export.Options{Opset: opset, InlineFunctions: true})
				if err != nil {
					t.Fatal(err)
				}
				if c.functions && string(fnBytes) == string(inBytes) {
					t.Fatal("inlining did not change the model")
				}
				if len(m.Functions) > 0 && m.Graph.Nodes[0].Domain != graph.DomainXT {
					t.Fatal("Marshal with InlineFunctions modified the caller's model")
				}
				withFn := run(t, fnBytes, c)
				inlined := run(t, inBytes, c)
				want := c.want(c.inputs)
				if len(withFn) != len(want) {
					t.Fatalf("%d outputs, reference has %d", len(withFn), len(want))
				}
				var dFn, dRef float64
				for i := range want {
					if math.IsNaN(float64(withFn[i])) || math.IsNaN(float64(inlined[i])) {
						t.Fatalf("NaN at %d", i)
					}
					dFn = max(dFn, math.Abs(float64(withFn[i])-float64(inlined[i])))
					dRef = max(dRef, math.Abs(float64(withFn[i])-want[i]), math.Abs(float64(inlined[i])-want[i]))
				}
				if dFn > 1e-6 {
					t.Errorf("function vs inlined: max abs diff %.3g > 1e-6", dFn)
				}
				if dRef > 1e-5 {
					t.Errorf("vs float64 reference: max abs diff %.3g > 1e-5", dRef)
				}
				t.Logf("function vs inlined %.3g, vs reference %.3g", dFn, dRef)
				if c.check != nil {
					c.check(t, withFn)
					c.check(t, inlined)
				}
			})
		}
	}
}

// TestReduceL2Form checks the operator form each opset needs: ReduceL2 takes
// axes as an attribute before opset 18 and as an input from 18 on.
func TestReduceL2Form(t *testing.T) {
	for _, tt := range []struct {
		opset      int64
		wantInputs int
		wantAttr   bool
	}{{17, 1, true}, {18, 2, false}} {
		t.Run(fmt.Sprint(tt.opset), func(t *testing.T) {
			lib, err := ops.NewLibrary(tt.opset)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, n := range lib.L2NormGroups().Nodes {
				if n.OpType != "ReduceL2" {
					continue
				}
				found = true
				_, hasAxes := n.Attr("axes")
				if len(n.Inputs) != tt.wantInputs || hasAxes != tt.wantAttr {
					t.Errorf("ReduceL2 inputs %v, axes attribute %v; want %d inputs, attribute %v", n.Inputs, hasAxes, tt.wantInputs, tt.wantAttr)
				}
			}
			if !found {
				t.Fatal("no ReduceL2 node in L2NormGroups")
			}
		})
	}
}

// TestLibrary checks names, domains, opsets and call dependencies of the
// library functions.
func TestLibrary(t *testing.T) {
	lib, err := ops.NewLibrary(18)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		f       *graph.Function
		name    string
		inputs  int
		attrs   []string
		callees []string
	}{
		{lib.L2NormGroups(), ops.FnL2NormGroups, 1, []string{"groups"}, nil},
		{lib.QKNorm(), ops.FnQKNorm, 2, []string{"groups"}, []string{ops.FnL2NormGroups}},
		{lib.Attention(), ops.FnAttention, 4, []string{"scale"}, nil},
		{lib.CosineSimAttention(), ops.FnCosineSimAttention, 6, []string{"groups", "scale"}, []string{ops.FnQKNorm, ops.FnQKNorm, ops.FnAttention}},
	}
	fns := lib.Functions()
	if len(fns) != len(want) {
		t.Fatalf("%d functions, want %d", len(fns), len(want))
	}
	for i, w := range want {
		f := w.f
		if fns[i] != f || f.Name != w.name || f.Domain != graph.DomainXT || len(f.Inputs) != w.inputs ||
			fmt.Sprint(f.Attributes) != fmt.Sprint(w.attrs) || len(f.Outputs) != 1 || f.Doc == "" {
			t.Errorf("function %d: %s.%s inputs %v attrs %v doc %q", i, f.Domain, f.Name, f.Inputs, f.Attributes, f.Doc)
		}
		var callees []string
		for _, n := range f.Nodes {
			if n.Domain == graph.DomainXT {
				callees = append(callees, n.OpType)
			}
		}
		if fmt.Sprint(callees) != fmt.Sprint(w.callees) {
			t.Errorf("%s calls %v, want %v", f.Name, callees, w.callees)
		}
		if onnx := f.Opsets[0]; onnx.Domain != "" || onnx.Version != 18 {
			t.Errorf("%s opsets %v", f.Name, f.Opsets)
		}
	}
	// A graph calling CosineSimAttention registers the whole chain, callees first.
	b := graph.NewGraphBuilder(18)
	ops.CallCosineSimAttention(b, lib, "c", "q", "k", "v", "keep", "qg", "kg", 1, 10)
	var got []string
	for _, f := range b.Functions() {
		got = append(got, f.Name)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{ops.FnL2NormGroups, ops.FnQKNorm, ops.FnAttention, ops.FnCosineSimAttention}) {
		t.Errorf("registered functions %v", got)
	}
}
