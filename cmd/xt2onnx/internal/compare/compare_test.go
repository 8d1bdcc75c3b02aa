package compare

import (
	"math"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime"
)

func TestTensors(t *testing.T) {
	f32 := func(v ...float32) *runtime.Tensor {
		x, err := runtime.NewFloat32([]int64{int64(len(v))}, v)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	i64 := func(v ...int64) *runtime.Tensor {
		x, err := runtime.NewInt64([]int64{int64(len(v))}, v)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	tests := []struct {
		name       string
		got, want  *runtime.Tensor
		atol, rtol float64
		pass       bool
		maxAbs     float64
		maxRel     float64
		reason     string
	}{
		{"equal", f32(1, 2), f32(1, 2), 0, 0, true, 0, 0, ""},
		{"within atol", f32(1, 2.5), f32(1, 2), 0.5, 0, true, 0.5, 0.25, ""},
		{"beyond atol", f32(1, 2.5), f32(1, 2), 0.25, 0, false, 0.5, 0.25, "element 1 is 2.5, want 2"},
		{"within rtol", f32(110), f32(100), 0, 0.1, true, 10, 0.1, ""},
		{"zero want", f32(0.5), f32(0), 1, 0, true, 0.5, math.Inf(1), ""},
		{"nan equals nan", f32(nan, 1), f32(nan, 1), 0, 0, true, 0, 0, ""},
		{"nan differs", f32(nan), f32(1), 10, 10, false, math.NaN(), math.NaN(), "element 0 is NaN, want 1"},
		{"inf equals inf", f32(inf), f32(inf), 0, 0, true, 0, 0, ""},
		{"ints exact", i64(3, 4), i64(3, 5), 10, 10, false, 1, 0.2, "element 1 is 4, want 5"},
		{"dtype", i64(1), f32(1), 1, 1, false, 0, 0, "dtype int64, want float32"},
		{"shape", f32(1, 2), f32(1), 1, 1, false, 0, 0, "shape [2], want [1]"},
	}
	same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Tensors(tt.got, tt.want, tt.atol, tt.rtol)
			if r.Pass != tt.pass || !same(r.MaxAbsDiff, tt.maxAbs) || !same(r.MaxRelDiff, tt.maxRel) {
				t.Errorf("got pass %v abs %v rel %v, want %v %v %v", r.Pass, r.MaxAbsDiff, r.MaxRelDiff, tt.pass, tt.maxAbs, tt.maxRel)
			}
			if !strings.HasPrefix(r.Reason, tt.reason) || (tt.reason == "") != (r.Reason == "") {
				t.Errorf("reason %q, want prefix %q", r.Reason, tt.reason)
			}
		})
	}
}

func TestValuesHalf(t *testing.T) {
	h, _ := runtime.NewFloat16([]int64{2}, []uint16{0x3c00, 0xc000})
	v, err := Values(h)
	if err != nil || v[0] != 1 || v[1] != -2 {
		t.Errorf("Values(float16) = %v, %v; want [1 -2]", v, err)
	}
	s, _ := runtime.NewBool([]int64{2}, []bool{true, false})
	if v, _ := Values(s); v[0] != 1 || v[1] != 0 {
		t.Errorf("Values(bool) = %v", v)
	}
}
