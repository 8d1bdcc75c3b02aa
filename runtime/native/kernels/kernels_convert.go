package kernels

import (
	"fmt"
	"unsafe"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// DenseFromTensor converts an IR tensor (an initializer, a Constant value)
// into a dense tensor. On a little-endian machine, when the raw bytes are
// aligned for the element type, the tensor shares them (kernels never
// write their inputs, and a Tensor never changes its Raw): a model's
// weights are then held once. Bool data, which must be exactly 0 or 1 in
// Go, and misaligned data are copied. Element types the native backend
// cannot hold are reported as an *UnsupportedError.
//
// int4 and uint4 tensors (two elements a byte, the first in the low
// nibble) are unpacked to int8 and uint8, which DequantizeLinear reads.
func DenseFromTensor(t *graph.Tensor) (*tensor.Dense, error) {
	if t.DType == graph.Int4 || t.DType == graph.Uint4 {
		return unpack4(t)
	}
	dt, err := DenseDtype(t.DType)
	if err != nil {
		return nil, fmt.Errorf("native: tensor %q: %w", t.Name, err)
	}
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	shape, err := denseShape(t)
	if err != nil {
		return nil, err
	}
	size := int(dt.Size())
	if littleEndian && dt != tensor.Bool && len(t.Raw) > 0 && uintptr(unsafe.Pointer(&t.Raw[0]))%uintptr(size) == 0 {
		return dense(dt, shape, t.Raw[:len(t.Raw):len(t.Raw)]), nil
	}
	out := alloc(dt, shape)
	raw := out.Header.Raw
	copy(raw, t.Raw)
	switch {
	case dt == tensor.Bool:
		// Any nonzero byte is true; Go bools must be exactly 0 or 1.
		for i, b := range raw {
			if b != 0 {
				raw[i] = 1
			}
		}
	case !littleEndian:
		swapBytes(raw, int(dt.Size()))
	}
	return out, nil
}

// unpack4 unpacks an int4 or uint4 tensor to int8 or uint8.
func unpack4(t *graph.Tensor) (*tensor.Dense, error) {
	if err := t.Check(); err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	shape, err := denseShape(t)
	if err != nil {
		return nil, err
	}
	n := int(t.NumElements())
	if t.DType == graph.Uint4 {
		v := make([]uint8, n)
		for i := range v {
			v[i] = t.Raw[i/2] >> (4 * (i % 2)) & 0xf
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v)), nil
	}
	v := make([]int8, n)
	for i := range v {
		v[i] = int8(t.Raw[i/2]<<(4*(1-i%2))) >> 4 // sign-extend the nibble
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(v)), nil
}

// TensorFromDense converts a dense tensor into an IR tensor called name,
// with little-endian raw data of its own.
func TensorFromDense(name string, d *tensor.Dense) (*graph.Tensor, error) {
	gt, err := GraphDType(d.Dtype())
	if err != nil {
		return nil, fmt.Errorf("native: tensor %q: %w", name, err)
	}
	c, err := contiguous(d)
	if err != nil {
		return nil, fmt.Errorf("native: tensor %q: %w", name, err)
	}
	dims := make([]int64, c.Dims())
	for i, s := range c.Shape() {
		dims[i] = int64(s)
	}
	raw := append([]byte{}, c.Header.Raw...)
	if !littleEndian {
		swapBytes(raw, int(c.Dtype().Size()))
	}
	return &graph.Tensor{Name: name, DType: gt, Dims: dims, Raw: raw}, nil
}

// swapBytes reverses the bytes of every size-byte element.
func swapBytes(raw []byte, size int) {
	for i := 0; i+size <= len(raw); i += size {
		for a, b := i, i+size-1; a < b; a, b = a+1, b-1 {
			raw[a], raw[b] = raw[b], raw[a]
		}
	}
}

// denseShape returns t's dims as a Dense shape, refusing a dimension too
// large for the native backend.
func denseShape(t *graph.Tensor) ([]int, error) {
	shape := make([]int, len(t.Dims))
	for i, d := range t.Dims {
		if d > maxDim {
			return nil, fmt.Errorf("native: tensor %q: dimension %d is too large", t.Name, d)
		}
		shape[i] = int(d)
	}
	return shape, nil
}
