package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"gorgonia.org/tensor"
)

// Element type sets used by the generic kernels.
type (
	integer interface {
		int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64
	}
	floating interface{ float32 | float64 }
	numeric  interface{ integer | floating }
)

// maxDim bounds a dimension read from a model or an input tensor, so that
// sizes computed from dimensions stay far from overflow.
const maxDim = 1 << 40

// view returns the elements of a contiguous dense tensor as a []T that
// aliases its memory. T must be the tensor's element type or an unsigned
// integer type of the same size.
func view[T any](d *tensor.Dense) []T {
	raw := d.Header.Raw
	var z T
	size := int(unsafe.Sizeof(z))
	if len(raw) < size {
		return []T{}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&raw[0])), len(raw)/size)
}

// alloc returns a zero-filled tensor of type dt and the given shape (an
// empty shape is a scalar).
func alloc(dt tensor.Dtype, shape []int) *tensor.Dense {
	return tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
}

// fromSlice wraps data (not copied) as a tensor of the given shape.
func fromSlice[T any](shape []int, data []T) *tensor.Dense {
	if len(shape) == 0 {
		// WithShape() of an empty shape keeps the tensor a scalar.
		return tensor.New(tensor.WithShape(), tensor.WithBacking(data))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// scalar returns a shape () tensor holding v.
func scalar[T any](v T) *tensor.Dense { return fromSlice([]int{}, []T{v}) }

// shapeOf returns a copy of the tensor's shape.
func shapeOf(d *tensor.Dense) []int { return append([]int{}, d.Shape()...) }

// numel returns the number of elements of a shape (1 for a scalar).
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// stridesOf returns the row-major strides of shape, in elements.
func stridesOf(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

// normAxes maps axes into [0, rank) and rejects duplicates.
func normAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := map[int]bool{}
	for i, a := range axes {
		ax, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[ax] {
			return nil, fmt.Errorf("axis %d appears twice in %v", a, axes)
		}
		seen[ax] = true
		out[i] = ax
	}
	return out, nil
}

// contiguous returns d itself when its memory is a plain row-major array,
// or a materialized copy of a view.
func contiguous(d *tensor.Dense) (*tensor.Dense, error) {
	if d.IsMaterializable() {
		m, ok := d.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("cannot materialize a %v view", d.Dtype())
		}
		d = m
	}
	if d.DataOrder().IsColMajor() {
		return nil, fmt.Errorf("column-major tensors are not supported")
	}
	if want := numel(d.Shape()) * int(d.Dtype().Size()); len(d.Header.Raw) != want {
		return nil, fmt.Errorf("tensor of shape %v holds %d bytes, want %d", d.Shape(), len(d.Header.Raw), want)
	}
	return d, nil
}

// int64sOf reads an integer tensor (int64 or int32, as ONNX shape, axes
// and index inputs are) as int64 values.
func int64sOf(d *tensor.Dense, what string) ([]int64, error) {
	switch d.Dtype() {
	case tensor.Int64:
		return append([]int64{}, view[int64](d)...), nil
	case tensor.Int32:
		v := view[int32](d)
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s must be int64 or int32, got %s", what, dtName(d.Dtype()))
}

// scalarInt64 reads a one-element integer tensor.
func scalarInt64(d *tensor.Dense, what string) (int64, error) {
	v, err := int64sOf(d, what)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("%s must hold one value, has shape %v", what, d.Shape())
	}
	return v[0], nil
}

// toFloat64s converts any numeric or bool tensor to float64 values.
func toFloat64s(ec *ExecContext, d *tensor.Dense) ([]float64, error) {
	n := numel(d.Shape())
	out := allocSlice[float64](ec, n, "float64 copy")
	switch d.Dtype() {
	case tensor.Float32:
		convertElems(out, view[float32](d))
	case tensor.Float64:
		copy(out, view[float64](d))
	case tensor.Int64:
		convertElems(out, view[int64](d))
	case tensor.Int32:
		convertElems(out, view[int32](d))
	case tensor.Int16:
		convertElems(out, view[int16](d))
	case tensor.Int8:
		convertElems(out, view[int8](d))
	case tensor.Uint64:
		convertElems(out, view[uint64](d))
	case tensor.Uint32:
		convertElems(out, view[uint32](d))
	case tensor.Uint16:
		convertElems(out, view[uint16](d))
	case tensor.Uint8:
		convertElems(out, view[uint8](d))
	case tensor.Bool:
		for i, b := range view[bool](d) {
			if b {
				out[i] = 1
			}
		}
	case Float16Dtype:
		for i, h := range view[Float16](d) {
			out[i] = float64(h.Float32())
		}
	case BFloat16Dtype:
		for i, h := range view[BFloat16](d) {
			out[i] = float64(h.Float32())
		}
	default:
		return nil, fmt.Errorf("element type %v is not numeric", d.Dtype())
	}
	return out, nil
}

func convertElems[D, S numeric](dst []D, src []S) {
	for i, v := range src {
		dst[i] = D(v)
	}
}

// fromFloat64s builds a tensor of type dt from float64 values, rounding
// floats and truncating integers toward zero.
func fromFloat64s(ec *ExecContext, dt tensor.Dtype, shape []int, v []float64) (*tensor.Dense, error) {
	out := ec.alloc(dt, shape)
	switch dt {
	case tensor.Float32:
		convertElems(view[float32](out), v)
	case tensor.Float64:
		copy(view[float64](out), v)
	case tensor.Int64:
		convertElems(view[int64](out), v)
	case tensor.Int32:
		convertElems(view[int32](out), v)
	case tensor.Int16:
		convertElems(view[int16](out), v)
	case tensor.Int8:
		convertElems(view[int8](out), v)
	case tensor.Uint64:
		convertElems(view[uint64](out), v)
	case tensor.Uint32:
		convertElems(view[uint32](out), v)
	case tensor.Uint16:
		convertElems(view[uint16](out), v)
	case tensor.Uint8:
		convertElems(view[uint8](out), v)
	case tensor.Bool:
		o := view[bool](out)
		for i, x := range v {
			o[i] = x != 0
		}
	case Float16Dtype:
		o := view[Float16](out)
		for i, x := range v {
			o[i] = Float16From(x)
		}
	case BFloat16Dtype:
		o := view[BFloat16](out)
		for i, x := range v {
			o[i] = BFloat16From(x)
		}
	default:
		return nil, fmt.Errorf("element type %v is not numeric", dt)
	}
	return out, nil
}

// reshaped returns a tensor sharing x's data with a new shape of the same
// size. Kernels never write to their inputs, so sharing is safe.
func reshaped(x *tensor.Dense, shape []int) *tensor.Dense {
	out := x.ShallowClone()
	if err := out.Reshape(shape...); err != nil {
		// Callers check sizes first; a failure here is a bug, caught by
		// the kernel boundary.
		panic(fmt.Sprintf("reshape %v to %v: %v", x.Shape(), shape, err))
	}
	return out
}

// cloneDense returns a copy of x with its own memory.
func cloneDense(ec *ExecContext, x *tensor.Dense) *tensor.Dense {
	out := ec.alloc(x.Dtype(), shapeOf(x))
	copy(out.Header.Raw, x.Header.Raw)
	return out
}

// littleEndian reports whether this machine stores numbers little-endian,
// like ONNX raw data.
var littleEndian = func() bool {
	var b [2]byte
	binary.NativeEndian.PutUint16(b[:], 1)
	return b[0] == 1
}()

// posInf returns +Inf, or the largest value of an integer type.
func posInf[T numeric]() T {
	var z T
	switch any(z).(type) {
	case float32, float64:
		v := math.Inf(1)
		return T(v)
	}
	return maxOf[T]()
}

// negInf returns -Inf, or the smallest value of an integer type.
func negInf[T numeric]() T {
	var z T
	switch any(z).(type) {
	case float32, float64:
		v := math.Inf(-1)
		return T(v)
	}
	return minOf[T]()
}

func maxOf[T numeric]() T {
	var z T
	var v float64
	switch any(z).(type) {
	case int8:
		v = math.MaxInt8
	case int16:
		v = math.MaxInt16
	case int32:
		v = math.MaxInt32
	case int64:
		i := int64(math.MaxInt64)
		return T(i)
	case uint8:
		v = math.MaxUint8
	case uint16:
		v = math.MaxUint16
	case uint32:
		v = math.MaxUint32
	case uint64:
		u := uint64(math.MaxUint64)
		return T(u)
	case float32:
		v = math.MaxFloat32
	default:
		v = math.MaxFloat64
	}
	return T(v)
}

func minOf[T numeric]() T {
	var z T
	var v float64
	switch any(z).(type) {
	case int8:
		v = math.MinInt8
	case int16:
		v = math.MinInt16
	case int32:
		v = math.MinInt32
	case int64:
		i := int64(math.MinInt64)
		return T(i)
	case uint8, uint16, uint32, uint64:
		return 0
	case float32:
		v = -math.MaxFloat32
	default:
		v = -math.MaxFloat64
	}
	return T(v)
}
