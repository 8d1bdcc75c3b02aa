package runtime

import (
	"fmt"
	"strings"
)

// DType is the element type of a tensor. Its values equal the ONNX
// TensorProto.DataType codes (and so ONNX Runtime's element types), so a
// DType converts to and from ONNX with a plain integer conversion.
type DType int

// The element types. Undefined is the zero value and is never the type of a
// valid tensor.
const (
	Undefined DType = 0
	Float32   DType = 1
	Uint8     DType = 2
	Int8      DType = 3
	Uint16    DType = 4
	Int16     DType = 5
	Int32     DType = 6
	Int64     DType = 7
	String    DType = 8
	Bool      DType = 9
	Float16   DType = 10
	Float64   DType = 11
	Uint32    DType = 12
	Uint64    DType = 13
	BFloat16  DType = 16
)

var dtypeNames = map[DType]string{
	Undefined: "undefined",
	Float32:   "float32",
	Uint8:     "uint8",
	Int8:      "int8",
	Uint16:    "uint16",
	Int16:     "int16",
	Int32:     "int32",
	Int64:     "int64",
	String:    "string",
	Bool:      "bool",
	Float16:   "float16",
	Float64:   "float64",
	Uint32:    "uint32",
	Uint64:    "uint64",
	BFloat16:  "bfloat16",
}

// dtypeAliases maps other common spellings (ONNX, NumPy, safetensors) to a
// DType. Keys are lower case.
var dtypeAliases = map[string]DType{
	"float": Float32, "f32": Float32, "fp32": Float32,
	"double": Float64, "f64": Float64, "fp64": Float64,
	"half": Float16, "f16": Float16, "fp16": Float16,
	"bf16": BFloat16,
	"i8":   Int8, "i16": Int16, "i32": Int32, "i64": Int64,
	"u8": Uint8, "u16": Uint16, "u32": Uint32, "u64": Uint64,
	"boolean": Bool,
}

// String returns the canonical lower-case name ("float32", "int64", "bool",
// ...), or "dtype(N)" for a code outside the list.
func (d DType) String() string {
	if s, ok := dtypeNames[d]; ok {
		return s
	}
	return fmt.Sprintf("dtype(%d)", int(d))
}

// Size returns the number of bytes one element occupies, or 0 for String,
// Undefined and unknown codes.
func (d DType) Size() int {
	switch d {
	case Uint8, Int8, Bool:
		return 1
	case Uint16, Int16, Float16, BFloat16:
		return 2
	case Float32, Int32, Uint32:
		return 4
	case Float64, Int64, Uint64:
		return 8
	}
	return 0
}

// ParseDType parses a dtype name. It accepts the canonical names that
// [DType.String] returns and common aliases ("float", "double", "half", "f32",
// "i64", "u8", "F32" as safetensors writes it, ...), case-insensitively.
func ParseDType(name string) (DType, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for d, s := range dtypeNames {
		if s == key && d != Undefined {
			return d, nil
		}
	}
	if d, ok := dtypeAliases[key]; ok {
		return d, nil
	}
	return Undefined, fmt.Errorf("runtime: unknown dtype %q (want one of float32, float64, float16, bfloat16, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool, string)", name)
}
