package kernels

import (
	"math"
	"testing"
)

// TestExpFast bounds expFast's error against math.Exp over the range
// softmax feeds it and out to the limits of float64.
func TestExpFast(t *testing.T) {
	worst := 0.0
	for i := -800000; i <= 720000; i++ {
		x := float64(i) / 1000
		got, want := expFast(x), math.Exp(x)
		if want == 0 || math.IsInf(want, 0) {
			if got != want && !(want == 0 && got < 1e-300) {
				t.Fatalf("expFast(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		if rel := math.Abs(got-want) / want; rel > worst && want > 1e-300 {
			worst = rel
		}
	}
	if worst > 3e-11 {
		t.Errorf("max relative error %.3g, want below 3e-11", worst)
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -math.MaxFloat32} {
		got, want := expFast(x), math.Exp(x)
		if !(got == want || (math.IsNaN(got) && math.IsNaN(want))) {
			t.Errorf("expFast(%g) = %g, want %g", x, got, want)
		}
	}
}

// TestErf64 bounds the float32 erf against math.Erf.
func TestErf64(t *testing.T) {
	worst := 0.0
	for i := -700000; i <= 700000; i++ {
		x := float64(i) / 100000
		if d := math.Abs(erf64(x) - math.Erf(x)); d > worst {
			worst = d
		}
	}
	if worst > 1.5e-7 {
		t.Errorf("max abs error %.3g, want at most 1.5e-7 (a float32 rounding near 1)", worst)
	}
	if !math.IsNaN(erf64(math.NaN())) || erf64(math.Inf(1)) != 1 || erf64(math.Inf(-1)) != -1 {
		t.Error("erf64 special values")
	}
}
