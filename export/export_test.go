package export_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/buildinfo"
)

// testModel returns a model that uses every feature the exporter writes:
// symbolic and unknown dims, scalars, bool/int64/float tensors, a function
// with a Ref attribute, a sub-graph attribute, metadata and doc strings.
// Empty lists are nil, as the reader returns them, so that a round trip
// can be compared with reflect.DeepEqual.
func testModel() *graph.Model {
	scale := &graph.Function{
		Domain:     graph.DomainXT,
		Name:       "Scale",
		Doc:        "multiplies by alpha",
		Inputs:     []string{"X"},
		Outputs:    []string{"Y"},
		Attributes: []string{"alpha"},
		Nodes: []*graph.Node{
			{Name: "alpha", OpType: "Constant", Outputs: []string{"a"},
				Attrs: []graph.Attr{graph.ARef("value_float", graph.AttrFloat, "alpha")}},
			{Name: "mul", OpType: "Mul", Inputs: []string{"X", "a"}, Outputs: []string{"Y"}},
		},
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}},
	}
	then := &graph.Graph{
		Name:    "then",
		Outputs: []graph.ValueInfo{{Name: "t_out", DType: graph.Float}},
		Nodes:   []*graph.Node{{Name: "t_id", OpType: "Identity", Inputs: []string{"scaled"}, Outputs: []string{"t_out"}}},
	}
	els := &graph.Graph{
		Name:    "else",
		Outputs: []graph.ValueInfo{{Name: "e_out", DType: graph.Float}},
		Nodes:   []*graph.Node{{Name: "e_neg", OpType: "Neg", Inputs: []string{"scaled"}, Outputs: []string{"e_out"}}},
	}
	return &graph.Model{
		IRVersion:       8,
		ProducerName:    export.DefaultProducerName,
		ProducerVersion: export.Version,
		Domain:          "ai.xtransformers.test",
		ModelVersion:    3,
		Doc:             "round-trip test model",
		Opsets:          []graph.OpsetImport{{Domain: "", Version: 18}, {Domain: graph.DomainXT, Version: 1}, {Domain: "com.microsoft", Version: 1}},
		Metadata: []graph.MetadataEntry{
			{Key: "xt2onnx.config", Value: `{"dim":4}`},
			{Key: "a", Value: ""},
		},
		Graph: &graph.Graph{
			Name: "main",
			Doc:  "main graph",
			Inputs: []graph.ValueInfo{
				{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq"), graph.Fixed(4)}, Doc: "tokens"},
				{Name: "mask", DType: graph.Bool, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq")}},
				{Name: "flag", DType: graph.Bool, Shape: []graph.Dim{}},
			},
			Outputs: []graph.ValueInfo{
				{Name: "y", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), {}, graph.Fixed(4)}},
			},
			ValueInfo: []graph.ValueInfo{
				{Name: "h", DType: graph.Float},
				{Name: "shaped"},
			},
			Initializers: []*graph.Tensor{
				graph.FloatTensor("w", []int64{4, 4}, []float32{1, -2, 3.5, 0, 1e-7, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, -16}),
				graph.Int64Tensor("shape", []int64{3}, []int64{0, -1, 4}),
				graph.BoolTensor("keep", []int64{2}, []bool{true, false}),
				graph.FloatTensor("zero", nil, []float32{0}),
			},
			Nodes: []*graph.Node{
				{Name: "mm", OpType: "MatMul", Inputs: []string{"x", "w"}, Outputs: []string{"h"}, Doc: "projection"},
				{Name: "reshape", OpType: "Reshape", Inputs: []string{"h", "shape"}, Outputs: []string{"shaped"},
					Attrs: []graph.Attr{graph.AInt("allowzero", 0)}},
				{Name: "scale", OpType: "Scale", Domain: graph.DomainXT, Inputs: []string{"shaped"}, Outputs: []string{"scaled"},
					Attrs: []graph.Attr{graph.AFloat("alpha", 0.125)}},
				{Name: "branch", OpType: "If", Inputs: []string{"flag"}, Outputs: []string{"chosen"},
					Attrs: []graph.Attr{{Name: "then_branch", Type: graph.AttrGraph, G: then}, {Name: "else_branch", Type: graph.AttrGraph, G: els}}},
				{Name: "c", OpType: "Constant", Outputs: []string{"c"},
					Attrs: []graph.Attr{graph.ATensor("value", graph.Int64Tensor("", []int64{1}, []int64{-1}))}},
				{Name: "clip", OpType: "Clip", Inputs: []string{"chosen", "", "zero"}, Outputs: []string{"clipped"}},
				{Name: "sum", OpType: "ReduceSum", Inputs: []string{"clipped", "c"}, Outputs: []string{"summed"},
					Attrs: []graph.Attr{graph.AInt("keepdims", 1)}},
				{Name: "where", OpType: "Where", Inputs: []string{"mask", "summed", "zero"}, Outputs: []string{"y"}},
				{Name: "tag", OpType: "Tag", Domain: "com.microsoft", Inputs: []string{"y"}, Outputs: []string{"tagged"},
					Attrs: []graph.Attr{
						graph.AInts("ints", 1, -2, 3),
						{Name: "floats", Type: graph.AttrFloats, Floats: []float32{0.5, -1}},
						{Name: "strings", Type: graph.AttrStrings, Strings: []string{"a", ""}},
						graph.AString("string", "s"),
					}},
			},
		},
		Functions: []*graph.Function{scale},
	}
}

