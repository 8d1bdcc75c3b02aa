package kernels

import (
	"fmt"
	"math"
	"reflect"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

// Float16 is an IEEE 754 half-precision number held as its bit pattern.
// Tensors of ONNX element type float16 are *tensor.Dense values whose
// elements are Float16 (see Float16Dtype).
type Float16 uint16

// BFloat16 is a bfloat16 number (the upper half of a float32) held as its
// bit pattern; see BFloat16Dtype.
type BFloat16 uint16

// Float32 returns the value as a float32 (exactly).
func (h Float16) Float32() float32 { return safetensors.F16ToFloat32(uint16(h)) }

// Float32 returns the value as a float32 (exactly).
func (b BFloat16) Float32() float32 { return safetensors.BF16ToFloat32(uint16(b)) }

// Float16From rounds f to the nearest float16 (ties to even); values
// beyond the float16 range become ±Inf.
func Float16From(f float64) Float16 {
	sign := uint16(math.Float64bits(f)>>48) & 0x8000
	if math.IsNaN(f) {
		return Float16(sign | 0x7e00)
	}
	return Float16(sign | roundBinary16(math.Abs(f), 10, 15))
}

// BFloat16From rounds f to the nearest bfloat16 (ties to even), once:
// straight from the float64, never through float32 (which would round twice
// and turn 1 + 2^-8 + 2^-40 into 1 instead of 1.0078125). Values from
// halfway between the largest finite bfloat16 and 2^128 up become ±Inf;
// NaN stays NaN with the sign and top payload bits of float32(f).
func BFloat16From(f float64) BFloat16 {
	if math.IsNaN(f) {
		return BFloat16(uint16(math.Float32bits(float32(f))>>16) | 0x40)
	}
	sign := uint16(math.Float64bits(f)>>48) & 0x8000
	return BFloat16(sign | roundBinary16(math.Abs(f), 7, 127))
}

// roundBinary16 rounds a (≥ 0, not NaN) to the nearest value (ties to even)
// of a 16-bit binary format with mbits stored mantissa bits and exponent
// bias bias (float16: 10, 15; bfloat16: 7, 127) and returns its bit
// pattern without the sign: a subnormal below the smallest normal, the
// infinity pattern from halfway past the largest finite value up. Every
// step is exact in float64, so it rounds once.
func roundBinary16(a float64, mbits, bias int) uint16 {
	one := 1 << mbits // the implicit leading mantissa bit
	inf := uint16(2*bias+1) << mbits
	switch {
	case math.IsInf(a, 1):
		return inf
	case a < math.Ldexp(1, 1-bias):
		// Subnormal: units of 2^(1-bias-mbits); rounding up to `one`
		// units gives the smallest normal's pattern.
		return uint16(math.RoundToEven(math.Ldexp(a, bias-1+mbits)))
	}
	frac, exp := math.Frexp(a)                            // a = frac · 2^exp, frac in [0.5, 1)
	m := int(math.RoundToEven(math.Ldexp(frac, mbits+1))) // in [one, 2·one]
	e := exp - 1
	if m == 2*one {
		m, e = one, e+1
	}
	if e > bias { // beyond the largest exponent: Inf
		return inf
	}
	return uint16(e+bias)<<mbits | uint16(m-one)
}

// The tensor element types of the ONNX types that gorgonia's tensor
// package does not define.
var (
	// Float16Dtype is the Dtype of ONNX float16 tensors.
	Float16Dtype = tensor.Dtype{Type: reflect.TypeOf(Float16(0))}
	// BFloat16Dtype is the Dtype of ONNX bfloat16 tensors.
	BFloat16Dtype = tensor.Dtype{Type: reflect.TypeOf(BFloat16(0))}
)

var graphToDense = map[graph.DType]tensor.Dtype{
	graph.Float: tensor.Float32, graph.Double: tensor.Float64,
	graph.Int64: tensor.Int64, graph.Int32: tensor.Int32,
	graph.Int16: tensor.Int16, graph.Int8: tensor.Int8,
	graph.Uint64: tensor.Uint64, graph.Uint32: tensor.Uint32,
	graph.Uint16: tensor.Uint16, graph.Uint8: tensor.Uint8,
	graph.Bool: tensor.Bool, graph.Float16: Float16Dtype, graph.BFloat16: BFloat16Dtype,
}

// onnxTypeNames names the ONNX element types graph.DType has no name for.
var onnxTypeNames = map[graph.DType]string{
	14: "complex64", 15: "complex128", 17: "float8e4m3fn", 18: "float8e4m3fnuz",
	19: "float8e5m2", 20: "float8e5m2fnuz", 21: "uint4", 22: "int4",
	23: "float4e2m1", 24: "float8e8m0", 25: "uint2", 26: "int2",
}

func dtypeName(dt graph.DType) string {
	if s, ok := onnxTypeNames[dt]; ok {
		return s
	}
	return dt.String()
}

// DenseDtype returns the tensor element type that holds ONNX element type
// dt, or an *UnsupportedError for types the native backend cannot hold
// (string, complex, float8, int4 …).
func DenseDtype(dt graph.DType) (tensor.Dtype, error) {
	if d, ok := graphToDense[dt]; ok {
		return d, nil
	}
	return tensor.Dtype{}, &onnximport.UnsupportedError{Feature: fmt.Sprintf("element type %s (%d) is not supported by the native backend", dtypeName(dt), int32(dt))}
}

// GraphDType returns the ONNX element type of tensor element type dt.
func GraphDType(dt tensor.Dtype) (graph.DType, error) {
	for g, d := range graphToDense {
		if d == dt {
			return g, nil
		}
	}
	return graph.Undefined, &onnximport.UnsupportedError{Feature: fmt.Sprintf("tensor element type %v has no ONNX equivalent", dt)}
}

// dtypeFromAttr maps the "to" attribute of Cast (a TensorProto.DataType).
func dtypeFromAttr(v int64) (tensor.Dtype, error) {
	return DenseDtype(graph.DType(v))
}

func isFloat(dt tensor.Dtype) bool {
	return dt == tensor.Float32 || dt == tensor.Float64 || dt == Float16Dtype || dt == BFloat16Dtype
}

func isInt(dt tensor.Dtype) bool {
	switch dt {
	case tensor.Int64, tensor.Int32, tensor.Int16, tensor.Int8,
		tensor.Uint64, tensor.Uint32, tensor.Uint16, tensor.Uint8:
		return true
	}
	return false
}

// isNumeric reports whether dt is a number type (not bool).
func isNumeric(dt tensor.Dtype) bool { return isFloat(dt) || isInt(dt) }

// dtName renders a tensor dtype the way ONNX errors should show it.
func dtName(dt tensor.Dtype) string {
	if g, err := GraphDType(dt); err == nil {
		return g.String()
	}
	return dt.String()
}

// DTypeName names a tensor element type as ONNX does ("float32", "int64").
func DTypeName(dt tensor.Dtype) string { return dtName(dt) }

// IsFloat reports whether dt is a floating-point element type.
func IsFloat(dt tensor.Dtype) bool { return isFloat(dt) }
