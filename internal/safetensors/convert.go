package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// littleEndianHost reports whether the machine stores numbers little-endian,
// like the safetensors format, so that data can be copied without decoding.
var littleEndianHost = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// rawCopy copies the little-endian bytes src into dst's memory; it is only
// correct on little-endian hosts, and len(src) must be len(dst)*sizeof(T).
func rawCopy[T float32 | float64 | int64](dst []T, src []byte) {
	if len(dst) == 0 {
		return
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), len(src)), src)
}

// Float32s returns the named tensor's elements as a new []float32 in
// row-major order. F32 is copied exactly; F16 and BF16 are widened exactly;
// F64 is rounded to the nearest float32. Other dtypes give ErrUnsupported.
func (f *File) Float32s(name string) ([]float32, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	src := f.data[t.begin:t.end]
	switch t.info.DType {
	case DTypeF32:
		out := make([]float32, len(src)/4)
		if littleEndianHost {
			rawCopy(out, src)
		} else {
			decodeF32(out, src)
		}
		return out, nil
	case DTypeF64:
		out := make([]float32, len(src)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
		return out, nil
	case DTypeF16:
		out := make([]float32, len(src)/2)
		for i := range out {
			out[i] = F16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
		return out, nil
	case DTypeBF16:
		out := make([]float32, len(src)/2)
		for i := range out {
			out[i] = BF16ToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
		}
		return out, nil
	}
	return nil, f.unsupported(t, "float32", DTypeF32, DTypeF64, DTypeF16, DTypeBF16)
}

// Float64s returns the named tensor's elements as a new []float64 in
// row-major order. F64, F32, F16 and BF16 convert exactly; other dtypes give
// ErrUnsupported.
func (f *File) Float64s(name string) ([]float64, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	src := f.data[t.begin:t.end]
	switch t.info.DType {
	case DTypeF64:
		out := make([]float64, len(src)/8)
		if littleEndianHost {
			rawCopy(out, src)
		} else {
			decodeF64(out, src)
		}
		return out, nil
	case DTypeF32:
		out := make([]float64, len(src)/4)
		for i := range out {
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
		}
		return out, nil
	case DTypeF16:
		out := make([]float64, len(src)/2)
		for i := range out {
			out[i] = float64(F16ToFloat32(binary.LittleEndian.Uint16(src[2*i:])))
		}
		return out, nil
	case DTypeBF16:
		out := make([]float64, len(src)/2)
		for i := range out {
			out[i] = float64(BF16ToFloat32(binary.LittleEndian.Uint16(src[2*i:])))
		}
		return out, nil
	}
	return nil, f.unsupported(t, "float64", DTypeF64, DTypeF32, DTypeF16, DTypeBF16)
}

// Int64s returns the named tensor's elements as a new []int64 in row-major
// order, from I64, I32, I16, I8, U8 or BOOL (whose bytes must be 0 or 1,
// else ErrValue). Other dtypes give ErrUnsupported.
func (f *File) Int64s(name string) ([]int64, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	src := f.data[t.begin:t.end]
	switch t.info.DType {
	case DTypeI64:
		out := make([]int64, len(src)/8)
		if littleEndianHost {
			rawCopy(out, src)
		} else {
			decodeI64(out, src)
		}
		return out, nil
	case DTypeI32:
		out := make([]int64, len(src)/4)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(src[4*i:])))
		}
		return out, nil
	case DTypeI16:
		out := make([]int64, len(src)/2)
		for i := range out {
			out[i] = int64(int16(binary.LittleEndian.Uint16(src[2*i:])))
		}
		return out, nil
	case DTypeI8:
		out := make([]int64, len(src))
		for i, b := range src {
			out[i] = int64(int8(b))
		}
		return out, nil
	case DTypeU8:
		out := make([]int64, len(src))
		for i, b := range src {
			out[i] = int64(b)
		}
		return out, nil
	case DTypeBool:
		if err := f.checkBools(t, src); err != nil {
			return nil, err
		}
		out := make([]int64, len(src))
		for i, b := range src {
			out[i] = int64(b)
		}
		return out, nil
	}
	return nil, f.unsupported(t, "int64", DTypeI64, DTypeI32, DTypeI16, DTypeI8, DTypeU8, DTypeBool)
}

// Bools returns the named tensor's elements as a new []bool in row-major
// order, from BOOL or U8 tensors whose bytes are all 0 or 1 (else ErrValue).
// Other dtypes give ErrUnsupported.
func (f *File) Bools(name string) ([]bool, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if t.info.DType != DTypeBool && t.info.DType != DTypeU8 {
		return nil, f.unsupported(t, "bool", DTypeBool, DTypeU8)
	}
	src := f.data[t.begin:t.end]
	if err := f.checkBools(t, src); err != nil {
		return nil, err
	}
	out := make([]bool, len(src))
	for i, b := range src {
		out[i] = b == 1
	}
	return out, nil
}

// checkBools fails unless every byte of src is 0 or 1.
func (f *File) checkBools(t *tensorEntry, src []byte) error {
	for i, b := range src {
		if b > 1 {
			return &Error{File: f.name, Tensor: t.info.Name, Kind: ErrValue,
				Msg: fmt.Sprintf("element %d of %s tensor is %d, want 0 or 1", i, t.info.DType, b)}
		}
	}
	return nil
}

func (f *File) unsupported(t *tensorEntry, to string, supported ...DType) error {
	names := make([]string, len(supported))
	for i, d := range supported {
		names[i] = d.String()
	}
	return &Error{File: f.name, Tensor: t.info.Name, Kind: ErrUnsupported,
		Msg: fmt.Sprintf("cannot convert %s to %s (supported: %s); use Bytes for the raw data",
			t.info.DType, to, strings.Join(names, ", "))}
}

// decodeF32 decodes little-endian float32 values from src into dst on any host.
func decodeF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

// decodeF64 decodes little-endian float64 values from src into dst on any host.
func decodeF64(dst []float64, src []byte) {
	for i := range dst {
		dst[i] = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
	}
}

// decodeI64 decodes little-endian int64 values from src into dst on any host.
func decodeI64(dst []int64, src []byte) {
	for i := range dst {
		dst[i] = int64(binary.LittleEndian.Uint64(src[8*i:]))
	}
}

// F16ToFloat32 converts IEEE 754 half-precision bits to the float32 of equal
// value. Subnormals, infinities and signed zeros convert exactly; NaNs stay
// NaN (quietened, payload preserved).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // infinity or NaN
		if mant == 0 {
			return math.Float32frombits(sign | 0x7f800000)
		}
		return math.Float32frombits(sign | 0x7fc00000 | mant<<13)
	case exp == 0 && mant == 0: // signed zero
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise the mantissa
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// BF16ToFloat32 converts bfloat16 bits to the float32 of equal value (bfloat16
// is the upper half of a float32, so this is exact for every input).
func BF16ToFloat32(b uint16) float32 {
	return math.Float32frombits(uint32(b) << 16)
}
