package runtime

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Tensor is a dense, row-major (C order) tensor held in a Go slice. A Tensor
// of rank 0 (shape []) is a scalar with one element.
//
// A Tensor owns the slice it was built from: constructors do not copy it, and
// the typed accessors return it without copying. Callers must not change the
// data while a [Session.Run] that reads the tensor is in flight; apart from
// that a Tensor is safe to read from several goroutines, including as input
// of concurrent runs.
type Tensor struct {
	dtype DType
	shape []int64
	data  any
}

// elem lists the Go element types a Tensor can hold.
type elem interface {
	~float32 | ~float64 | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint8 | ~uint16 | ~uint32 | ~uint64 | ~bool
}

// NumElementsOf returns the number of elements of a tensor of the given shape
// (1 for the scalar shape []), or an error for a negative dimension or a
// product that overflows int.
func NumElementsOf(shape []int64) (int, error) {
	n := int64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("runtime: shape %s: dim %d is negative (%d)", FormatShape(shape), i, d)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("runtime: shape %s: element count overflows int", FormatShape(shape))
		}
		n *= d
	}
	return int(n), nil
}

func newTensor[T elem](dt DType, shape []int64, data []T) (*Tensor, error) {
	n, err := NumElementsOf(shape)
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, fmt.Errorf("runtime: new %s tensor of shape %s: got %d values, the shape holds %d", dt, FormatShape(shape), len(data), n)
	}
	if data == nil {
		data = []T{}
	}
	return &Tensor{dtype: dt, shape: append([]int64{}, shape...), data: data}, nil
}

// NewFloat32 returns a float32 tensor of the given shape backed by data (not
// copied). len(data) must equal the product of shape.
func NewFloat32(shape []int64, data []float32) (*Tensor, error) {
	return newTensor(Float32, shape, data)
}

// NewFloat64 returns a float64 tensor backed by data; see [NewFloat32].
func NewFloat64(shape []int64, data []float64) (*Tensor, error) {
	return newTensor(Float64, shape, data)
}

// NewFloat16 returns a float16 tensor whose elements are given as IEEE 754
// half-precision bit patterns; see [NewFloat32].
func NewFloat16(shape []int64, bits []uint16) (*Tensor, error) {
	return newTensor(Float16, shape, bits)
}

// NewBFloat16 returns a bfloat16 tensor whose elements are given as bfloat16
// bit patterns (the high 16 bits of a float32); see [NewFloat32].
func NewBFloat16(shape []int64, bits []uint16) (*Tensor, error) {
	return newTensor(BFloat16, shape, bits)
}

// NewInt8 returns an int8 tensor backed by data; see [NewFloat32].
func NewInt8(shape []int64, data []int8) (*Tensor, error) { return newTensor(Int8, shape, data) }

// NewInt16 returns an int16 tensor backed by data; see [NewFloat32].
func NewInt16(shape []int64, data []int16) (*Tensor, error) { return newTensor(Int16, shape, data) }

// NewInt32 returns an int32 tensor backed by data; see [NewFloat32].
func NewInt32(shape []int64, data []int32) (*Tensor, error) { return newTensor(Int32, shape, data) }

// NewInt64 returns an int64 tensor backed by data; see [NewFloat32].
func NewInt64(shape []int64, data []int64) (*Tensor, error) { return newTensor(Int64, shape, data) }

// NewUint8 returns a uint8 tensor backed by data; see [NewFloat32].
func NewUint8(shape []int64, data []uint8) (*Tensor, error) { return newTensor(Uint8, shape, data) }

// NewUint16 returns a uint16 tensor backed by data; see [NewFloat32].
func NewUint16(shape []int64, data []uint16) (*Tensor, error) {
	return newTensor(Uint16, shape, data)
}

// NewUint32 returns a uint32 tensor backed by data; see [NewFloat32].
func NewUint32(shape []int64, data []uint32) (*Tensor, error) {
	return newTensor(Uint32, shape, data)
}

// NewUint64 returns a uint64 tensor backed by data; see [NewFloat32].
func NewUint64(shape []int64, data []uint64) (*Tensor, error) {
	return newTensor(Uint64, shape, data)
}

// NewBool returns a bool tensor backed by data; see [NewFloat32].
func NewBool(shape []int64, data []bool) (*Tensor, error) { return newTensor(Bool, shape, data) }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of the shape.
func (t *Tensor) Shape() []int64 { return append([]int64{}, t.shape...) }

