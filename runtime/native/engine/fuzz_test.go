package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	onnximport "github.com/xt2onnx/xt2onnx/import"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/fuzzutil"
	"github.com/xt2onnx/xt2onnx/internal/hostile"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// The fuzz targets of the native path. Each run is bounded (a 64 MiB tensor
// budget, 10,000 nodes, a 10 s watchdog), and a failure is anything that
// is not an orderly error: a panic that escapes, a kernel or converter
// panic caught at the kernel boundary (an out-of-range index in a kernel
// is a bug even when recovered), an internal error, or a hang.

const (
	fuzzBudget   = 64 << 20
	fuzzMaxNodes = 10_000
)

// nodeTestModels returns the ONNX node-test models under 2 KB: real
// single-operator graphs with real attributes, the seeds to mutate.
func nodeTestModels(tb testing.TB) [][]byte {
	paths, _ := filepath.Glob("../../../fixtures/onnx-node-tests/v1.22.0/*/model.onnx")
	sort.Strings(paths)
	var out [][]byte
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 2048 {
			out = append(out, b)
		}
	}
	if len(out) < 500 {
		tb.Fatalf("found %d node-test models, want the fixtures' 671", len(out))
	}
	return out
}

// checkOrderly fails on errors that mean a bug rather than a bad model.
func checkOrderly(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	for _, bug := range []string{"kernel panicked", "converter panicked", "internal error"} {
		if strings.Contains(err.Error(), bug) {
			t.Fatalf("a bug, not an orderly error: %v", err)
		}
	}
}

// fuzzInputs makes a value for every runtime input of pm: declared fixed
// dims, dims 1–3 (from seed) for symbolic ones; nil when an input cannot be
// made small.
func fuzzInputs(pm *PreparedModel, seed []byte) map[string]*tensor.Dense {
	in := map[string]*tensor.Dense{}
	k := 0
	next := func() int {
		k++
		if len(seed) == 0 {
			return k
		}
		return int(seed[k%len(seed)])
	}
	for _, v := range pm.Inputs() {
		dt, err := kernels.DenseDtype(v.DType)
		if err != nil || v.Shape == nil {
			return nil
		}
		shape := make([]int, len(v.Shape))
		n := 1
		for i, d := range v.Shape {
			if d.Param == "" && d.Value > 0 {
				shape[i] = int(d.Value)
			} else {
				shape[i] = 1 + next()%3
			}
			n *= shape[i]
			if n > 1<<16 {
				return nil
			}
		}
		x := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		raw := x.Header.Raw
		for i := range raw {
			raw[i] = byte(next())
		}
		if dt == tensor.Bool {
			for i := range raw {
				raw[i] &= 1
			}
		}
		in[v.Name] = x
	}
	return in
}

// runFuzzModel reads, prepares, compiles and runs a serialized model, and
// evaluates it eagerly too; only orderly errors may come out.
func runFuzzModel(t *testing.T, data, seed []byte) {
	defer fuzzutil.Watchdog(10*time.Second, "read, compile and run")()
	m, err := onnximport.Read(data)
	if err != nil {
		return
	}
	pm, err := PrepareWith(m, kernels.DefaultRegistry(), PrepareOptions{MaxNodes: fuzzMaxNodes})
	checkOrderly(t, err)
	if err != nil {
		return
	}
	in := fuzzInputs(pm, seed)
	if in == nil {
		return
	}
	// The production path: a plan, run twice with one arena (the second
	// run reuses the first's buffers) and three workers.
	p, err := NewPlan(pm, PlanOptions{MaxTensorBytes: fuzzBudget})
	checkOrderly(t, err)
	if err == nil {
		arena := kernels.NewArena()
		var first map[string]*tensor.Dense
		for run := 0; run < 2; run++ {
			out, err := p.Execute(context.Background(), arena, in, RunOptions{MaxTensorBytes: fuzzBudget, Workers: fuzzPool})
			checkOrderly(t, err)
			if err != nil {
				break
			}
			if run == 0 {
				// Copy the outputs out of the arena before it is reused.
				first = map[string]*tensor.Dense{}
				for k, v := range out {
					first[k] = v.Clone().(*tensor.Dense)
				}
			} else {
				for k, v := range out {
					if cerr := kernels.Compare(v, first[k], 0); cerr != nil && !hasNaN(first[k]) && !nondeterministicModel(pm) {
						t.Fatalf("output %s differs between two runs of the same inputs: %v", k, cerr)
					}
				}
			}
			arena.Reset()
		}
	}
	_, err = EvalWith(m, in, EvalOptions{MaxTensorBytes: fuzzBudget, MaxNodes: fuzzMaxNodes})
	checkOrderly(t, err)
}

