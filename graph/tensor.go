package graph

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Tensor is a constant tensor: an initializer, or the value of a Constant
// node or a tensor attribute. Its data is always held as little-endian raw
// bytes, which may alias memory owned by someone else (for example a memory
// mapped safetensors file); a Tensor never modifies Raw.
//
// A tensor may instead leave Raw nil and name a Source that produces its
// bytes when they are written (a streamed export: the builder's
// Options.Stream), so that a model larger than memory never exists in
// memory at once. Code that needs the bytes calls Bytes.
type Tensor struct {
	Name  string
	DType DType
	Dims  []int64
	Raw   []byte
	Doc   string
	// Source produces the data when Raw is nil; nil for in-memory tensors.
	Source TensorSource
}

// TensorSource produces a tensor's little-endian bytes on demand. A
// source may share scratch memory with other sources of the same model,
// so sources of one model must not be written concurrently.
type TensorSource interface {
	// WriteData writes exactly the tensor's bytes to w.
	WriteData(w io.Writer) error
}

// ByteSize returns the size of the tensor's data in bytes, from its dims
// and dtype.
func (t *Tensor) ByteSize() int64 {
	return t.DType.ByteSize(t.NumElements())
}

// Bytes returns the tensor's data: Raw, or the bytes its Source produces
// (a new slice each call, checked against the dims).
func (t *Tensor) Bytes() ([]byte, error) {
	if t.Raw != nil || t.Source == nil {
		return t.Raw, nil
	}
	var buf bytes.Buffer
	buf.Grow(int(t.ByteSize()))
	if err := t.WriteData(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteData writes the tensor's data to w (Raw, or what Source produces)
// and checks that exactly ByteSize bytes were written.
func (t *Tensor) WriteData(w io.Writer) error {
	if t.Raw != nil || t.Source == nil {
		_, err := w.Write(t.Raw)
		return err
	}
	cw := &countingWriter{w: w}
	if err := t.Source.WriteData(cw); err != nil {
		return fmt.Errorf("tensor %q: producing data: %w", t.Name, err)
	}
	if want := t.ByteSize(); cw.n != want {
		return fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, its source wrote %d", t.Name, t.Dims, t.DType, want, cw.n)
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
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
	if t.DType.Bits() == 0 {
		return fmt.Errorf("tensor %q: unsupported dtype %s", t.Name, t.DType)
	}
	if t.Raw == nil && t.Source != nil {
		return nil // the source's output is checked when it is written
	}
	if want := t.ByteSize(); int64(len(t.Raw)) != want {
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
