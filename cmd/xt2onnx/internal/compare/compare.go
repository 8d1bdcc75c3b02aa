package compare

import (
	"fmt"
	"math"
	"slices"

	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Result compares one tensor (got) with a reference (want).
type Result struct {
	// Shape is got's shape.
	Shape []int64
	// MaxAbsDiff is the largest |got − want|; MaxRelDiff the largest
	// |got − want| / |want| over elements where want is not zero (an
	// element that differs from a zero want makes it +Inf). Both are 0 when
	// the tensors cannot be compared element by element, and NaN where
	// exactly one side of an element is NaN.
	MaxAbsDiff float64
	MaxRelDiff float64
	// Pass is true when shapes and dtypes agree and every element is
	// within tolerance: |got − want| ≤ atol + rtol·|want|, NaN equal to
	// NaN, infinities equal to themselves.
	Pass bool
	// Reason says why Pass is false: the first mismatch found.
	Reason string
}

// Values returns a numeric tensor's elements as float64: floats (float16
// and bfloat16 decoded), integers and bools (0 or 1).
func Values(t *runtime.Tensor) ([]float64, error) {
	conv := func(n int, at func(int) float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = at(i)
		}
		return out
	}
	switch d := t.Data().(type) {
	case []float32:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []float64:
		return slices.Clone(d), nil
	case []int8:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []int16:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []int32:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []int64:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []uint8:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []uint32:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []uint64:
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	case []bool:
		return conv(len(d), func(i int) float64 {
			if d[i] {
				return 1
			}
			return 0
		}), nil
	case []uint16:
		switch t.DType() {
		case runtime.Float16:
			return conv(len(d), func(i int) float64 { return float64(safetensors.F16ToFloat32(d[i])) }), nil
		case runtime.BFloat16:
			return conv(len(d), func(i int) float64 { return float64(safetensors.BF16ToFloat32(d[i])) }), nil
		}
		return conv(len(d), func(i int) float64 { return float64(d[i]) }), nil
	}
	return nil, fmt.Errorf("cannot compare %s values", t.DType())
}

// exact reports whether a dtype's values compare exactly: integers and
// bools (64-bit integers beyond 2^53 lose precision as float64, which a
// comparison at zero tolerance still tells apart in practice).
func exact(dt runtime.DType) bool {
	switch dt {
	case runtime.Float32, runtime.Float64, runtime.Float16, runtime.BFloat16:
		return false
	}
	return true
}

// Tensors compares got with the reference want within atol and rtol;
// integer and bool tensors must be equal.
func Tensors(got, want *runtime.Tensor, atol, rtol float64) Result {
	r := Result{Shape: got.Shape()}
	switch {
	case got.DType() != want.DType():
		r.Reason = fmt.Sprintf("dtype %s, want %s", got.DType(), want.DType())
		return r
	case !slices.Equal(got.Shape(), want.Shape()):
		r.Reason = fmt.Sprintf("shape %s, want %s", runtime.FormatShape(got.Shape()), runtime.FormatShape(want.Shape()))
		return r
	}
	g, err := Values(got)
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	w, err := Values(want)
	if err != nil {
		r.Reason = err.Error()
		return r
	}
	if exact(want.DType()) {
		atol, rtol = 0, 0
	}
	r.Pass = true
	worst, worstExcess := -1, 0.0
	for i := range g {
		a, b := g[i], w[i]
		if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
			continue
		}
		d := math.Abs(a - b)
		if math.IsNaN(d) {
			r.MaxAbsDiff, r.MaxRelDiff = math.NaN(), math.NaN()
		} else if !math.IsNaN(r.MaxAbsDiff) {
			r.MaxAbsDiff = max(r.MaxAbsDiff, d)
			if b != 0 {
				r.MaxRelDiff = max(r.MaxRelDiff, d/math.Abs(b))
			} else {
				r.MaxRelDiff = math.Inf(1)
			}
		}
		limit := atol + rtol*math.Abs(b)
		if !(d <= limit) {
			excess := d - limit
			if r.Pass || math.IsNaN(excess) || excess > worstExcess {
				worst, worstExcess = i, excess
			}
			r.Pass = false
		}
	}
	if !r.Pass {
		r.Reason = fmt.Sprintf("element %d is %v, want %v (|diff| %.3g > atol %g + rtol %g × |want|); max abs diff %.3g",
			worst, g[worst], w[worst], math.Abs(g[worst]-w[worst]), atol, rtol, r.MaxAbsDiff)
	}
	return r
}
