// Package hostile builds the hostile inputs the toolkit must survive: small
// ONNX files whose shapes ask for terabytes, inlining bombs, inputs declared
// a trillion elements large, and model folders whose external data points
// out of the folder (symlinks, "..", absolute paths, FIFOs, devices) or
// claims more bytes than its file holds. Tests of every layer (reader,
// native backend, CLI subprocesses) and the fuzz seed corpora are made from
// it, so each case is written once.
package hostile

import (
	"fmt"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
)

// A Model is one hostile ONNX model, with what running it must report.
type Model struct {
	// Name identifies the case ("expand-1e10").
	Name string
	// Bytes is the serialized ModelProto.
	Bytes []byte
	// Want is a substring of the error running it natively must give.
	Want string
}

const opset = 18

// big is 10^5: a [big, big] float32 tensor is 40 GB.
const big = 100_000

func model(name string, inputs []graph.ValueInfo, inits []*graph.Tensor, nodes ...*graph.Node) []byte {
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: opset}},
		Graph: &graph.Graph{
			Name:         name,
			Inputs:       inputs,
			Outputs:      []graph.ValueInfo{{Name: "y", DType: graph.Float}},
			Initializers: inits,
			Nodes:        nodes,
		},
	}
	b, err := export.Marshal(m, export.Options{Opset: opset})
	if err != nil {
		panic(fmt.Sprintf("hostile: %s: %v", name, err)) // a bug in this package
	}
	return b
}

func in(name string, dims ...int64) graph.ValueInfo {
	v := graph.ValueInfo{Name: name, DType: graph.Float, Shape: []graph.Dim{}}
	for _, d := range dims {
		v.Shape = append(v.Shape, graph.Fixed(d))
	}
	return v
}

func node(op string, ins []string, out string, attrs ...graph.Attr) *graph.Node {
	return &graph.Node{Name: out, OpType: op, Inputs: ins, Outputs: []string{out}, Attrs: attrs}
}

func ints(name string, v ...int64) graph.Attr {
	return graph.Attr{Name: name, Type: graph.AttrInts, Ints: v}
}

func i64(name string, v ...int64) *graph.Tensor {
	return graph.Int64Tensor(name, []int64{int64(len(v))}, v)
}

func f32(name string, dims []int64, v ...float32) *graph.Tensor {
	return graph.FloatTensor(name, dims, v)
}

// ShapeBombs returns models of under 1 KB whose nodes ask for tensors of
// 10^10 elements or more (40 GB to 26 TB): the native backend must refuse
// each with an error naming the node, its operator and the bytes, and the
// process must go on serving.
func ShapeBombs() []Model {
	const budget = "tensor budget"
	x1 := in("x", 1)
	return []Model{
		{Name: "constant-of-shape-1e10", Want: budget, Bytes: model("cos", []graph.ValueInfo{x1}, []*graph.Tensor{i64("shape", big, big)},
			node("ConstantOfShape", []string{"shape"}, "z"), node("Add", []string{"z", "x"}, "y"))},
		{Name: "expand-1e10", Want: budget, Bytes: model("expand", []graph.ValueInfo{x1}, []*graph.Tensor{i64("shape", big, big)},
			node("Expand", []string{"x", "shape"}, "y"))},
		{Name: "tile-1e10", Want: budget, Bytes: model("tile", []graph.ValueInfo{in("x", 1, 1)}, []*graph.Tensor{i64("reps", big, big)},
			node("Tile", []string{"x", "reps"}, "y"))},
		{Name: "range-1e10", Want: budget, Bytes: model("range", []graph.ValueInfo{x1},
			[]*graph.Tensor{f32("start", nil, 0), f32("limit", nil, 1e10), f32("delta", nil, 1)},
			node("Range", []string{"start", "limit", "delta"}, "r"), node("Add", []string{"r", "x"}, "y"))},
		{Name: "broadcast-add-1e10", Want: budget, Bytes: model("add", []graph.ValueInfo{in("a", big, 1), in("b", 1, big)}, nil,
			node("Add", []string{"a", "b"}, "y"))},
		{Name: "matmul-outer-1e10", Want: budget, Bytes: model("matmul", []graph.ValueInfo{in("a", big, 1), in("b", 1, big)}, nil,
			node("MatMul", []string{"a", "b"}, "y"))},
		{Name: "einsum-outer-1e10", Want: budget, Bytes: model("einsum", []graph.ValueInfo{in("a", big), in("b", big)}, nil,
			&graph.Node{Name: "y", OpType: "Einsum", Inputs: []string{"a", "b"}, Outputs: []string{"y"},
				Attrs: []graph.Attr{{Name: "equation", Type: graph.AttrString, S: "i,j->ij"}}})},
		{Name: "conv-huge-pads", Want: budget, Bytes: model("conv", []graph.ValueInfo{in("x", 1, 1, 1, 1)}, []*graph.Tensor{f32("w", []int64{1, 1, 1, 1}, 1)},
			node("Conv", []string{"x", "w"}, "y", ints("pads", big, big, big, big)))},
		{Name: "pad-1e10", Want: budget, Bytes: model("pad", []graph.ValueInfo{in("x", 1, 1)}, []*graph.Tensor{i64("pads", big, big, big, big)},
			node("Pad", []string{"x", "pads"}, "y"))},
		// A [6, 0] tensor is empty; reshaped (allowzero) to [0, 2^40+4] and
		// transposed it is still empty, but its product with a [0, 6]
		// tensor is [2^40+4, 6]: 26 TB of float32.
		{Name: "reshape-matmul-26TB", Want: budget, Bytes: model("reshape", []graph.ValueInfo{x1},
			[]*graph.Tensor{{Name: "empty", DType: graph.Float, Dims: []int64{6, 0}}, i64("wide", 0, 1<<40+4), i64("tall", 0, 6)},
			node("Reshape", []string{"empty", "wide"}, "r", graph.Attr{Name: "allowzero", Type: graph.AttrInt, I: 1}),
			node("Transpose", []string{"r"}, "t"),
			node("Reshape", []string{"empty", "tall"}, "c", graph.Attr{Name: "allowzero", Type: graph.AttrInt, I: 1}),
			node("MatMul", []string{"t", "c"}, "p"),
			node("Add", []string{"p", "x"}, "y"))},
	}
}

