package onnximport_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
)

const fixtures = "../fixtures/xtransformers-1.9.2"

// TestFixtures reads every PyTorch export of the reference fixtures and
// compares the main graph's op histogram, opsets and function count with
// what meta.json recorded at export time (the ONNX Python package's count
// of model.graph.node by op_type).
func TestFixtures(t *testing.T) {
	metas, err := filepath.Glob(filepath.Join(fixtures, "*", "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) == 0 {
		t.Skip("no fixtures")
	}
	files := 0
	for _, mj := range metas {
		dir := filepath.Dir(mj)
		b, err := os.ReadFile(mj)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Exports map[string]struct {
				Ops    map[string]int
				Opsets []struct {
					Domain  string
					Version int64
				}
				Functions int
			}
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			t.Fatalf("%s: %v", mj, err)
		}
		for _, kind := range []string{"ts", "dynamo"} {
			path := filepath.Join(dir, "torch_"+kind+".onnx")
			if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
				continue
			}
			files++
			want := meta.Exports[kind]
			t.Run(filepath.Base(dir)+"/"+kind, func(t *testing.T) {
				m, err := onnximport.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				ops := map[string]int{}
				for _, n := range m.Graph.Nodes {
					ops[n.OpType]++
				}
				if !reflect.DeepEqual(ops, want.Ops) {
					t.Errorf("op histogram\n got  %v\n want %v", ops, want.Ops)
				}
				if len(m.Functions) != want.Functions {
					t.Errorf("%d functions, meta.json says %d", len(m.Functions), want.Functions)
				}
				if len(m.Opsets) != len(want.Opsets) {
					t.Fatalf("opsets %v, meta.json says %v", m.Opsets, want.Opsets)
				}
				for i, o := range want.Opsets {
					if m.Opsets[i] != (graph.OpsetImport{Domain: o.Domain, Version: o.Version}) {
						t.Errorf("opset %d is %v, meta.json says %v", i, m.Opsets[i], o)
					}
				}
				if err := graph.Check(m); err != nil {
					t.Errorf("graph check: %v", err)
				}
				// Both exporters declare symbolic batch and sequence axes.
				if in := m.Graph.Inputs[0]; len(in.Shape) == 0 || in.Shape[0].Param == "" {
					t.Errorf("input %q has shape %v, want a symbolic first dim", in.Name, in.Shape)
				}
			})
		}
	}
	if files != 48 {
		t.Errorf("read %d fixture files, want 48", files)
	}
}

func TestTruncatedAndForeignInput(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(fixtures, "dec_basic", "torch_ts.onnx"))
	if err != nil {
		t.Skip("no fixtures")
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.onnx")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		read func() (*graph.Model, error)
		want string
	}{
		{"truncated bytes", func() (*graph.Model, error) { return onnximport.Read(data[:len(data)-7]) }, "not an ONNX ModelProto"},
		{"truncated file", func() (*graph.Model, error) { return onnximport.ReadFile(cut) }, "onnximport: invalid model: " + cut + ": not an ONNX ModelProto"},
		{"empty", func() (*graph.Model, error) { return onnximport.Read(nil) }, "model: has no graph"},
		{"text", func() (*graph.Model, error) { return onnximport.Read([]byte("this is not a model")) }, "not an ONNX ModelProto"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.read()
			var fe *onnximport.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error = %v (%T), want *FormatError", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	if _, err := onnximport.ReadFile(filepath.Join(dir, "absent.onnx")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error = %v, want ErrNotExist", err)
	}
}

