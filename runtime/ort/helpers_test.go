package ort

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/xt2onnx/xt2onnx/runtime"
)

// requireORT loads ONNX Runtime or fails the test with the fix: ORT tests
// never skip because the library is missing.
func requireORT(t testing.TB) {
	t.Helper()
	if err := Init(""); err != nil {
		t.Fatalf("ONNX Runtime is required for this test: %v", err)
	}
}

const fixtures = "../../fixtures/xtransformers-1.9.2"

// readSafetensors reads every tensor of a safetensors file (test-only
// reader: F32, F64, I64 and U8 only).
func readSafetensors(t testing.TB, path string) map[string]*runtime.Tensor {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 {
		t.Fatalf("%s: too short for a safetensors file", path)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		t.Fatalf("%s: header length %d beyond the file", path, n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &header); err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	data := b[8+n:]
	out := map[string]*runtime.Tensor{}
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			DType   string   `json:"dtype"`
			Shape   []int64  `json:"shape"`
			Offsets [2]int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("%s: tensor %s: %v", path, name, err)
		}
		if e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] || e.Offsets[1] > int64(len(data)) {
			t.Fatalf("%s: tensor %s: bad offsets %v", path, name, e.Offsets)
		}
		raw := data[e.Offsets[0]:e.Offsets[1]]
		var tt *runtime.Tensor
		switch e.DType {
		case "F32":
			v := make([]float32, len(raw)/4)
			for i := range v {
				v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			tt, err = runtime.NewFloat32(e.Shape, v)
		case "F64":
			v := make([]float64, len(raw)/8)
			for i := range v {
				v[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			tt, err = runtime.NewFloat64(e.Shape, v)
		case "I64":
			v := make([]int64, len(raw)/8)
			for i := range v {
				v[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			tt, err = runtime.NewInt64(e.Shape, v)
		case "U8":
			tt, err = runtime.NewUint8(e.Shape, append([]uint8{}, raw...))
		default:
			continue
		}
		if err != nil {
			t.Fatalf("%s: tensor %s: %v", path, name, err)
		}
		out[name] = tt
	}
	return out
}

// fixtureInputs returns the inputs of a fixture case for the model's
// inputs infos: "input.<name>" tensors, uint8 masks turned into bool where
// the model wants bool.
func fixtureInputs(t testing.TB, io map[string]*runtime.Tensor, infos []runtime.ValueInfo) map[string]*runtime.Tensor {
	t.Helper()
	in := map[string]*runtime.Tensor{}
	for _, info := range infos {
		x, ok := io["input."+info.Name]
		if !ok {
			t.Fatalf("fixture has no input.%s", info.Name)
		}
		if info.DType == runtime.Bool && x.DType() == runtime.Uint8 {
			u, _ := x.Uint8s()
			b := make([]bool, len(u))
			for i, v := range u {
				b[i] = v != 0
			}
			var err error
			if x, err = runtime.NewBool(x.Shape(), b); err != nil {
				t.Fatal(err)
			}
		}
		in[info.Name] = x
	}
	return in
}

// maxAbsDiff compares two float32 tensors of the same shape.
func maxAbsDiff(t testing.TB, got, want *runtime.Tensor) float64 {
	t.Helper()
	if fmt.Sprint(got.Shape()) != fmt.Sprint(want.Shape()) {
		t.Fatalf("shape %v, want %v", got.Shape(), want.Shape())
	}
	g, err := got.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	w, err := want.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	m := 0.0
	for i := range g {
		d := math.Abs(float64(g[i]) - float64(w[i]))
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		m = max(m, d)
	}
	return m
}

func fixturePath(c, file string) string { return filepath.Join(fixtures, c, file) }

// A tiny ONNX model encoder for tests.

// tdim is a dim: an int64 size or a string dim_param.
type tdim = any

// unranked as the dims of a tvalue encodes a value with no shape at all.
var unranked = []tdim{nil}

type tvalue struct {
	name  string
	dtype runtime.DType
	dims  []tdim
}

type tnode struct {
	op      string
	in, out []string
	intAttr map[string]int64
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func encodeValueInfo(v tvalue) []byte {
	if len(v.dims) == 1 && v.dims[0] == nil {
		tensor := appendVarintField(nil, 1, uint64(v.dtype))
		b := appendBytesField(nil, 1, []byte(v.name))
		return appendBytesField(b, 2, appendBytesField(nil, 1, tensor))
	}
	var shape []byte
	for _, d := range v.dims {
		var dim []byte
		switch d := d.(type) {
		case int:
			dim = appendVarintField(nil, 1, uint64(d))
		case string:
			dim = appendBytesField(nil, 2, []byte(d))
		}
		shape = appendBytesField(shape, 1, dim)
	}
	tensor := appendVarintField(nil, 1, uint64(v.dtype))
	tensor = appendBytesField(tensor, 2, shape)
	typ := appendBytesField(nil, 1, tensor)
	b := appendBytesField(nil, 1, []byte(v.name))
	return appendBytesField(b, 2, typ)
}

// buildModel encodes an opset-17 ModelProto. init, when not nil, adds a
// float32 initializer "w" of that many zero bytes (to test that dim-name
// reading skips it).
func buildModel(inputs, outputs []tvalue, nodes []tnode, initBytes int) []byte {
	var graph []byte
	for _, n := range nodes {
		var nb []byte
		for _, s := range n.in {
			nb = appendBytesField(nb, 1, []byte(s))
		}
		for _, s := range n.out {
			nb = appendBytesField(nb, 2, []byte(s))
		}
		nb = appendBytesField(nb, 4, []byte(n.op))
		keys := make([]string, 0, len(n.intAttr))
		for k := range n.intAttr {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			a := appendBytesField(nil, 1, []byte(k))
			a = appendVarintField(a, 3, uint64(n.intAttr[k]))
			a = appendVarintField(a, 20, 2) // AttributeProto.INT
			nb = appendBytesField(nb, 5, a)
		}
		graph = appendBytesField(graph, 1, nb)
	}
	graph = appendBytesField(graph, 2, []byte("test"))
	if initBytes > 0 {
		w := appendVarintField(nil, 1, uint64(initBytes/4))
		w = appendVarintField(w, 2, uint64(runtime.Float32))
		w = appendBytesField(w, 8, []byte("w"))
		w = appendBytesField(w, 9, make([]byte, initBytes/4*4))
		graph = appendBytesField(graph, 5, w)
	}
	for _, v := range inputs {
		graph = appendBytesField(graph, 11, encodeValueInfo(v))
	}
	for _, v := range outputs {
		graph = appendBytesField(graph, 12, encodeValueInfo(v))
	}
	m := appendVarintField(nil, 1, 8) // ir_version
	m = appendBytesField(m, 2, []byte("xt2onnx-test"))
	m = appendBytesField(m, 7, graph)
	opset := appendBytesField(nil, 1, nil)
	opset = appendVarintField(opset, 2, 17)
	return appendBytesField(m, 8, opset)
}
