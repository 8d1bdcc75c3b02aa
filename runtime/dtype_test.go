package runtime

import (
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/graph"
)

func TestDTypeStringAndParse(t *testing.T) {
	tests := []struct {
		d    DType
		name string
		size int
		onnx int // ONNX TensorProto.DataType code
	}{
		{Float32, "float32", 4, 1},
		{Uint8, "uint8", 1, 2},
		{Int8, "int8", 1, 3},
		{Uint16, "uint16", 2, 4},
		{Int16, "int16", 2, 5},
		{Int32, "int32", 4, 6},
		{Int64, "int64", 8, 7},
		{String, "string", 0, 8},
		{Bool, "bool", 1, 9},
		{Float16, "float16", 2, 10},
		{Float64, "float64", 8, 11},
		{Uint32, "uint32", 4, 12},
		{Uint64, "uint64", 8, 13},
		{BFloat16, "bfloat16", 2, 16},
	}
	for _, tc := range tests {
		if got := tc.d.String(); got != tc.name {
			t.Errorf("DType(%d).String() = %q, want %q", int(tc.d), got, tc.name)
		}
		if int(tc.d) != tc.onnx {
			t.Errorf("%s = %d, want ONNX code %d", tc.name, int(tc.d), tc.onnx)
		}
		if got := tc.d.Size(); got != tc.size {
			t.Errorf("%s.Size() = %d, want %d", tc.name, got, tc.size)
		}
		for _, spelling := range []string{tc.name, strings.ToUpper(tc.name), " " + tc.name + " "} {
			got, err := ParseDType(spelling)
			if err != nil || got != tc.d {
				t.Errorf("ParseDType(%q) = %v, %v; want %v", spelling, got, err, tc.d)
			}
		}
	}
	if got := DType(99).String(); got != "dtype(99)" {
		t.Errorf("DType(99).String() = %q", got)
	}
}

func TestParseDTypeAliases(t *testing.T) {
	tests := []struct {
		in   string
		want DType
	}{
		{"float", Float32}, {"F32", Float32}, {"double", Float64}, {"f64", Float64},
		{"half", Float16}, {"F16", Float16}, {"BF16", BFloat16}, {"I64", Int64},
		{"i32", Int32}, {"U8", Uint8}, {"BOOL", Bool}, {"boolean", Bool},
	}
	for _, tc := range tests {
		got, err := ParseDType(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDType(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseDTypeErrors(t *testing.T) {
	for _, in := range []string{"", "undefined", "float33", "complex64"} {
		_, err := ParseDType(in)
		if err == nil {
			t.Errorf("ParseDType(%q): no error", in)
			continue
		}
		if !strings.Contains(err.Error(), "runtime: unknown dtype") || !strings.Contains(err.Error(), "float32") {
			t.Errorf("ParseDType(%q) error %q does not list the valid names", in, err)
		}
	}
}

// TestDTypeIsGraphDType checks that a model's value types and a tensor's
// element types are one type: a graph.DType is usable as a DType (and back)
// without conversion, with the same names.
func TestDTypeIsGraphDType(t *testing.T) {
	var d DType = graph.Float
	var g *graph.DType = &d // compiles only if DType is an alias of graph.DType
	if *g != Float32 || Float64 != graph.Double || BFloat16 != graph.BFloat16 {
		t.Errorf("DType constants differ from graph's: %d %d %d", *g, Float64, BFloat16)
	}
	for _, d := range dtypes {
		if got, err := ParseDType(d.String()); err != nil || got != d {
			t.Errorf("ParseDType(%q) = %v, %v; want %v", d.String(), got, err, d)
		}
	}
}
