package ort

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/xt2onnx/xt2onnx/runtime"
)

func identityModel(dt runtime.DType, dims []tdim) []byte {
	return buildModel(
		[]tvalue{{"a", dt, dims}}, []tvalue{{"b", dt, dims}},
		[]tnode{{op: "Identity", in: []string{"a"}, out: []string{"b"}}}, 0)
}

func runBytes(t *testing.T, model []byte, opts runtime.Options, in map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	t.Helper()
	requireORT(t)
	s, err := runtime.OpenBytes(model, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Run(context.Background(), in)
}

func TestDTypeRoundTrip(t *testing.T) {
	mk := func(x *runtime.Tensor, err error) *runtime.Tensor {
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	tests := []*runtime.Tensor{
		mk(runtime.NewFloat32([]int64{2, 2}, []float32{1, -2.5, 3e30, 0})),
		mk(runtime.NewFloat64([]int64{3}, []float64{1e300, -1, 0.125})),
		mk(runtime.NewInt8([]int64{2}, []int8{-128, 127})),
		mk(runtime.NewInt16([]int64{2}, []int16{-32768, 1})),
		mk(runtime.NewInt32([]int64{2}, []int32{-1 << 31, 7})),
		mk(runtime.NewInt64([]int64{2}, []int64{-1 << 63, 1 << 62})),
		mk(runtime.NewUint8([]int64{2}, []uint8{0, 255})),
		mk(runtime.NewUint16([]int64{2}, []uint16{0, 65535})),
		mk(runtime.NewUint32([]int64{2}, []uint32{0, 1<<32 - 1})),
		mk(runtime.NewUint64([]int64{2}, []uint64{0, 1<<64 - 1})),
		mk(runtime.NewBool([]int64{1, 3}, []bool{true, false, true})),
		mk(runtime.NewFloat32([]int64{0, 3}, nil)),
		mk(runtime.NewBool([]int64{0}, nil)),
	}
	for _, in := range tests {
		t.Run(in.String(), func(t *testing.T) {
			dims := make([]tdim, in.Rank())
			for i := range dims {
				dims[i] = "d" + string(rune('0'+i))
			}
			out, err := runBytes(t, identityModel(in.DType(), dims), runtime.Options{}, map[string]*runtime.Tensor{"a": in})
			if err != nil {
				t.Fatal(err)
			}
			got := out["b"]
			if got.DType() != in.DType() || !reflect.DeepEqual(got.Shape(), in.Shape()) || !reflect.DeepEqual(got.Data(), in.Data()) {
				t.Errorf("got %v %v, want %v %v", got, got.Data(), in, in.Data())
			}
		})
	}
}

func TestFloat16(t *testing.T) {
	// float16 inputs work: Cast to float32.
	cast := buildModel([]tvalue{{"h", runtime.Float16, []tdim{"n"}}}, []tvalue{{"f", runtime.Float32, []tdim{"n"}}},
		[]tnode{{op: "Cast", in: []string{"h"}, out: []string{"f"}, intAttr: map[string]int64{"to": int64(runtime.Float32)}}}, 0)
	h, _ := runtime.NewFloat16([]int64{4}, []uint16{0x3c00, 0xc000, 0x3800, 0x7bff})
	out, err := runBytes(t, cast, runtime.Options{}, map[string]*runtime.Tensor{"h": h})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := out["f"].Float32s(); !reflect.DeepEqual(got, []float32{1, -2, 0.5, 65504}) {
		t.Errorf("float16 → float32 = %v", got)
	}
	// float16 outputs are refused at open time (onnxruntime_go corrupts
	// them).
	_, err = runtime.OpenBytes(identityModel(runtime.Float16, []tdim{"n"}), runtime.Options{})
	if err == nil || !strings.Contains(err.Error(), `output "b" is float16, and onnxruntime_go v1.27.0 corrupts float16 outputs`) {
		t.Errorf("float16 output: %v", err)
	}
	// Empty float16 inputs cannot be passed.
	e, _ := runtime.NewFloat16([]int64{0}, nil)
	_, err = runBytes(t, cast, runtime.Options{}, map[string]*runtime.Tensor{"h": e})
	if err == nil || !strings.Contains(err.Error(), `input "h" (float16[0])`) {
		t.Errorf("empty float16 input: %v", err)
	}
}

func TestScalarOutputError(t *testing.T) {
	x, _ := runtime.NewFloat32([]int64{}, []float32{3})
	_, err := runBytes(t, identityModel(runtime.Float32, nil), runtime.Options{}, map[string]*runtime.Tensor{"a": x})
	if err == nil || !strings.Contains(err.Error(), "an output is a scalar (rank 0), and onnxruntime_go v1.27.0 cannot return scalar outputs") {
		t.Errorf("scalar output: %v", err)
	}
	// A scalar input with a non-scalar output works.
	m := buildModel([]tvalue{{"a", runtime.Float32, nil}, {"shape", runtime.Int64, []tdim{1}}}, []tvalue{{"b", runtime.Float32, []tdim{1}}},
		[]tnode{{op: "Reshape", in: []string{"a", "shape"}, out: []string{"b"}}}, 0)
	shape, _ := runtime.NewInt64([]int64{1}, []int64{1})
	out, err := runBytes(t, m, runtime.Options{}, map[string]*runtime.Tensor{"a": x, "shape": shape})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := out["b"].Float32s(); !reflect.DeepEqual(got, []float32{3}) {
		t.Errorf("scalar input reshaped: %v", got)
	}
}

func TestOutputNamesSubset(t *testing.T) {
	m := buildModel(
		[]tvalue{{"a", runtime.Float32, []tdim{"n"}}},
		[]tvalue{{"neg", runtime.Float32, []tdim{"n"}}, {"abs", runtime.Float32, []tdim{"n"}}, {"same", runtime.Float32, []tdim{"n"}}},
		[]tnode{
			{op: "Neg", in: []string{"a"}, out: []string{"neg"}},
			{op: "Abs", in: []string{"a"}, out: []string{"abs"}},
			{op: "Identity", in: []string{"a"}, out: []string{"same"}},
		}, 0)
	a, _ := runtime.NewFloat32([]int64{2}, []float32{-1, 2})
	tests := []struct {
		names []string
		want  map[string][]float32
	}{
		{nil, map[string][]float32{"neg": {1, -2}, "abs": {1, 2}, "same": {-1, 2}}},
		{[]string{"same", "neg"}, map[string][]float32{"neg": {1, -2}, "same": {-1, 2}}},
		{[]string{"abs"}, map[string][]float32{"abs": {1, 2}}},
	}
	for _, tc := range tests {
		requireORT(t)
		s, err := runtime.OpenBytes(m, runtime.Options{OutputNames: tc.names})
		if err != nil {
			t.Fatal(err)
		}
		var infos []string
		for _, o := range s.Outputs() {
			infos = append(infos, o.Name)
		}
		out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"a": a})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]float32{}
		for k, v := range out {
			got[k], _ = v.Float32s()
		}
		if !reflect.DeepEqual(got, tc.want) || len(infos) != len(tc.want) {
			t.Errorf("OutputNames %q: got %v (Outputs %v), want %v", tc.names, got, infos, tc.want)
		}
	}
}

