package verify

import "testing"

func TestDiffRtol(t *testing.T) {
	want := []float64{100, 1, 0}
	got := []float32{100.05, 1, 0}
	for _, tt := range []struct {
		tol, rtol float64
		pass      bool
	}{
		{tol: 1e-5, rtol: 0, pass: false},   // 0.05 > 1e-5
		{tol: 1e-5, rtol: 1e-3, pass: true}, // 0.05 ≤ 1e-5 + 1e-3·100
		{tol: 1e-5, rtol: 1e-4, pass: false},
		{tol: 0.1, rtol: 0, pass: true},
	} {
		d := OutputDiff{Tol: tt.tol, Rtol: tt.rtol}
		d.diff(got, want)
		if d.Pass != tt.pass {
			t.Errorf("tol %g rtol %g: pass %v, want %v (max abs diff %g)", tt.tol, tt.rtol, d.Pass, tt.pass, d.MaxAbsDiff)
		}
	}
}