func TestRoundTrip(t *testing.T) {
	m := testModel()
	data, err := export.Marshal(m, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := onnximport.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, testModel()) {
		a, _ := json.MarshalIndent(got, "", " ")
		b, _ := json.MarshalIndent(testModel(), "", " ")
		t.Fatalf("round trip changed the model:\ngot  %s\nwant %s", a, b)
	}
}

func TestProducerAndIRVersion(t *testing.T) {
	m := testModel()
	m.ProducerName, m.ProducerVersion, m.IRVersion = "someone", "0.1", 3
	for _, tc := range []struct {
		opts             export.Options
		opset            int64
		ir               int64
		producer, pversn string
	}{
		{export.Options{}, 18, 8, "xt2onnx", export.Version},
		{export.Options{Opset: 18, ProducerName: "p", ProducerVersion: "9"}, 18, 8, "p", "9"},
		{export.Options{Opset: 17}, 17, 8, "xt2onnx", export.Version},
	} {
		mm := testModel()
		mm.Opsets[0].Version = tc.opset
		mm.Functions[0].Opsets[0].Version = tc.opset
		data, err := export.Marshal(mm, tc.opts)
		if err != nil {
			t.Fatalf("%+v: %v", tc.opts, err)
		}
		got, err := onnximport.Read(data)
		if err != nil {
			t.Fatal(err)
		}
		if got.IRVersion != tc.ir || got.ProducerName != tc.producer || got.ProducerVersion != tc.pversn || got.Opset("") != tc.opset {
			t.Errorf("%+v: got IR %d producer %q %q opset %d, want IR %d producer %q %q opset %d", tc.opts,
				got.IRVersion, got.ProducerName, got.ProducerVersion, got.Opset(""), tc.ir, tc.producer, tc.pversn, tc.opset)
		}
	}
	if ir, ok := export.IRVersion(18); ir != 8 || !ok {
		t.Errorf("IRVersion(18) = %d, %v; want 8, true", ir, ok)
	}
	if ir, ok := export.IRVersion(23); !ok || ir != 11 {
		t.Errorf("IRVersion(23) = %d, %v; want 11, true", ir, ok)
	}
	if _, ok := export.IRVersion(16); ok {
		t.Error("IRVersion(16) accepted")
	}
	if got := export.Opsets(); !reflect.DeepEqual(got, []int64{17, 18, 23}) {
		t.Errorf("Opsets() = %v, want [17 18 23]", got)
	}
}