func TestSymbolicDimConflictFromModel(t *testing.T) {
	m := buildModel(
		[]tvalue{{"a", runtime.Float32, []tdim{"batch", 3}}, {"b", runtime.Float32, []tdim{"batch", 3}}},
		[]tvalue{{"c", runtime.Float32, []tdim{"batch", 3}}},
		[]tnode{{op: "Add", in: []string{"a", "b"}, out: []string{"c"}}}, 0)
	a, _ := runtime.NewFloat32([]int64{2, 3}, make([]float32, 6))
	b, _ := runtime.NewFloat32([]int64{1, 3}, make([]float32, 3))
	b4, _ := runtime.NewFloat32([]int64{2, 4}, make([]float32, 8))
	for _, tc := range []struct {
		b    *runtime.Tensor
		want string
	}{
		{b, `input "b": dim 0 ("batch") is 1, but "batch" is 2 in input "a" (dim 0)`},
		{b4, `input "b": dim 1 is 4, model expects 3`},
	} {
		_, err := runBytes(t, m, runtime.Options{}, map[string]*runtime.Tensor{"a": a, "b": tc.b})
		var ie *runtime.InputError
		if !errors.As(err, &ie) || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func TestReadDimNames(t *testing.T) {
	const initBytes = 4 << 20
	m := buildModel(
		[]tvalue{{"x", runtime.Int64, []tdim{"batch", "seq"}}, {"img", runtime.Float32, []tdim{"batch", 3, 16, "w"}}, {"any", runtime.Float32, unranked}},
		[]tvalue{{"y", runtime.Float32, []tdim{"batch", 5}}, {"s", runtime.Float32, nil}},
		nil, initBytes)
	cr := &countingReader{r: bytes.NewReader(m)}
	got, err := readDimNames(cr, int64(len(m)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]declaredShape{
		"x":   {true, []string{"batch", "seq"}},
		"img": {true, []string{"batch", "", "", "w"}},
		"any": {false, nil},
		"y":   {true, []string{"batch", ""}},
		"s":   {true, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("readDimNames = %+v, want %+v", got, want)
	}
	if n := cr.n.Load(); n > 4096 {
		t.Errorf("read %d bytes of a %d-byte model; the initializer should be skipped", n, len(m))
	}
	// Every truncation is an error or a partial result, never a panic.
	for i := range len(m) - initBytes {
		_, _ = readDimNames(bytes.NewReader(m[:i]), int64(i))
	}
	if _, err := readDimNames(bytes.NewReader(m[:len(m)-1]), int64(len(m)-1)); err == nil {
		t.Error("truncated model: no error")
	}
}

func TestConvertInfos(t *testing.T) {
	ortInfo := func(name string, dims ...int64) onnx.InputOutputInfo {
		return onnx.InputOutputInfo{Name: name, OrtValueType: onnx.ONNXTypeTensor, DataType: onnx.TensorElementDataTypeFloat, Dimensions: dims}
	}
	tests := []struct {
		name     string
		info     onnx.InputOutputInfo
		declared map[string]declaredShape
		want     runtime.ValueInfo
	}{
		{"named dims", ortInfo("x", -1, 3, -1), map[string]declaredShape{"x": {true, []string{"b", "", ""}}},
			runtime.ValueInfo{Name: "x", DType: runtime.Float32, Shape: []int64{-1, 3, -1}, DimNames: []string{"b", "", ""}}},
		{"no declaration", ortInfo("x", -1, 3), nil,
			runtime.ValueInfo{Name: "x", DType: runtime.Float32, Shape: []int64{-1, 3}, DimNames: []string{"", ""}}},
		{"declared scalar", ortInfo("s"), map[string]declaredShape{"s": {true, nil}},
			runtime.ValueInfo{Name: "s", DType: runtime.Float32, Shape: []int64{}, DimNames: []string{}}},
		{"unranked", ortInfo("u"), map[string]declaredShape{"u": {false, nil}},
			runtime.ValueInfo{Name: "u", DType: runtime.Float32}},
		{"unknown declaration", ortInfo("u"), nil,
			runtime.ValueInfo{Name: "u", DType: runtime.Float32}},
	}
	for _, tc := range tests {
		got, err := convertInfos([]onnx.InputOutputInfo{tc.info}, tc.declared, "input")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got[0], tc.want) {
			t.Errorf("%s: got %#v, want %#v", tc.name, got[0], tc.want)
		}
	}
	bad := []struct {
		info onnx.InputOutputInfo
		want string
	}{
		{onnx.InputOutputInfo{Name: "seq", OrtValueType: onnx.ONNXTypeSequence}, `input "seq" is a `},
		{onnx.InputOutputInfo{Name: "str", OrtValueType: onnx.ONNXTypeTensor, DataType: onnx.TensorElementDataTypeString}, `input "str" has element type`},
	}
	for _, tc := range bad {
		if _, err := convertInfos([]onnx.InputOutputInfo{tc.info}, nil, "input"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("convertInfos(%s) = %v, want %q", tc.info.Name, err, tc.want)
		}
	}
}

func TestUnrankedInput(t *testing.T) {
	m := buildModel([]tvalue{{"a", runtime.Float32, unranked}}, []tvalue{{"b", runtime.Float32, unranked}},
		[]tnode{{op: "Identity", in: []string{"a"}, out: []string{"b"}}}, 0)
	requireORT(t)
	s, err := runtime.OpenBytes(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if in := s.Inputs()[0]; in.Shape != nil || in.String() != "a: float32[...]" {
		t.Errorf("input %#v (%s), want unknown rank", in, in)
	}
	x, _ := runtime.NewFloat32([]int64{2, 1, 2}, []float32{1, 2, 3, 4})
	out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"a": x})
	if err != nil {
		t.Fatal(err)
	}
	if got := out["b"]; !reflect.DeepEqual(got.Shape(), []int64{2, 1, 2}) || !reflect.DeepEqual(got.Data(), []float32{1, 2, 3, 4}) {
		t.Errorf("got %v %v", got, got.Data())
	}
}