var fuzzPool = kernels.NewPool(3)

// hasNaN reports whether a float tensor holds a NaN (NaN differs from NaN
// bit-for-bit in ways Compare does not forgive for every op).
func hasNaN(d *tensor.Dense) bool {
	v, err := kernels.ToFloat64s(d)
	if err != nil {
		return false
	}
	for _, x := range v {
		if x != x {
			return true
		}
	}
	return false
}

// nondeterministicModel reports whether the model draws random numbers.
func nondeterministicModel(pm *PreparedModel) bool {
	for _, n := range pm.Graph().Nodes {
		if nondeterministic[n.OpType] || n.OpType == "Dropout" {
			return true
		}
	}
	return false
}

// FuzzReadRun mutates real models (the ONNX node tests, the hostile models)
// and runs whatever still decodes through the reader, Prepare, the plan
// (twice, with one arena: the results must agree) and Eval.
func FuzzReadRun(f *testing.F) {
	for _, b := range nodeTestModels(f) {
		f.Add(b, []byte{1, 2, 3})
	}
	for _, m := range hostile.ShapeBombs() {
		f.Add(m.Bytes, []byte{0})
	}
	f.Add(hostile.InlineBomb(6, 4), []byte{0})
	f.Fuzz(func(t *testing.T, data, seed []byte) {
		runFuzzModel(t, data, seed)
	})
}

var fuzzRegistry = kernels.DefaultRegistry()

// attrSpec is an attribute an operator is seen with in the node tests.
type attrSpec struct {
	name string
	typ  graph.AttrType
}

// opCatalog lists every operator of the default registry, default domain
// first, with the attributes the node tests use for it.
func opCatalog(tb testing.TB) (ops []string, attrs map[string][]attrSpec) {
	attrs = map[string][]attrSpec{}
	seen := map[string]map[string]bool{}
	for _, b := range nodeTestModels(tb) {
		m, err := onnximport.Read(b)
		if err != nil {
			continue
		}
		for _, n := range m.Graph.Nodes {
			if seen[n.OpType] == nil {
				seen[n.OpType] = map[string]bool{}
			}
			for _, a := range n.Attrs {
				if a.G != nil || seen[n.OpType][a.Name] {
					continue
				}
				seen[n.OpType][a.Name] = true
				attrs[n.OpType] = append(attrs[n.OpType], attrSpec{a.Name, a.Type})
			}
		}
	}
	for _, s := range fuzzRegistry.Ops() {
		if s.Domain == "" && !slices.Contains(ops, s.OpType) {
			ops = append(ops, s.OpType)
		}
	}
	sort.Strings(ops)
	return ops, attrs
}

// fuzzAttr builds attribute a from fuzz bytes: small ints and int lists,
// floats, and the strings the operators take.
func fuzzAttr(a attrSpec, b []byte) graph.Attr {
	at := graph.Attr{Name: a.name, Type: a.typ}
	val := func(i int) int64 {
		if len(b) == 0 {
			return 0
		}
		return int64(int8(b[i%len(b)]))
	}
	switch a.typ {
	case graph.AttrInt:
		at.I = val(0) % 5
	case graph.AttrInts:
		n := int(val(0)&3) + 1
		for i := 0; i < n; i++ {
			at.Ints = append(at.Ints, val(i+1)%4)
		}
	case graph.AttrFloat:
		at.F = float32(val(0)) / 16
	case graph.AttrFloats:
		at.Floats = []float32{float32(val(0)) / 16, float32(val(1)) / 16}
	case graph.AttrString:
		choices := map[string][]string{
			"mode":                           {"constant", "reflect", "edge", "wrap", "nearest", "linear"},
			"auto_pad":                       {"NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"},
			"equation":                       {"ij,jk->ik", "i,j->ij", "bij,bjk->bik", "ii->i", "...ij->...ji", "ij->"},
			"approximate":                    {"none", "tanh"},
			"reduction":                      {"none", "add", "mul", "max", "min"},
			"direction":                      {"forward", "reverse", "bidirectional"},
			"coordinate_transformation_mode": {"half_pixel", "asymmetric"},
		}[a.name]
		if len(choices) == 0 {
			choices = []string{"", "x"}
		}
		at.S = choices[int(uint8(val(0)))%len(choices)]
	case graph.AttrTensor:
		at.T = graph.FloatTensor("", []int64{1}, []float32{float32(val(0))})
	case graph.AttrStrings:
		at.Strings = []string{"a"}
	}
	return at
}

