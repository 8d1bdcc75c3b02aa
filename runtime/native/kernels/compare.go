package kernels

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// Compare reports how got differs from want in type, shape or values
// (floats within rel of the larger magnitude, NaN equal to NaN), or nil.
func Compare(got, want *tensor.Dense, rel float64) error {
	if got.Dtype() != want.Dtype() {
		return fmt.Errorf("type %s, want %s", dtName(got.Dtype()), dtName(want.Dtype()))
	}
	if !sameShape(got.Shape(), want.Shape()) {
		return fmt.Errorf("shape %v, want %v", got.Shape(), want.Shape())
	}
	g, err := toFloat64s(nil, got)
	if err != nil {
		return err
	}
	w, _ := toFloat64s(nil, want)
	for i := range g {
		if g[i] == w[i] || (math.IsNaN(g[i]) && math.IsNaN(w[i])) {
			continue
		}
		if !isFloat(got.Dtype()) || math.Abs(g[i]-w[i]) > rel*math.Max(1, math.Max(math.Abs(g[i]), math.Abs(w[i]))) {
			return fmt.Errorf("element %d is %v, want %v", i, g[i], w[i])
		}
	}
	return nil
}

// FromSlice wraps data (not copied) as a tensor of the given shape; an
// empty shape gives a scalar.
func FromSlice[T any](shape []int, data []T) *tensor.Dense { return fromSlice(shape, data) }

// ToFloat64s converts a numeric or bool tensor to float64 values.
func ToFloat64s(d *tensor.Dense) ([]float64, error) { return toFloat64s(nil, d) }
