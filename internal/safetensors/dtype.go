package safetensors

import (
	"fmt"
	"strings"
)

// DType is the element type of a tensor, as named in the "dtype" field of a
// safetensors header. The zero value is not a valid dtype.
//
// The constants are declared in the reference implementation's order, which
// is increasing alignment; the writer relies on it to lay out tensors.
type DType uint8

// The dtypes defined by the safetensors format.
const (
	DTypeBool       DType = iota + 1 // BOOL: one byte, 0 or 1
	DTypeF4                          // F4: 4-bit float (E2M1), two per byte
	DTypeF6E2M3                      // F6_E2M3: 6-bit float
	DTypeF6E3M2                      // F6_E3M2: 6-bit float
	DTypeU8                          // U8: unsigned 8-bit integer
	DTypeI8                          // I8: signed 8-bit integer
	DTypeF8E5M2                      // F8_E5M2: 8-bit float
	DTypeF8E4M3                      // F8_E4M3: 8-bit float
	DTypeF8E8M0                      // F8_E8M0: 8-bit exponent-only scale
	DTypeF8E4M3FNUZ                  // F8_E4M3FNUZ: 8-bit float
	DTypeF8E5M2FNUZ                  // F8_E5M2FNUZ: 8-bit float
	DTypeI16                         // I16: signed 16-bit integer
	DTypeU16                         // U16: unsigned 16-bit integer
	DTypeF16                         // F16: IEEE 754 half precision
	DTypeBF16                        // BF16: bfloat16
	DTypeI32                         // I32: signed 32-bit integer
	DTypeU32                         // U32: unsigned 32-bit integer
	DTypeF32                         // F32: IEEE 754 single precision
	DTypeC64                         // C64: complex64 (two F32)
	DTypeF64                         // F64: IEEE 754 double precision
	DTypeI64                         // I64: signed 64-bit integer
	DTypeU64                         // U64: unsigned 64-bit integer
)

// maxDType is the last valid DType.
const maxDType = DTypeU64

var dtypeNames = [...]string{
	DTypeBool:       "BOOL",
	DTypeF4:         "F4",
	DTypeF6E2M3:     "F6_E2M3",
	DTypeF6E3M2:     "F6_E3M2",
	DTypeU8:         "U8",
	DTypeI8:         "I8",
	DTypeF8E5M2:     "F8_E5M2",
	DTypeF8E4M3:     "F8_E4M3",
	DTypeF8E8M0:     "F8_E8M0",
	DTypeF8E4M3FNUZ: "F8_E4M3FNUZ",
	DTypeF8E5M2FNUZ: "F8_E5M2FNUZ",
	DTypeI16:        "I16",
	DTypeU16:        "U16",
	DTypeF16:        "F16",
	DTypeBF16:       "BF16",
	DTypeI32:        "I32",
	DTypeU32:        "U32",
	DTypeF32:        "F32",
	DTypeC64:        "C64",
	DTypeF64:        "F64",
	DTypeI64:        "I64",
	DTypeU64:        "U64",
}

var dtypeBits = [...]int{
	DTypeBool:       8,
	DTypeF4:         4,
	DTypeF6E2M3:     6,
	DTypeF6E3M2:     6,
	DTypeU8:         8,
	DTypeI8:         8,
	DTypeF8E5M2:     8,
	DTypeF8E4M3:     8,
	DTypeF8E8M0:     8,
	DTypeF8E4M3FNUZ: 8,
	DTypeF8E5M2FNUZ: 8,
	DTypeI16:        16,
	DTypeU16:        16,
	DTypeF16:        16,
	DTypeBF16:       16,
	DTypeI32:        32,
	DTypeU32:        32,
	DTypeF32:        32,
	DTypeC64:        64,
	DTypeF64:        64,
	DTypeI64:        64,
	DTypeU64:        64,
}

// valid reports whether d is one of the defined dtypes.
func (d DType) valid() bool { return d >= DTypeBool && d <= maxDType }

// String returns the dtype's name as written in safetensors headers, such as
// "F32" or "BF16", or "DType(n)" for an invalid value.
func (d DType) String() string {
	if !d.valid() {
		return fmt.Sprintf("DType(%d)", uint8(d))
	}
	return dtypeNames[d]
}

// Bits returns the size of one element in bits, or 0 for an invalid dtype.
func (d DType) Bits() int {
	if !d.valid() {
		return 0
	}
	return dtypeBits[d]
}

// Size returns the size of one element in bytes. It returns 0 for an invalid
// dtype and for the sub-byte dtypes (F4, F6_E2M3, F6_E3M2); use Bits for those.
func (d DType) Size() int {
	b := d.Bits()
	if b%8 != 0 {
		return 0
	}
	return b / 8
}

// ParseDType returns the DType named s (case-sensitive, as in headers: "F32",
// "BF16", "F8_E4M3", ...). An unknown name gives an error wrapping ErrDType.
func ParseDType(s string) (DType, error) {
	for d := DTypeBool; d <= maxDType; d++ {
		if dtypeNames[d] == s {
			return d, nil
		}
	}
	return 0, &Error{Kind: ErrDType, Msg: fmt.Sprintf("unknown dtype %q (known: %s)", s, knownDTypes())}
}

func knownDTypes() string {
	return strings.Join(dtypeNames[DTypeBool:], ", ")
}
