package runtime

import (
	"fmt"
	"strings"

	"github.com/xt2onnx/xt2onnx/graph"
)

// DType is the element type of a tensor: the same type as graph.DType (an
// alias, not a copy), whose values are the ONNX TensorProto.DataType codes
// and so ONNX Runtime's element types. A model's value types and a tensor's
// type are therefore one type, with no conversion between them; String
// ("float32", "int64", …) and Size are graph.DType's.
type DType = graph.DType

// The element types, under the names Go programmers use for them (graph
// calls Float32 and Float64 by their ONNX names, Float and Double).
// Undefined is the zero value and is never the type of a valid tensor.
const (
	Undefined DType = graph.Undefined
	Float32   DType = graph.Float
	Uint8     DType = graph.Uint8
	Int8      DType = graph.Int8
	Uint16    DType = graph.Uint16
	Int16     DType = graph.Int16
	Int32     DType = graph.Int32
	Int64     DType = graph.Int64
	String    DType = graph.String
	Bool      DType = graph.Bool
	Float16   DType = graph.Float16
	Float64   DType = graph.Double
	Uint32    DType = graph.Uint32
	Uint64    DType = graph.Uint64
	BFloat16  DType = graph.BFloat16
)

// dtypes lists the element types ParseDType knows by their canonical names.
var dtypes = []DType{Float32, Uint8, Int8, Uint16, Int16, Int32, Int64, String, Bool, Float16, Float64, Uint32, Uint64, BFloat16}

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

// ParseDType parses a dtype name. It accepts the canonical names that
// [DType.String] returns and common aliases ("float", "double", "half", "f32",
// "i64", "u8", "F32" as safetensors writes it, ...), case-insensitively.
func ParseDType(name string) (DType, error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, d := range dtypes {
		if d.String() == key {
			return d, nil
		}
	}
	if d, ok := dtypeAliases[key]; ok {
		return d, nil
	}
	return Undefined, fmt.Errorf("runtime: unknown dtype %q (want one of float32, float64, float16, bfloat16, int8, int16, int32, int64, uint8, uint16, uint32, uint64, bool, string)", name)
}