// HugeInput returns a model whose only input is float32[10^6, 10^6] (4 TB):
// generating random inputs for it must be refused.
func HugeInput() []byte {
	return model("huge", []graph.ValueInfo{in("x", 1_000_000, 1_000_000)}, nil, node("Relu", []string{"x"}, "y"))
}

// InlineBomb returns a model of depth nested model-local functions, each
// calling the next fanout times (fanout^depth nodes once inlined); 14 and
// 4 give 268 million nodes from under 2 KB.
func InlineBomb(depth, fanout int) []byte {
	const dom = "ai.hostile"
	m := &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: opset}, {Domain: dom, Version: 1}},
		Graph: &graph.Graph{
			Name:    "bomb",
			Inputs:  []graph.ValueInfo{in("x", 1)},
			Outputs: []graph.ValueInfo{{Name: "y", DType: graph.Float}},
			Nodes:   []*graph.Node{{Name: "call", OpType: "F0", Domain: dom, Inputs: []string{"x"}, Outputs: []string{"y"}}},
		},
	}
	for d := 0; d < depth; d++ {
		f := &graph.Function{Domain: dom, Name: fmt.Sprintf("F%d", d), Inputs: []string{"a"}, Outputs: []string{"b"},
			Opsets: []graph.OpsetImport{{Domain: "", Version: opset}, {Domain: dom, Version: 1}}}
		prev := "a"
		for k := 0; k < fanout; k++ {
			out := fmt.Sprintf("v%d", k)
			if k == fanout-1 {
				out = "b"
			}
			n := &graph.Node{Name: fmt.Sprintf("n%d", k), OpType: fmt.Sprintf("F%d", d+1), Domain: dom, Inputs: []string{prev}, Outputs: []string{out}}
			if d == depth-1 {
				n.OpType, n.Domain = "Relu", ""
			}
			f.Nodes = append(f.Nodes, n)
			prev = out
		}
		m.Functions = append(m.Functions, f)
	}
	b, err := export.Marshal(m, export.Options{Opset: opset})
	if err != nil {
		panic(fmt.Sprintf("hostile: inline bomb: %v", err))
	}
	return b
}

// Chain returns a model of n Relu nodes in a chain, for compile-time
// measurements.
func Chain(n int) []byte {
	nodes := make([]*graph.Node, n)
	prev := "x"
	for i := range nodes {
		out := fmt.Sprintf("v%d", i)
		if i == n-1 {
			out = "y"
		}
		nodes[i] = node("Relu", []string{prev}, out)
		prev = out
	}
	return model("chain", []graph.ValueInfo{in("x", 1, 8)}, nil, nodes...)
}

// An ExternalCase is a model folder whose model.onnx reads one float32[3]
// or uint8 tensor "w" from external data.
type ExternalCase struct {
	// Name identifies the case; Dir is its folder, holding model.onnx.
	Name, Dir string
	// Want is a substring of the error reading it must give; "" means it
	// reads fine (the data is the 12 bytes of inside.bin).
	Want string
}