// model wraps initializers and nodes into serialized ModelProto bytes.
func model(t *testing.T, inits []*onnxpb.TensorProto, nodes ...*onnxpb.NodeProto) []byte {
	t.Helper()
	mp := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		Graph:       &onnxpb.GraphProto{Name: proto.String("g"), Initializer: inits, Node: nodes},
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func le32(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

func le64(v ...uint64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b
}

func dt(d graph.DType) *int32 { return proto.Int32(int32(d)) }

func TestTypedDataFields(t *testing.T) {
	neg := int64(-5)
	tests := []struct {
		name string
		tp   *onnxpb.TensorProto
		want []byte
	}{
		{"float_data", &onnxpb.TensorProto{DataType: dt(graph.Float), Dims: []int64{2}, FloatData: []float32{1.5, -2}},
			le32(math.Float32bits(1.5), math.Float32bits(-2))},
		{"int64_data", &onnxpb.TensorProto{DataType: dt(graph.Int64), Dims: []int64{3}, Int64Data: []int64{1, neg, math.MaxInt64}},
			le64(1, uint64(neg), math.MaxInt64)},
		{"int32_data bool", &onnxpb.TensorProto{DataType: dt(graph.Bool), Dims: []int64{2, 2}, Int32Data: []int32{1, 0, 0, 7}},
			[]byte{1, 0, 0, 1}},
		{"int32_data int32", &onnxpb.TensorProto{DataType: dt(graph.Int32), Dims: []int64{2}, Int32Data: []int32{-1, 70000}},
			le32(math.MaxUint32, 70000)},
		{"int32_data int8", &onnxpb.TensorProto{DataType: dt(graph.Int8), Dims: []int64{3}, Int32Data: []int32{-1, 127, -128}},
			[]byte{0xff, 0x7f, 0x80}},
		{"int32_data uint8", &onnxpb.TensorProto{DataType: dt(graph.Uint8), Dims: []int64{2}, Int32Data: []int32{255, 3}},
			[]byte{0xff, 3}},
		{"int32_data int16", &onnxpb.TensorProto{DataType: dt(graph.Int16), Dims: []int64{2}, Int32Data: []int32{-2, 300}},
			[]byte{0xfe, 0xff, 0x2c, 0x01}},
		{"int32_data float16", &onnxpb.TensorProto{DataType: dt(graph.Float16), Dims: []int64{2}, Int32Data: []int32{0x3c00, 0xc000}},
			[]byte{0x00, 0x3c, 0x00, 0xc0}},
		{"int32_data bfloat16", &onnxpb.TensorProto{DataType: dt(graph.BFloat16), Dims: []int64{1}, Int32Data: []int32{0x3f80}},
			[]byte{0x80, 0x3f}},
		{"double_data", &onnxpb.TensorProto{DataType: dt(graph.Double), Dims: []int64{1}, DoubleData: []float64{0.1}},
			le64(math.Float64bits(0.1))},
		{"uint64_data uint32", &onnxpb.TensorProto{DataType: dt(graph.Uint32), Dims: []int64{2}, Uint64Data: []uint64{1, math.MaxUint32}},
			le32(1, math.MaxUint32)},
		{"uint64_data uint64", &onnxpb.TensorProto{DataType: dt(graph.Uint64), Dims: []int64{1}, Uint64Data: []uint64{math.MaxUint64}},
			le64(math.MaxUint64)},
		{"raw_data scalar", &onnxpb.TensorProto{DataType: dt(graph.Float), RawData: le32(math.Float32bits(3))},
			le32(math.Float32bits(3))},
		{"empty tensor", &onnxpb.TensorProto{DataType: dt(graph.Float), Dims: []int64{0, 4}},
			nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.tp.Name = proto.String("t")
			m, err := onnximport.Read(model(t, []*onnxpb.TensorProto{tc.tp}))
			if err != nil {
				t.Fatal(err)
			}
			got := m.Graph.Initializers[0]
			if !reflect.DeepEqual(got.Raw, tc.want) {
				t.Errorf("Raw = %x, want %x", got.Raw, tc.want)
			}
			if !reflect.DeepEqual(got.Dims, tc.tp.Dims) || got.DType != graph.DType(tc.tp.GetDataType()) || got.Name != "t" {
				t.Errorf("tensor %q %s %v, want t %s %v", got.Name, got.DType, got.Dims, graph.DType(tc.tp.GetDataType()), tc.tp.Dims)
			}
			if err := got.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestTensorErrors(t *testing.T) {
	tests := []struct {
		name        string
		tp          *onnxpb.TensorProto
		unsupported bool
		want        string
	}{
		{"too few float_data", &onnxpb.TensorProto{DataType: dt(graph.Float), Dims: []int64{2, 2}, FloatData: []float32{1, 2, 3}},
			false, `initializer "t": shape [2 2] of float32 needs 4 elements, float_data holds 3`},
		{"data in the wrong field", &onnxpb.TensorProto{DataType: dt(graph.Int64), Dims: []int64{1}, Int32Data: []int32{1}},
			false, "int64_data holds 0"},
		{"raw_data size", &onnxpb.TensorProto{DataType: dt(graph.Int64), Dims: []int64{3}, RawData: make([]byte, 16)},
			false, `initializer "t": shape [3] of int64 needs 24 bytes of data, found 16`},
		{"negative dim", &onnxpb.TensorProto{DataType: dt(graph.Float), Dims: []int64{2, -1}, RawData: make([]byte, 8)},
			false, "dim 1 is negative (-1)"},
		{"no data", &onnxpb.TensorProto{DataType: dt(graph.Float), Dims: []int64{2}},
			false, "needs 2 elements, float_data holds 0"},
		{"overflowing shape", &onnxpb.TensorProto{DataType: dt(graph.Float), Dims: []int64{1 << 40, 1 << 40}},
			false, "is too large"},
		{"string tensor", &onnxpb.TensorProto{DataType: dt(graph.String), Dims: []int64{1}, StringData: [][]byte{[]byte("a")}},
			true, `initializer "t": element type STRING (8) is not supported`},
		{"float8 tensor", &onnxpb.TensorProto{DataType: proto.Int32(17), Dims: []int64{1}, RawData: []byte{1}},
			true, "element type FLOAT8E4M3FN (17)"},
		{"segment", &onnxpb.TensorProto{DataType: dt(graph.Float), Segment: &onnxpb.TensorProto_Segment{}},
			true, "segmented tensors"},
		{"external data from bytes", &onnxpb.TensorProto{DataType: dt(graph.Float), Dims: []int64{1},
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("w.bin")}}},
			false, `data is in external file "w.bin", which Read cannot resolve: use ReadFile`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.tp.Name = proto.String("t")
			_, err := onnximport.Read(model(t, []*onnxpb.TensorProto{tc.tp}))
			if err == nil {
				t.Fatal("Read accepted the tensor")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			var fe *onnximport.FormatError
			var ue *onnximport.UnsupportedError
			switch {
			case tc.unsupported && !errors.As(err, &ue):
				t.Errorf("error is %T, want *UnsupportedError", err)
			case !tc.unsupported && tc.name != "external data from bytes" && !errors.As(err, &fe):
				t.Errorf("error is %T, want *FormatError", err)
			}
		})
	}
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	// 4 bytes of padding, then 3 float32.
	blob := append([]byte{9, 9, 9, 9}, le32(math.Float32bits(1), math.Float32bits(2), math.Float32bits(3))...)
	if err := os.WriteFile(filepath.Join(dir, "weights.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	ext := func(kv ...string) *onnxpb.TensorProto {
		tp := &onnxpb.TensorProto{Name: proto.String("w"), DataType: dt(graph.Float), Dims: []int64{3},
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}
		for i := 0; i < len(kv); i += 2 {
			tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
		}
		return tp
	}
	tests := []struct {
		name string
		tp   *onnxpb.TensorProto
		want string // "" means success
	}{
		{"offset and length", ext("location", "weights.bin", "offset", "4", "length", "12"), ""},
		{"offset only", ext("location", "weights.bin", "offset", "4", "checksum", "ignored"), ""},
		{"length mismatch", ext("location", "weights.bin", "offset", "4", "length", "8"), "external data length 8 does not match shape [3] of float32 (12 bytes)"},
		{"past the end", ext("location", "weights.bin", "offset", "8"), `external data file "weights.bin" holds 16 bytes, the tensor needs offset 8 + length 12`},
		{"offset past the end", ext("location", "weights.bin", "offset", "9223372036854775807"), `holds 16 bytes, the tensor needs offset 9223372036854775807 + length 12`},
		{"escaping path", ext("location", "../weights.bin"), `location "../weights.bin": external data path escapes model directory`},
		{"absolute path", ext("location", filepath.Join(dir, "weights.bin")), "is an absolute path; external data path escapes model directory"},
		{"bad offset", ext("location", "weights.bin", "offset", "x"), `external data offset "x" is not a non-negative integer`},
		{"no location", ext("offset", "0"), "external data has no location"},
		{"missing file", ext("location", "absent.bin"), "opening external data"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "model.onnx")
			if err := os.WriteFile(path, model(t, []*onnxpb.TensorProto{tc.tp}), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := onnximport.ReadFile(path)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v, want one containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Graph.Initializers[0].Float32s()
			if err != nil || !reflect.DeepEqual(got, []float32{1, 2, 3}) {
				t.Errorf("data = %v, %v; want [1 2 3]", got, err)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	attr := func(name string, typ onnxpb.AttributeProto_AttributeType) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: typ.Enum()}
	}
	ref := attr("perm", onnxpb.AttributeProto_INTS)
	ref.RefAttrName = proto.String("p")
	g := attr("body", onnxpb.AttributeProto_GRAPH)
	g.G = &onnxpb.GraphProto{Name: proto.String("sub"), Node: []*onnxpb.NodeProto{{OpType: proto.String("Identity"), Input: []string{"a"}, Output: []string{"b"}}}}
	s := attr("mode", onnxpb.AttributeProto_STRING)
	s.S = []byte("constant")
	tensor := attr("value", onnxpb.AttributeProto_TENSOR)
	tensor.T = &onnxpb.TensorProto{DataType: dt(graph.Int64), Int64Data: []int64{42}}
	node := &onnxpb.NodeProto{Name: proto.String("n"), OpType: proto.String("Op"), Attribute: []*onnxpb.AttributeProto{ref, g, s, tensor}}

	m, err := onnximport.Read(model(t, nil, node))
	if err != nil {
		t.Fatal(err)
	}
	want := []graph.Attr{
		{Name: "perm", Type: graph.AttrInts, Ref: "p"},
		{Name: "body", Type: graph.AttrGraph, G: &graph.Graph{Name: "sub", Nodes: []*graph.Node{{OpType: "Identity", Inputs: []string{"a"}, Outputs: []string{"b"}}}}},
		{Name: "mode", Type: graph.AttrString, S: "constant"},
		{Name: "value", Type: graph.AttrTensor, T: graph.Int64Tensor("", nil, []int64{42})},
	}
	if got := m.Graph.Nodes[0].Attrs; !reflect.DeepEqual(got, want) {
		t.Errorf("attributes\n got  %+v\n want %+v", got, want)
	}

	bad := []struct {
		name        string
		a           *onnxpb.AttributeProto
		unsupported bool
		want        string
	}{
		{"tensors", attr("ts", onnxpb.AttributeProto_TENSORS), true, `node "n" (Op) attribute "ts": attributes of type TENSORS are not supported`},
		{"type proto", attr("type", onnxpb.AttributeProto_TYPE_PROTO), true, "TYPE_PROTO"},
		{"no type", &onnxpb.AttributeProto{Name: proto.String("x"), I: proto.Int64(1)}, false, `attribute "x": has no type`},
		{"tensor without tensor", attr("value", onnxpb.AttributeProto_TENSOR), false, "holds no tensor"},
		{"bad tensor in sub-graph", &onnxpb.AttributeProto{Name: proto.String("then_branch"), Type: onnxpb.AttributeProto_GRAPH.Enum(),
			G: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{{Name: proto.String("k"), DataType: dt(graph.Float), Dims: []int64{2}}}}},
			false, `node "n" (Op) attribute "then_branch": initializer "k": shape [2] of float32 needs 2 elements`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			n := &onnxpb.NodeProto{Name: proto.String("n"), OpType: proto.String("Op"), Attribute: []*onnxpb.AttributeProto{tc.a}}
			_, err := onnximport.Read(model(t, nil, n))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want one containing %q", err, tc.want)
			}
			var ue *onnximport.UnsupportedError
			var fe *onnximport.FormatError
			if tc.unsupported && !errors.As(err, &ue) || !tc.unsupported && !errors.As(err, &fe) {
				t.Errorf("error type %T (unsupported = %v)", err, tc.unsupported)
			}
		})
	}
}

func TestValueTypes(t *testing.T) {
	tensorType := func(elem int32, shape *onnxpb.TensorShapeProto) *onnxpb.TypeProto {
		return &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(elem), Shape: shape}}}
	}
	dims := &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
		{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}},
		{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 8}},
		{},
	}}
	mp := &onnxpb.ModelProto{
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(18)}},
		Graph: &onnxpb.GraphProto{
			Input: []*onnxpb.ValueInfoProto{
				{Name: proto.String("x"), Type: tensorType(1, dims), DocString: proto.String("doc")},
				{Name: proto.String("scalar"), Type: tensorType(7, &onnxpb.TensorShapeProto{})},
				{Name: proto.String("rank_unknown"), Type: tensorType(9, nil)},
				{Name: proto.String("untyped")},
			},
		},
		MetadataProps: []*onnxpb.StringStringEntryProto{{Key: proto.String("k"), Value: proto.String("v")}},
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnximport.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	want := []graph.ValueInfo{
		{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), graph.Fixed(8), {}}, Doc: "doc"},
		{Name: "scalar", DType: graph.Int64, Shape: []graph.Dim{}},
		{Name: "rank_unknown", DType: graph.Bool},
		{Name: "untyped"},
	}
	if !reflect.DeepEqual(m.Graph.Inputs, want) {
		t.Errorf("inputs\n got  %+v\n want %+v", m.Graph.Inputs, want)
	}
	if v, ok := m.MetadataValue("k"); !ok || v != "v" {
		t.Errorf("metadata k = %q, %v", v, ok)
	}

	mp.Graph.Input = []*onnxpb.ValueInfoProto{{Name: proto.String("seq"), Type: &onnxpb.TypeProto{
		Value: &onnxpb.TypeProto_SequenceType{SequenceType: &onnxpb.TypeProto_Sequence{ElemType: tensorType(1, nil)}}}}}
	data, _ = proto.Marshal(mp)
	_, err = onnximport.Read(data)
	var ue *onnximport.UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), `graph input "seq": type sequence: only tensor types are supported`) {
		t.Errorf("sequence input: error = %v", err)
	}
}

