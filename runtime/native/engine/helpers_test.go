package engine

import (
	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// Tensor constructors for the tests; shape nil means 1-D of the data.
func f32(shape []int, v ...float32) *tensor.Dense { return mk(shape, v) }
func f64(shape []int, v ...float64) *tensor.Dense { return mk(shape, v) }
func i64(shape []int, v ...int64) *tensor.Dense   { return mk(shape, v) }
func i32(shape []int, v ...int32) *tensor.Dense   { return mk(shape, v) }
func bools(shape []int, v ...bool) *tensor.Dense  { return mk(shape, v) }

func mk[T any](shape []int, v []T) *tensor.Dense {
	if shape == nil {
		shape = []int{len(v)}
	}
	return kernels.FromSlice(shape, v)
}

// sc is the empty shape of a scalar.
var sc = []int{}

func sameValues(got, want *tensor.Dense, rel float64) error { return kernels.Compare(got, want, rel) }

func toFloat64s(_ any, d *tensor.Dense) ([]float64, error) { return kernels.ToFloat64s(d) }
