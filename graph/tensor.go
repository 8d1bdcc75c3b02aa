package graph

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Tensor is a constant tensor: an initializer, or the value of a Constant
// node or a tensor attribute. Its data is always held as little-endian raw
// bytes, which may alias memory owned by someone else (for example a memory
// mapped safetensors file); a Tensor never modifies Raw.
type Tensor struct {
	Name  string
	DType DType
	Dims  []int64
	Raw   []byte
	Doc   string
}

// NumElements returns the product of the dimensions (1 for a scalar).
func (t *Tensor) NumElements() int64 {
	return NumElements(t.Dims)
}

// NumElements returns the product of dims (1 for an empty list).
func NumElements(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// Check reports whether the raw data size matches the dims and dtype.
func (t *Tensor) Check() error {
	for i, d := range t.Dims {
		if d < 0 {
			return fmt.Errorf("tensor %q: dim %d is negative (%d)", t.Name, i, d)
		}
	}
	size := t.DType.Size()
	if size == 0 {
		return fmt.Errorf("tensor %q: unsupported dtype %s", t.Name, t.DType)
	}
	if want := t.NumElements() * int64(size); int64(len(t.Raw)) != want {
		return fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, data has %d", t.Name, t.Dims, t.DType, want, len(t.Raw))
	}
	return nil
}

// FloatTensor returns a float32 tensor holding a copy of data.
func FloatTensor(name string, dims []int64, data []float32) *Tensor {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &Tensor{Name: name, DType: Float, Dims: append([]int64(nil), dims...), Raw: raw}
}

// Int64Tensor returns an int64 tensor holding a copy of data.
func Int64Tensor(name string, dims []int64, data []int64) *Tensor {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return &Tensor{Name: name, DType: Int64, Dims: append([]int64(nil), dims...), Raw: raw}
}

// BoolTensor returns a bool tensor holding a copy of data.
func BoolTensor(name string, dims []int64, data []bool) *Tensor {
	raw := make([]byte, len(data))
	for i, v := range data {
		if v {
			raw[i] = 1
		}
	}
	return &Tensor{Name: name, DType: Bool, Dims: append([]int64(nil), dims...), Raw: raw}
}

// Float32s decodes a float32 tensor.
func (t *Tensor) Float32s() ([]float32, error) {
	if t.DType != Float {
		return nil, fmt.Errorf("tensor %q is %s, not float32", t.Name, t.DType)
	}
	if len(t.Raw)%4 != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes is not a whole number of float32", t.Name, len(t.Raw))
	}
	out := make([]float32, len(t.Raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Raw[4*i:]))
	}
	return out, nil
}

// Int64s decodes an int64 or int32 tensor into int64 values.
func (t *Tensor) Int64s() ([]int64, error) {
	switch t.DType {
	case Int64:
		out := make([]int64, len(t.Raw)/8)
		for i := range out {
			out[i] = int64(binary.LittleEndian.Uint64(t.Raw[8*i:]))
		}
		return out, nil
	case Int32:
		out := make([]int64, len(t.Raw)/4)
		for i := range out {
			out[i] = int64(int32(binary.LittleEndian.Uint32(t.Raw[4*i:])))
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q is %s, not an integer tensor", t.Name, t.DType)
}
