package kernels

import (
	"fmt"

	"gorgonia.org/tensor"
)

// castDense converts x to element type to: floats to integers truncate
// toward zero, numbers to bool test for nonzero, bool to numbers gives 0
// or 1, and floats to float16/bfloat16 round to nearest even. The result
// never shares memory with x.
func castDense(ec *ExecContext, x *tensor.Dense, to tensor.Dtype) (*tensor.Dense, error) {
	if x.Dtype() == to {
		return cloneDense(ec, x), nil
	}
	out := ec.alloc(to, shapeOf(x))
	var err error
	switch to {
	case tensor.Float32:
		err = castInto(view[float32](out), x)
	case tensor.Float64:
		err = castInto(view[float64](out), x)
	case tensor.Int64:
		err = castInto(view[int64](out), x)
	case tensor.Int32:
		err = castInto(view[int32](out), x)
	case tensor.Int16:
		err = castInto(view[int16](out), x)
	case tensor.Int8:
		err = castInto(view[int8](out), x)
	case tensor.Uint64:
		err = castInto(view[uint64](out), x)
	case tensor.Uint32:
		err = castInto(view[uint32](out), x)
	case tensor.Uint16:
		err = castInto(view[uint16](out), x)
	case tensor.Uint8:
		err = castInto(view[uint8](out), x)
	case tensor.Bool, Float16Dtype, BFloat16Dtype:
		var f []float64
		// Through float64: exact for the zero test (a nonzero integer
		// stays nonzero) and a single rounding to the half types.
		if f, err = toFloat64s(ec, x); err == nil {
			return fromFloat64s(ec, to, shapeOf(x), f)
		}
	default:
		err = fmt.Errorf("cannot cast to element type %v", to)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// castInto converts x's elements into dst.
func castInto[D numeric](dst []D, x *tensor.Dense) error {
	switch x.Dtype() {
	case tensor.Float32:
		convertElems(dst, view[float32](x))
	case tensor.Float64:
		convertElems(dst, view[float64](x))
	case tensor.Int64:
		convertElems(dst, view[int64](x))
	case tensor.Int32:
		convertElems(dst, view[int32](x))
	case tensor.Int16:
		convertElems(dst, view[int16](x))
	case tensor.Int8:
		convertElems(dst, view[int8](x))
	case tensor.Uint64:
		convertElems(dst, view[uint64](x))
	case tensor.Uint32:
		convertElems(dst, view[uint32](x))
	case tensor.Uint16:
		convertElems(dst, view[uint16](x))
	case tensor.Uint8:
		convertElems(dst, view[uint8](x))
	case tensor.Bool:
		for i, b := range view[bool](x) {
			if b {
				dst[i] = 1
			}
		}
	case Float16Dtype:
		for i, h := range view[Float16](x) {
			dst[i] = D(h.Float32())
		}
	case BFloat16Dtype:
		for i, h := range view[BFloat16](x) {
			dst[i] = D(h.Float32())
		}
	default:
		return fmt.Errorf("cannot cast from element type %v", x.Dtype())
	}
	return nil
}