// FuzzOps builds one-node graphs of every registered operator from fuzz
// bytes: the operator, 1 to 4 inputs of fuzzed dtypes and shapes (rank 0
// to 4, dims 0 to 4), fuzzed data, and a fuzzed subset of the attributes
// the operator takes, and runs them with Eval and through Compile.
func FuzzOps(f *testing.F) {
	ops, catalog := opCatalog(f)
	for i := range ops {
		f.Add(uint16(i), []byte{2, 3, 1, 2}, []byte{1, 0, 2}, []byte{5, 7, 9})
		f.Add(uint16(i), []byte{0x21, 4, 1}, []byte{0xff, 3}, []byte{200, 1, 3, 3})
	}
	dtypes := []graph.DType{graph.Float, graph.Int64, graph.Float, graph.Bool, graph.Int32, graph.Double, graph.Float16, graph.Uint8}
	f.Fuzz(func(t *testing.T, op uint16, shapeBytes, attrBytes, data []byte) {
		name := ops[int(op)%len(ops)]
		spec, err := fuzzRegistry.Lookup("", name, 18)
		if err != nil {
			return
		}
		nIn := spec.MinInputs
		if len(shapeBytes) > 0 {
			extra := int(shapeBytes[0] >> 4)
			maxIn := spec.MaxInputs
			if maxIn < 0 {
				maxIn = spec.MinInputs + 3
			}
			nIn = min(spec.MinInputs+extra, maxIn, 4)
		}
		byteAt := func(b []byte, i int) byte {
			if len(b) == 0 {
				return 0
			}
			return b[i%len(b)]
		}
		g := &graph.Graph{Name: "fuzz"}
		node := &graph.Node{Name: "n", OpType: name}
		pos := 1
		for i := 0; i < max(nIn, 1); i++ {
			in := "in" + string(rune('a'+i))
			dt := dtypes[int(byteAt(shapeBytes, pos))%len(dtypes)]
			rank := int(byteAt(shapeBytes, pos+1)) % 5
			pos += 2
			dims := make([]int64, rank)
			for d := range dims {
				dims[d] = int64(byteAt(shapeBytes, pos)) % 5
				pos++
			}
			// Integer inputs of shape ops (shapes, axes, pads, repeats)
			// are given as constants, as models give them.
			if dt == graph.Int64 {
				n := graph.NumElements(dims)
				vals := make([]int64, n)
				for k := range vals {
					vals[k] = int64(int8(byteAt(data, k+i))) % 6
				}
				g.Initializers = append(g.Initializers, graph.Int64Tensor(in, dims, vals))
			} else {
				shape := make([]graph.Dim, rank)
				for d := range shape {
					shape[d] = graph.Fixed(dims[d])
				}
				g.Inputs = append(g.Inputs, graph.ValueInfo{Name: in, DType: dt, Shape: shape})
			}
			node.Inputs = append(node.Inputs, in)
		}
		for k, a := range catalog[name] {
			if byteAt(attrBytes, 2*k)&1 == 1 {
				node.Attrs = append(node.Attrs, fuzzAttr(a, attrBytes[min(2*k+1, len(attrBytes)):]))
			}
		}
		for k := 0; k < min(max(spec.Outputs, 1), 3); k++ {
			out := "out" + string(rune('a'+k))
			node.Outputs = append(node.Outputs, out)
			g.Outputs = append(g.Outputs, graph.ValueInfo{Name: out})
		}
		g.Nodes = []*graph.Node{node}
		m := &graph.Model{Opsets: []graph.OpsetImport{{Domain: "", Version: 18}}, Graph: g}
		b, err := export.Marshal(m, export.Options{Opset: 18})
		if err != nil {
			return // not even a well-formed graph
		}
		runFuzzModel(t, b, data)
	})
}
