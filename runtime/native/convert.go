package native

import (
	"fmt"
	"unsafe"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// toDense wraps t's data (not copied) as a *tensor.Dense of the same shape.
// Kernels never write to their inputs. float16 and bfloat16 bits become
// kernels.Float16 and kernels.BFloat16 elements.
func toDense(t *runtime.Tensor) (*tensor.Dense, error) {
	s := t.Shape()
	shape := make([]int, len(s))
	for i, d := range s {
		shape[i] = int(d)
	}
	var data any
	switch d := t.Data().(type) {
	case []uint16:
		switch t.DType() {
		case runtime.Float16:
			data = reinterpret[kernels.Float16](d)
		case runtime.BFloat16:
			data = reinterpret[kernels.BFloat16](d)
		default:
			data = d
		}
	case []float32, []float64, []int8, []int16, []int32, []int64, []uint8, []uint32, []uint64, []bool:
		data = d
	default:
		return nil, fmt.Errorf("unsupported tensor %s", t)
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), nil
}

// reinterpret views a []uint16 as a slice of another 16-bit type.
func reinterpret[T ~uint16](s []uint16) []T {
	if len(s) == 0 {
		return []T{}
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&s[0])), len(s))
}

// fromDense copies a kernel result into a new runtime.Tensor.
func fromDense(d *tensor.Dense) (*runtime.Tensor, error) {
	if d.IsMaterializable() {
		m, ok := d.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("cannot materialize a %v view", d.Dtype())
		}
		d = m
	}
	s := d.Shape()
	shape := make([]int64, len(s))
	n := 1
	for i, v := range s {
		shape[i] = int64(v)
		n *= v
	}
	raw := d.Header.Raw
	if size := int(d.Dtype().Size()); len(raw) < n*size {
		return nil, fmt.Errorf("tensor %v%v holds %d bytes, want %d", d.Dtype(), []int(s), len(raw), n*size)
	}
	switch d.Dtype() {
	case tensor.Float32:
		return runtime.NewFloat32(shape, copyAs[float32](raw, n))
	case tensor.Float64:
		return runtime.NewFloat64(shape, copyAs[float64](raw, n))
	case tensor.Int64:
		return runtime.NewInt64(shape, copyAs[int64](raw, n))
	case tensor.Int32:
		return runtime.NewInt32(shape, copyAs[int32](raw, n))
	case tensor.Int16:
		return runtime.NewInt16(shape, copyAs[int16](raw, n))
	case tensor.Int8:
		return runtime.NewInt8(shape, copyAs[int8](raw, n))
	case tensor.Uint64:
		return runtime.NewUint64(shape, copyAs[uint64](raw, n))
	case tensor.Uint32:
		return runtime.NewUint32(shape, copyAs[uint32](raw, n))
	case tensor.Uint16:
		return runtime.NewUint16(shape, copyAs[uint16](raw, n))
	case tensor.Uint8:
		return runtime.NewUint8(shape, copyAs[uint8](raw, n))
	case tensor.Bool:
		return runtime.NewBool(shape, copyAs[bool](raw, n))
	case kernels.Float16Dtype:
		return runtime.NewFloat16(shape, copyAs[uint16](raw, n))
	case kernels.BFloat16Dtype:
		return runtime.NewBFloat16(shape, copyAs[uint16](raw, n))
	}
	return nil, fmt.Errorf("element type %v has no runtime.Tensor equivalent", d.Dtype())
}

// copyAs copies the first n elements of type T held in raw into a new
// slice.
func copyAs[T any](raw []byte, n int) []T {
	out := make([]T, n)
	if n > 0 {
		size := int(unsafe.Sizeof(out[0]))
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), n*size), raw[:n*size])
	}
	return out
}

// copyInto copies a float32 result into dst, which must have its shape.
func copyInto(dst *runtime.Tensor, d *tensor.Dense) error {
	if d.IsMaterializable() {
		m, ok := d.Materialize().(*tensor.Dense)
		if !ok {
			return fmt.Errorf("cannot materialize a %v view", d.Dtype())
		}
		d = m
	}
	shape := d.Shape()
	want := dst.Shape()
	if d.Dtype() != tensor.Float32 || len(shape) != len(want) {
		return fmt.Errorf("result %v%v does not fit the given %s", d.Dtype(), []int(shape), dst)
	}
	n := 1
	for i, v := range shape {
		if int64(v) != want[i] {
			return fmt.Errorf("result %v%v does not fit the given %s", d.Dtype(), []int(shape), dst)
		}
		n *= v
	}
	out, _ := dst.Data().([]float32)
	raw := d.Header.Raw
	if len(out) < n || len(raw) < 4*n {
		return fmt.Errorf("result of %d values does not fit the given %s", n, dst)
	}
	if n > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*n), raw[:4*n])
	}
	return nil
}