func TestFunctions(t *testing.T) {
	fp := &onnxpb.FunctionProto{
		Domain: proto.String("custom"), Name: proto.String("F"),
		Input: []string{"X"}, Output: []string{"Y"}, Attribute: []string{"alpha"},
		Node: []*onnxpb.NodeProto{{OpType: proto.String("Constant"), Output: []string{"c"}, Attribute: []*onnxpb.AttributeProto{
			{Name: proto.String("value_float"), Type: onnxpb.AttributeProto_FLOAT.Enum(), RefAttrName: proto.String("alpha")}}},
			{OpType: proto.String("Mul"), Input: []string{"X", "c"}, Output: []string{"Y"}}},
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(18)}},
	}
	mp := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{}, Functions: []*onnxpb.FunctionProto{fp}}
	data, _ := proto.Marshal(mp)
	m, err := onnximport.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &graph.Function{Domain: "custom", Name: "F", Inputs: []string{"X"}, Outputs: []string{"Y"}, Attributes: []string{"alpha"},
		Nodes: []*graph.Node{
			{OpType: "Constant", Outputs: []string{"c"}, Attrs: []graph.Attr{graph.ARef("value_float", graph.AttrFloat, "alpha")}},
			{OpType: "Mul", Inputs: []string{"X", "c"}, Outputs: []string{"Y"}},
		},
		Opsets: []graph.OpsetImport{{Version: 18}},
	}
	if got := m.Function("custom", "F"); !reflect.DeepEqual(got, want) {
		t.Errorf("function\n got  %+v\n want %+v", got, want)
	}

	fp.AttributeProto = []*onnxpb.AttributeProto{{Name: proto.String("beta"), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(1)}}
	data, _ = proto.Marshal(mp)
	var ue *onnximport.UnsupportedError
	if _, err := onnximport.Read(data); !errors.As(err, &ue) || !strings.Contains(err.Error(), `function custom.F: attribute "beta" has a default value`) {
		t.Errorf("attribute default: error = %v", err)
	}
}