func TestDeterministic(t *testing.T) {
	a, err := export.Marshal(testModel(), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := export.Marshal(testModel(), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("two marshals of the same model differ")
	}
	// Reading and writing again reproduces the bytes exactly.
	m, err := onnximport.Read(a)
	if err != nil {
		t.Fatal(err)
	}
	c, err := export.Marshal(m, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, c) {
		t.Fatalf("write → read → write changed the bytes (%d vs %d bytes)", len(a), len(c))
	}
}

func TestRefusesBadModels(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(m *graph.Model)
		opts   export.Options
		want   []string
		checkE bool // the error wraps a *graph.CheckError
	}{
		{
			name: "input used before it is produced",
			edit: func(m *graph.Model) {
				n := m.Graph.Nodes
				n[0], n[1] = n[1], n[0]
			},
			want:   []string{`node "reshape" (Reshape)`, `input "h" is not produced before this node`},
			checkE: true,
		},
		{
			name:   "graph output not produced",
			edit:   func(m *graph.Model) { m.Graph.Outputs[0].Name = "nowhere" },
			want:   []string{`graph output "nowhere"`},
			checkE: true,
		},
		{
			name:   "initializer data does not match its shape",
			edit:   func(m *graph.Model) { m.Graph.Initializers[0].Dims = []int64{4, 5} },
			want:   []string{`initializer "w"`, "needs 80 bytes, data has 64"},
			checkE: true,
		},
		{
			name: "opset 16",
			edit: func(m *graph.Model) { m.Opsets[0].Version = 16 },
			opts: export.Options{Opset: 16},
			want: []string{"opset 16 is not supported", "supported opsets: 17, 18, 23"},
		},
		{
			name: "model built for another opset",
			edit: func(m *graph.Model) { m.Opsets[0].Version = 17 },
			want: []string{"imports ONNX opset 17 but opset 18 was requested"},
		},
		{
			name: "function built for another opset",
			edit: func(m *graph.Model) { m.Functions[0].Opsets[0].Version = 17 },
			want: []string{"function ai.xtransformers.Scale imports ONNX opset 17"},
		},
		{
			name: "attribute tensor does not match its shape",
			edit: func(m *graph.Model) { m.Graph.Nodes[4].Attrs[0].T.Dims = []int64{2} },
			want: []string{`node "c" (Constant) attribute "value"`, "needs 16 bytes, data has 8"},
		},
		{
			name: "no graph",
			edit: func(m *graph.Model) { m.Graph = nil },
			want: []string{"model has no graph"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := testModel()
			tc.edit(m)
			_, err := export.Marshal(m, tc.opts)
			if err == nil {
				t.Fatal("Marshal accepted the model")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "export: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			var ce *graph.CheckError
			if got := errors.As(err, &ce); got != tc.checkE {
				t.Errorf("errors.As(*graph.CheckError) = %v, want %v", got, tc.checkE)
			}
		})
	}
}

func TestInlineFunctions(t *testing.T) {
	m := testModel()
	data, err := export.Marshal(m, export.Options{InlineFunctions: true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, testModel()) {
		t.Fatal("Marshal with InlineFunctions modified the caller's model")
	}
	got, err := onnximport.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Functions) != 0 {
		t.Errorf("inlined model still has %d functions", len(got.Functions))
	}
	if got.Opset(graph.DomainXT) != 0 {
		t.Errorf("inlined model still imports %s", graph.DomainXT)
	}
	var ops []string
	for _, n := range got.Graph.Nodes {
		ops = append(ops, n.OpType)
		if n.Domain == graph.DomainXT {
			t.Errorf("node %q still calls a function of %q", n.Name, n.Domain)
		}
	}
	want := []string{"MatMul", "Reshape", "Constant", "Mul", "If", "Constant", "Clip", "ReduceSum", "Where", "Tag"}
	if !reflect.DeepEqual(ops, want) {
		t.Errorf("ops = %v, want %v", ops, want)
	}
	// The Ref attribute took the call's value.
	if a, ok := got.Graph.Nodes[2].Attr("value_float"); !ok || a.F != 0.125 || a.Ref != "" {
		t.Errorf("inlined Constant attribute = %+v, %v; want value_float 0.125", a, ok)
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	if err := export.WriteFile(path, testModel(), export.Options{}); err != nil {
		t.Fatal(err)
	}
	want, err := export.Marshal(testModel(), export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("file content differs from Marshal's bytes")
	}
	m, err := onnximport.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, testModel()) {
		t.Error("file does not read back as the model")
	}
	assertEntries(t, dir, "model.onnx")

	// A bad model: the error names the node and the old file is untouched.
	bad := testModel()
	bad.Graph.Nodes[0].Inputs[0] = "missing"
	err = export.WriteFile(path, bad, export.Options{})
	if err == nil || !strings.Contains(err.Error(), `node "mm" (MatMul)`) {
		t.Fatalf("WriteFile(bad model) error = %v, want one naming node mm", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Error("failed WriteFile changed the existing file")
	}
	assertEntries(t, dir, "model.onnx")

	// A bad model to a new path leaves nothing behind.
	if err := export.WriteFile(filepath.Join(dir, "new.onnx"), bad, export.Options{}); err == nil {
		t.Fatal("WriteFile accepted a bad model")
	}
	assertEntries(t, dir, "model.onnx")

	// A directory that cannot be written (here: a path through a file).
	err = export.WriteFile(filepath.Join(path, "x.onnx"), testModel(), export.Options{})
	if err == nil || !strings.Contains(err.Error(), "export: writing ") {
		t.Fatalf("WriteFile into a non-directory: error = %v", err)
	}
	assertEntries(t, dir, "model.onnx")
}

// assertEntries checks that dir holds exactly the named entries.
func assertEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !reflect.DeepEqual(got, names) {
		t.Errorf("directory holds %v, want %v", got, names)
	}
}

// TestFixtureRoundTrip reads every PyTorch-exported fixture, writes it back
// and reads it again: the IR must be unchanged apart from the fields export
// sets itself (IR version, producer).
func TestFixtureRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../fixtures/xtransformers-1.9.2/*/torch_*.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Skip("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			m, err := onnximport.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			data, err := export.Marshal(m, export.Options{Opset: m.Opset("")})
			if err != nil {
				t.Fatal(err)
			}
			got, err := onnximport.Read(data)
			if err != nil {
				t.Fatal(err)
			}
			ir, _ := export.IRVersion(m.Opset(""))
			m.IRVersion, m.ProducerName, m.ProducerVersion = ir, export.DefaultProducerName, export.Version
			if !reflect.DeepEqual(got, m) {
				t.Fatal("write → read changed the model")
			}
		})
	}
	if len(files) != 48 {
		t.Errorf("found %d fixture files, want 48", len(files))
	}
}

// TestVersionFromBuildInfo checks that a library user's files name the
// xt2onnx version of their build, not a constant.
func TestVersionFromBuildInfo(t *testing.T) {
	if want := buildinfo.Version(""); export.Version != want {
		t.Errorf("export.Version = %q, want buildinfo.Version(\"\") = %q", export.Version, want)
	}
}