// Rank returns the number of dimensions (0 for a scalar).
func (t *Tensor) Rank() int { return len(t.shape) }

// NumElements returns the number of elements (1 for a scalar).
func (t *Tensor) NumElements() int {
	n := 1
	for _, d := range t.shape {
		n *= int(d)
	}
	return n
}

// Data returns the backing slice, not copied: []float32, []float64, []int8,
// []int16, []int32, []int64, []uint8, []uint16 (also for float16 and bfloat16
// bit patterns), []uint32, []uint64 or []bool, according to [Tensor.DType].
func (t *Tensor) Data() any { return t.data }

// String describes the tensor by dtype and shape, e.g. "float32[2 17 64]".
func (t *Tensor) String() string {
	if t == nil {
		return "<nil tensor>"
	}
	return t.dtype.String() + FormatShape(t.shape)
}

func get[T elem](t *Tensor, want DType, accessor string) ([]T, error) {
	if t == nil {
		return nil, fmt.Errorf("runtime: %s on a nil tensor", accessor)
	}
	if t.dtype != want {
		return nil, fmt.Errorf("runtime: %s: tensor %s is %s, not %s", accessor, t, t.dtype, want)
	}
	return t.data.([]T), nil
}

// Float32s returns the data of a float32 tensor (not copied), or an error for
// any other dtype.
func (t *Tensor) Float32s() ([]float32, error) { return get[float32](t, Float32, "Float32s") }

// Float64s returns the data of a float64 tensor; see [Tensor.Float32s].
func (t *Tensor) Float64s() ([]float64, error) { return get[float64](t, Float64, "Float64s") }

// Float16Bits returns the IEEE half-precision bit patterns of a float16
// tensor; see [Tensor.Float32s].
func (t *Tensor) Float16Bits() ([]uint16, error) { return get[uint16](t, Float16, "Float16Bits") }

// BFloat16Bits returns the bit patterns of a bfloat16 tensor; see
// [Tensor.Float32s].
func (t *Tensor) BFloat16Bits() ([]uint16, error) {
	return get[uint16](t, BFloat16, "BFloat16Bits")
}

// Int8s returns the data of an int8 tensor; see [Tensor.Float32s].
func (t *Tensor) Int8s() ([]int8, error) { return get[int8](t, Int8, "Int8s") }

// Int16s returns the data of an int16 tensor; see [Tensor.Float32s].
func (t *Tensor) Int16s() ([]int16, error) { return get[int16](t, Int16, "Int16s") }

// Int32s returns the data of an int32 tensor; see [Tensor.Float32s].
func (t *Tensor) Int32s() ([]int32, error) { return get[int32](t, Int32, "Int32s") }

// Int64s returns the data of an int64 tensor; see [Tensor.Float32s].
func (t *Tensor) Int64s() ([]int64, error) { return get[int64](t, Int64, "Int64s") }

// Uint8s returns the data of a uint8 tensor; see [Tensor.Float32s].
func (t *Tensor) Uint8s() ([]uint8, error) { return get[uint8](t, Uint8, "Uint8s") }

// Uint16s returns the data of a uint16 tensor; see [Tensor.Float32s].
func (t *Tensor) Uint16s() ([]uint16, error) { return get[uint16](t, Uint16, "Uint16s") }

// Uint32s returns the data of a uint32 tensor; see [Tensor.Float32s].
func (t *Tensor) Uint32s() ([]uint32, error) { return get[uint32](t, Uint32, "Uint32s") }

// Uint64s returns the data of a uint64 tensor; see [Tensor.Float32s].
func (t *Tensor) Uint64s() ([]uint64, error) { return get[uint64](t, Uint64, "Uint64s") }

// Bools returns the data of a bool tensor; see [Tensor.Float32s].
func (t *Tensor) Bools() ([]bool, error) { return get[bool](t, Bool, "Bools") }

// FormatShape formats a shape as "[2 17 64]"; a dynamic dim (-1) prints as
// "?".
func FormatShape(shape []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			b.WriteByte(' ')
		}
		if d < 0 {
			b.WriteByte('?')
		} else {
			b.WriteString(strconv.FormatInt(d, 10))
		}
	}
	b.WriteByte(']')
	return b.String()
}