// ExternalModel returns a ModelProto with input x float32[3], output
// y = x + sum(float(w)), and initializer w stored as external data: dims
// and dtype as given, and the external_data key/value pairs kv. The graph
// is well typed for any dtype, so a runtime must get to the data to
// refuse it.
func ExternalModel(dims []int64, dtype graph.DType, kv ...string) []byte {
	tp := &onnxpb.TensorProto{Name: proto.String("w"), DataType: proto.Int32(int32(dtype)), Dims: dims,
		DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}
	for i := 0; i+1 < len(kv); i += 2 {
		tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(graph.Float)), Shape: &onnxpb.TensorShapeProto{
				Dim: []*onnxpb.TensorShapeProto_Dimension{{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}}}}}}}}
	}
	mp := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("external"),
			Input:       []*onnxpb.ValueInfoProto{vi("x")},
			Output:      []*onnxpb.ValueInfoProto{vi("y")},
			Initializer: []*onnxpb.TensorProto{tp},
			Node: []*onnxpb.NodeProto{
				{Name: proto.String("cast"), OpType: proto.String("Cast"), Input: []string{"w"}, Output: []string{"wf"},
					Attribute: []*onnxpb.AttributeProto{{Name: proto.String("to"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(int64(graph.Float))}}},
				{Name: proto.String("sum"), OpType: proto.String("ReduceSum"), Input: []string{"wf"}, Output: []string{"s"},
					Attribute: []*onnxpb.AttributeProto{{Name: proto.String("keepdims"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(0)}}},
				{Name: proto.String("add"), OpType: proto.String("Add"), Input: []string{"x", "s"}, Output: []string{"y"}},
			},
		},
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		panic(fmt.Sprintf("hostile: external model: %v", err))
	}
	return b
}

// WriteExternalCases writes one model folder per external-data attack
// under root (which must exist and be empty) and returns them. Beside the
// folders root holds outside.bin, the file the escapes reach for. The
// symlinks point at /etc/passwd, /, /dev/zero and outside the folder; one
// case uses a FIFO (made with mkfifo, unix only: elsewhere that case is
// left out).
func WriteExternalCases(root string) ([]ExternalCase, error) {
	if err := os.WriteFile(filepath.Join(root, "outside.bin"), make([]byte, 64), 0o644); err != nil {
		return nil, err
	}
	inside := []byte{0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64} // float32 1, 2, 3
	three, eight := []int64{3}, []int64{8}
	type spec struct {
		name  string
		dims  []int64
		dtype graph.DType
		kv    []string
		want  string
		setup func(dir string) error
	}
	link := func(target, name string) func(string) error {
		return func(dir string) error { return os.Symlink(target, filepath.Join(dir, name)) }
	}
	const escapes = "external data path escapes model directory"
	specs := []spec{
		{name: "symlink-etc-passwd", dims: eight, dtype: graph.Uint8, kv: []string{"location", "passwd"}, want: escapes, setup: link("/etc/passwd", "passwd")},
		{name: "symlink-root-dir", dims: eight, dtype: graph.Uint8, kv: []string{"location", "rootdir/etc/passwd"}, want: escapes, setup: link("/", "rootdir")},
		{name: "symlink-dev-zero", dims: eight, dtype: graph.Uint8, kv: []string{"location", "zero"}, want: escapes, setup: link("/dev/zero", "zero")},
		{name: "symlink-outside", dims: eight, dtype: graph.Uint8, kv: []string{"location", "up"}, want: escapes, setup: link("../outside.bin", "up")},
		{name: "dot-dot", dims: eight, dtype: graph.Uint8, kv: []string{"location", "../outside.bin"}, want: escapes},
		{name: "absolute", dims: eight, dtype: graph.Uint8, kv: []string{"location", filepath.Join(root, "outside.bin")}, want: "is an absolute path"},
		{name: "nul-byte", dims: eight, dtype: graph.Uint8, kv: []string{"location", "inside.bin\x00x"}, want: "contains a NUL byte"},
		{name: "fifo", dims: eight, dtype: graph.Uint8, kv: []string{"location", "fifo"}, want: "not a regular file", setup: mkfifo},
		{name: "terabyte-declared", dims: []int64{1_000_000_000_000}, dtype: graph.Uint8, kv: []string{"location", "inside.bin"},
			want: `external data file "inside.bin" holds 12 bytes, the tensor needs offset 0 + length 1000000000000`},
		{name: "offset-past-end", dims: three, dtype: graph.Float, kv: []string{"location", "inside.bin", "offset", "9223372036854775800"}, want: "holds 12 bytes"},
		{name: "symlink-inside", dims: three, dtype: graph.Float, kv: []string{"location", "alias.bin"}, setup: link("inside.bin", "alias.bin")},
		{name: "plain", dims: three, dtype: graph.Float, kv: []string{"location", "inside.bin"}},
	}
	var out []ExternalCase
	for _, s := range specs {
		if s.name == "fifo" && !canMkfifo {
			continue
		}
		dir := filepath.Join(root, s.name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "inside.bin"), inside, 0o644); err != nil {
			return nil, err
		}
		if s.setup != nil {
			if err := s.setup(dir); err != nil {
				return nil, fmt.Errorf("hostile: %s: %w", s.name, err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "model.onnx"), ExternalModel(s.dims, s.dtype, s.kv...), 0o644); err != nil {
			return nil, err
		}
		out = append(out, ExternalCase{Name: s.name, Dir: dir, Want: s.want})
	}
	return out, nil
}
