package graph

import "fmt"

// DType is an ONNX tensor element type. Its values are those of
// TensorProto.DataType in the ONNX format.
type DType int32

// Element types used by transformer graphs, numbered as in ONNX.
const (
	Undefined DType = 0
	Float     DType = 1
	Uint8     DType = 2
	Int8      DType = 3
	Uint16    DType = 4
	Int16     DType = 5
	Int32     DType = 6
	Int64     DType = 7
	String    DType = 8
	Bool      DType = 9
	Float16   DType = 10
	Double    DType = 11
	Uint32    DType = 12
	Uint64    DType = 13
	BFloat16  DType = 16
	Uint4     DType = 21 // two per byte, the first in the low nibble
	Int4      DType = 22 // two per byte, the first in the low nibble
)

var dtypeNames = map[DType]string{
	Undefined: "undefined", Float: "float32", Uint8: "uint8", Int8: "int8",
	Uint16: "uint16", Int16: "int16", Int32: "int32", Int64: "int64",
	String: "string", Bool: "bool", Float16: "float16", Double: "float64",
	Uint32: "uint32", Uint64: "uint64", BFloat16: "bfloat16",
	Uint4: "uint4", Int4: "int4",
}

// String returns the lower-case Go-style name of the type ("float32", "int64").
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// Bits returns the size in bits of one element: 4 for int4 and uint4,
// 8×Size otherwise.
func (d DType) Bits() int {
	if d == Int4 || d == Uint4 {
		return 4
	}
	return 8 * d.Size()
}

// ByteSize returns the bytes n elements of d occupy (sub-byte types
// packed, the last byte padded).
func (d DType) ByteSize(n int64) int64 {
	return (n*int64(d.Bits()) + 7) / 8
}

// Size returns the size in bytes of one element, or 0 for types without a
// fixed size (string, undefined) and for the sub-byte types (int4, uint4:
// see Bits).
func (d DType) Size() int {
	switch d {
	case Float, Int32, Uint32:
		return 4
	case Double, Int64, Uint64:
		return 8
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	}
	return 0
}
