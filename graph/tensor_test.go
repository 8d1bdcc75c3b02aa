package graph_test

import (
	"encoding/binary"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/graph"
)

func TestFloatTensorRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		dims []int64
		data []float32
	}{
		{"scalar", nil, []float32{3.5}},
		{"vector", []int64{4}, []float32{0, -1, 1e-30, math.MaxFloat32}},
		{"matrix", []int64{2, 3}, []float32{1, 2, 3, 4, 5, float32(math.Inf(-1))}},
		{"empty", []int64{0, 5}, []float32{}},
		{"negative zero", []int64{1}, []float32{float32(math.Copysign(0, -1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := append([]float32(nil), tt.data...)
			dims := append([]int64(nil), tt.dims...)
			ft := graph.FloatTensor("t", dims, data)
			if len(data) > 0 {
				data[0] = 42 // FloatTensor copies its input
			}
			if len(dims) > 0 {
				dims[0] = 99
			}
			if err := ft.Check(); err != nil {
				t.Fatal(err)
			}
			if ft.DType != graph.Float || ft.Name != "t" || len(ft.Raw) != 4*len(tt.data) {
				t.Errorf("tensor %+v", ft)
			}
			if !reflect.DeepEqual(ft.Dims, append([]int64(nil), tt.dims...)) {
				t.Errorf("dims %v, want %v", ft.Dims, tt.dims)
			}
			got, err := ft.Float32s()
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.data {
				if math.Float32bits(got[i]) != math.Float32bits(tt.data[i]) {
					t.Errorf("element %d: %v, want %v", i, got[i], tt.data[i])
				}
			}
			if len(tt.data) > 0 {
				if bits := binary.LittleEndian.Uint32(ft.Raw); bits != math.Float32bits(tt.data[0]) {
					t.Errorf("raw is not little-endian float32: %x", ft.Raw[:4])
				}
			}
		})
	}
}

func TestInt64s(t *testing.T) {
	i32 := func(v ...int32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
		}
		return b
	}
	tests := []struct {
		name    string
		t       *graph.Tensor
		want    []int64
		wantErr string
	}{
		{"int64", graph.Int64Tensor("a", []int64{3}, []int64{-1, 0, math.MaxInt64}), []int64{-1, 0, math.MaxInt64}, ""},
		{"int32 widened", &graph.Tensor{Name: "b", DType: graph.Int32, Dims: []int64{4}, Raw: i32(-7, 0, 5, math.MinInt32)}, []int64{-7, 0, 5, math.MinInt32}, ""},
		{"float rejected", graph.FloatTensor("c", nil, []float32{1}), nil, `tensor "c" is float32, not an integer tensor`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.t.Int64s()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Int64s = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestFloat32sErrors(t *testing.T) {
	if _, err := graph.Int64Tensor("i", nil, []int64{1}).Float32s(); err == nil || err.Error() != `tensor "i" is int64, not float32` {
		t.Errorf("int64 tensor: %v", err)
	}
	odd := &graph.Tensor{Name: "odd", DType: graph.Float, Raw: make([]byte, 6)}
	if _, err := odd.Float32s(); err == nil || !strings.Contains(err.Error(), "6 bytes is not a whole number of float32") {
		t.Errorf("6 bytes: %v", err)
	}
}

func TestBoolTensor(t *testing.T) {
	bt := graph.BoolTensor("m", []int64{2, 2}, []bool{true, false, false, true})
	if bt.DType != graph.Bool || !reflect.DeepEqual(bt.Raw, []byte{1, 0, 0, 1}) || bt.Check() != nil {
		t.Errorf("bool tensor %+v", bt)
	}
}

func TestTensorCheck(t *testing.T) {
	tests := []struct {
		name    string
		t       *graph.Tensor
		wantErr string
	}{
		{"ok", graph.FloatTensor("w", []int64{2, 3}, make([]float32, 6)), ""},
		{"scalar", graph.Int64Tensor("s", nil, []int64{5}), ""},
		{"empty", &graph.Tensor{Name: "e", DType: graph.Float, Dims: []int64{0}}, ""},
		{"too few bytes", &graph.Tensor{Name: "w", DType: graph.Float, Dims: []int64{2, 3}, Raw: make([]byte, 20)},
			`tensor "w": shape [2 3] of float32 needs 24 bytes, data has 20`},
		{"too many bytes", &graph.Tensor{Name: "h", DType: graph.Float16, Dims: []int64{2}, Raw: make([]byte, 6)},
			`tensor "h": shape [2] of float16 needs 4 bytes, data has 6`},
		{"negative dim", &graph.Tensor{Name: "n", DType: graph.Float, Dims: []int64{2, -1}},
			`tensor "n": dim 1 is negative (-1)`},
		{"string", &graph.Tensor{Name: "s", DType: graph.String, Dims: []int64{1}, Raw: []byte("x")},
			`tensor "s": unsupported dtype string`},
		{"undefined", &graph.Tensor{Name: "u"}, `tensor "u": unsupported dtype undefined`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.t.Check()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestNumElements(t *testing.T) {
	for _, tt := range []struct {
		dims []int64
		want int64
	}{{nil, 1}, {[]int64{}, 1}, {[]int64{3}, 3}, {[]int64{2, 0, 4}, 0}, {[]int64{2, 3, 4}, 24}} {
		if got := graph.NumElements(tt.dims); got != tt.want {
			t.Errorf("NumElements(%v) = %d, want %d", tt.dims, got, tt.want)
		}
	}
}

func TestDType(t *testing.T) {
	for _, tt := range []struct {
		d    graph.DType
		name string
		size int
	}{
		{graph.Float, "float32", 4}, {graph.Double, "float64", 8}, {graph.Int64, "int64", 8}, {graph.Int32, "int32", 4},
		{graph.Bool, "bool", 1}, {graph.Float16, "float16", 2}, {graph.BFloat16, "bfloat16", 2}, {graph.Uint8, "uint8", 1},
		{graph.String, "string", 0}, {graph.Undefined, "undefined", 0}, {graph.DType(99), "dtype(99)", 0},
	} {
		if tt.d.String() != tt.name || tt.d.Size() != tt.size {
			t.Errorf("DType %d: %q size %d, want %q %d", int32(tt.d), tt.d.String(), tt.d.Size(), tt.name, tt.size)
		}
	}
}

func TestDimString(t *testing.T) {
	for _, tt := range []struct {
		d    graph.Dim
		want string
	}{{graph.Fixed(7), "7"}, {graph.Sym("batch"), "batch"}, {graph.Dim{}, "?"}} {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.d, got, tt.want)
		}
	}
}
