package kernels

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

func TestMathOps(t *testing.T) {
	nan := float32(math.NaN())
	runCases(t, []opCase{
		{name: "Add/broadcast row", op: "Add", in: []*tensor.Dense{f32([]int{2, 3}, 1, 2, 3, 4, 5, 6), f32(nil, 10, 20, 30)},
			want: []*tensor.Dense{f32([]int{2, 3}, 11, 22, 33, 14, 25, 36)}},
		{name: "Add/broadcast column and row", op: "Add", in: []*tensor.Dense{f32([]int{2, 1}, 1, 2), f32([]int{1, 3}, 10, 20, 30)},
			want: []*tensor.Dense{f32([]int{2, 3}, 11, 21, 31, 12, 22, 32)}},
		{name: "Add/scalar", op: "Add", in: []*tensor.Dense{i64(sc, 5), i64([]int{2, 2}, 1, 2, 3, 4)},
			want: []*tensor.Dense{i64([]int{2, 2}, 6, 7, 8, 9)}},
		{name: "Add/middle broadcast", op: "Add", in: []*tensor.Dense{f32([]int{2, 1, 2}, 1, 2, 3, 4), f32([]int{3, 1}, 10, 20, 30)},
			want: []*tensor.Dense{f32([]int{2, 3, 2}, 11, 12, 21, 22, 31, 32, 13, 14, 23, 24, 33, 34)}},
		{name: "Add/empty", op: "Add", in: []*tensor.Dense{f32([]int{0, 3}), f32(nil, 1, 2, 3)},
			want: []*tensor.Dense{f32([]int{0, 3})}},
		{name: "Add/mismatch", op: "Add", in: []*tensor.Dense{f32(nil, 1, 2), f32(nil, 1, 2, 3)}, err: "do not broadcast"},
		{name: "Add/types differ", op: "Add", in: []*tensor.Dense{f32(nil, 1), i64(nil, 1)}, err: "different element types"},
		{name: "Sub", op: "Sub", in: []*tensor.Dense{i32(nil, 5, 7), i32(sc, 2)}, want: []*tensor.Dense{i32(nil, 3, 5)}},
		{name: "Mul/float64", op: "Mul", in: []*tensor.Dense{f64(nil, 1.5, -2), f64(nil, 2, 3)}, want: []*tensor.Dense{f64(nil, 3, -6)}},
		{name: "Div/int truncates", op: "Div", in: []*tensor.Dense{i64(nil, 7, -7), i64(nil, 2, 2)}, want: []*tensor.Dense{i64(nil, 3, -3)}},
		{name: "Div/int by zero", op: "Div", in: []*tensor.Dense{i64(nil, 1), i64(nil, 0)}, err: "integer division by zero"},
		{name: "Add/unknown attribute", op: "Add", attrs: []graph.Attr{graph.AInt("broadcast", 1)},
			in: []*tensor.Dense{f32(nil, 1), f32(nil, 1)}, err: "unknown attribute(s) broadcast"},
		{name: "Pow/float exponent on int base", op: "Pow", in: []*tensor.Dense{i64(nil, 2, 3), f32(nil, 3, 0.5)},
			want: []*tensor.Dense{i64(nil, 8, 1)}},
		{name: "Pow", op: "Pow", in: []*tensor.Dense{f32(nil, 4, 2), f32(sc, 0.5)}, want: []*tensor.Dense{f32(nil, 2, 1.4142135)}},
		{name: "Mod/python sign", op: "Mod", in: []*tensor.Dense{i64(nil, -4, 7, 5), i64(nil, 3, -3, 5)}, want: []*tensor.Dense{i64(nil, 2, -2, 0)}},
		{name: "Mod/fmod", op: "Mod", attrs: []graph.Attr{graph.AInt("fmod", 1)}, in: []*tensor.Dense{f32(nil, -4.5, 7), f32(nil, 2, -3)},
			want: []*tensor.Dense{f32(nil, -0.5, 1)}},
		{name: "Mod/float without fmod", op: "Mod", in: []*tensor.Dense{f32(nil, 1), f32(nil, 2)}, err: "fmod=1"},
		{name: "Max/three inputs with NaN", op: "Max", in: []*tensor.Dense{f32(nil, 1, 5, nan), f32(nil, 4, 2, 1), f32(sc, 3)},
			want: []*tensor.Dense{f32(nil, 4, 5, nan)}},
		{name: "Min", op: "Min", in: []*tensor.Dense{i32(nil, 1, 5), i32(nil, 4, 2)}, want: []*tensor.Dense{i32(nil, 1, 2)}},
		{name: "Sum", op: "Sum", in: []*tensor.Dense{f32(nil, 1, 2), f32(nil, 3, 4), f32(sc, 10)}, want: []*tensor.Dense{f32(nil, 14, 16)}},
		{name: "Abs/int", op: "Abs", in: []*tensor.Dense{i64(nil, -3, 0, 4)}, want: []*tensor.Dense{i64(nil, 3, 0, 4)}},
		{name: "Neg", op: "Neg", in: []*tensor.Dense{f32(nil, -3, 2)}, want: []*tensor.Dense{f32(nil, 3, -2)}},
		{name: "Sign", op: "Sign", in: []*tensor.Dense{f32(nil, -3, 0, 2, nan)}, want: []*tensor.Dense{f32(nil, -1, 0, 1, nan)}},
		{name: "Sqrt", op: "Sqrt", in: []*tensor.Dense{f32(nil, 4, 2)}, want: []*tensor.Dense{f32(nil, 2, 1.4142135)}},
		{name: "Sqrt/int rejected", op: "Sqrt", in: []*tensor.Dense{i64(nil, 4)}, err: "floating-point"},
		{name: "Reciprocal", op: "Reciprocal", in: []*tensor.Dense{f32(nil, 4, -0.5)}, want: []*tensor.Dense{f32(nil, 0.25, -2)}},
		{name: "Exp", op: "Exp", in: []*tensor.Dense{f64(nil, 0, 1)}, want: []*tensor.Dense{f64(nil, 1, math.E)}},
		{name: "Log", op: "Log", in: []*tensor.Dense{f32(nil, 1, float32(math.E))}, want: []*tensor.Dense{f32(nil, 0, 1)}},
		{name: "Sin", op: "Sin", in: []*tensor.Dense{f32(nil, 0, math.Pi/2)}, want: []*tensor.Dense{f32(nil, 0, 1)}},
		{name: "Cos", op: "Cos", in: []*tensor.Dense{f32(nil, 0, math.Pi)}, want: []*tensor.Dense{f32(nil, 1, -1)}},
		{name: "Tanh", op: "Tanh", in: []*tensor.Dense{f32(nil, 0, 1)}, want: []*tensor.Dense{f32(nil, 0, 0.7615942)}},
		{name: "Erf", op: "Erf", in: []*tensor.Dense{f32(nil, 0, 0.5, -1)}, want: []*tensor.Dense{f32(nil, 0, 0.5204999, -0.8427008)}},
		{name: "Ceil", op: "Ceil", in: []*tensor.Dense{f32(nil, 1.2, -1.2)}, want: []*tensor.Dense{f32(nil, 2, -1)}},
		{name: "Clip/inputs", op: "Clip", opset: 13, in: []*tensor.Dense{f32(nil, -2, 0.5, 3, nan), f32(sc, -1), f32(sc, 1)},
			want: []*tensor.Dense{f32(nil, -1, 0.5, 1, nan)}},
		{name: "Clip/only max", op: "Clip", opset: 13, in: []*tensor.Dense{i64(nil, -5, 5), nil, i64(sc, 2)},
			want: []*tensor.Dense{i64(nil, -5, 2)}},
		{name: "Clip/attributes", op: "Clip", opset: 6, attrs: []graph.Attr{graph.AFloat("min", 0)},
			in: []*tensor.Dense{f32(nil, -2, 3)}, want: []*tensor.Dense{f32(nil, 0, 3)}},
		{name: "Clip/bound type", op: "Clip", opset: 13, in: []*tensor.Dense{f32(nil, 1), i64(sc, 0)}, err: "does not match"},
		{name: "CumSum", op: "CumSum", in: []*tensor.Dense{f32([]int{2, 3}, 1, 2, 3, 4, 5, 6), i64(sc, 1)},
			want: []*tensor.Dense{f32([]int{2, 3}, 1, 3, 6, 4, 9, 15)}},
		{name: "CumSum/exclusive reverse", op: "CumSum", attrs: []graph.Attr{graph.AInt("exclusive", 1), graph.AInt("reverse", 1)},
			in: []*tensor.Dense{i64(nil, 1, 2, 3), i32(sc, 0)}, want: []*tensor.Dense{i64(nil, 5, 3, 0)}},
	})
}

func TestHalfTypes(t *testing.T) {
	h := func(v ...float64) *tensor.Dense {
		out := make([]Float16, len(v))
		for i, x := range v {
			out[i] = Float16From(x)
		}
		return fromSlice([]int{len(v)}, out)
	}
	runCases(t, []opCase{
		{name: "Add/float16", op: "Add", in: []*tensor.Dense{h(1, 2.5), h(0.25, 1)}, want: []*tensor.Dense{h(1.25, 3.5)}},
		{name: "Cast/float16 to float32", op: "Cast", attrs: []graph.Attr{graph.AInt("to", int64(graph.Float))},
			in: []*tensor.Dense{h(0.1, 65504)}, want: []*tensor.Dense{f32(nil, 0.099975586, 65504)}},
		{name: "Cast/float32 to float16 overflows to Inf", op: "Cast", attrs: []graph.Attr{graph.AInt("to", int64(graph.Float16))},
			in: []*tensor.Dense{f32(nil, 70000, -1)}, want: []*tensor.Dense{h(math.Inf(1), -1)}},
	})
	for _, c := range []struct {
		in   float64
		bits uint16
	}{{0, 0}, {1, 0x3c00}, {-2.5, 0xc100}, {65504, 0x7bff}, {65520, 0x7c00}, {5.960464477539063e-08, 0x0001}, {0.1, 0x2e66}, {math.NaN(), 0x7e00}} {
		if got := Float16From(c.in); uint16(got) != c.bits {
			t.Errorf("Float16From(%g) = %#04x, want %#04x", c.in, uint16(got), c.bits)
		}
	}
	if got := BFloat16From(1.00390625); uint16(got) != 0x3f80 { // ties to even
		t.Errorf("BFloat16From(1.00390625) = %#04x, want 0x3f80", uint16(got))
	}
	if got := BFloat16From(3.140625).Float32(); got != 3.140625 {
		t.Errorf("BFloat16From(3.140625) = %v", got)
	}
}

func TestMatMul(t *testing.T) {
	runCases(t, []opCase{
		{name: "2-D", op: "MatMul", in: []*tensor.Dense{f32([]int{2, 3}, 1, 2, 3, 4, 5, 6), f32([]int{3, 2}, 7, 8, 9, 10, 11, 12)},
			want: []*tensor.Dense{f32([]int{2, 2}, 58, 64, 139, 154)}},
		{name: "vector × matrix", op: "MatMul", in: []*tensor.Dense{f32(nil, 1, 2, 3), f32([]int{3, 2}, 7, 8, 9, 10, 11, 12)},
			want: []*tensor.Dense{f32(nil, 58, 64)}},
		{name: "matrix × vector", op: "MatMul", in: []*tensor.Dense{f64([]int{2, 3}, 1, 2, 3, 4, 5, 6), f64(nil, 1, 0, 1)},
			want: []*tensor.Dense{f64(nil, 4, 10)}},
		{name: "vector · vector", op: "MatMul", in: []*tensor.Dense{i64(nil, 1, 2, 3), i64(nil, 4, 5, 6)}, want: []*tensor.Dense{i64(sc, 32)}},
		{name: "batch broadcast", op: "MatMul", in: []*tensor.Dense{
			f32([]int{2, 1, 2, 2}, 1, 0, 0, 1, 2, 0, 0, 2), f32([]int{3, 2, 1}, 1, 2, 3, 4, 5, 6)},
			want: []*tensor.Dense{f32([]int{2, 3, 2, 1}, 1, 2, 3, 4, 5, 6, 2, 4, 6, 8, 10, 12)}},
		{name: "inner mismatch", op: "MatMul", in: []*tensor.Dense{f32([]int{2, 3}), f32([]int{2, 3})}, err: "inner dimensions 3 and 2"},
		{name: "empty inner", op: "MatMul", in: []*tensor.Dense{f32([]int{2, 0}), f32([]int{0, 2})}, want: []*tensor.Dense{f32([]int{2, 2}, 0, 0, 0, 0)}},
		{name: "Gemm", op: "Gemm", opset: 13, attrs: []graph.Attr{graph.AFloat("alpha", 2), graph.AFloat("beta", 0.5), graph.AInt("transB", 1)},
			in:   []*tensor.Dense{f32([]int{1, 2}, 1, 2), f32([]int{3, 2}, 1, 0, 0, 1, 1, 1), f32(nil, 2, 4, 6)},
			want: []*tensor.Dense{f32([]int{1, 3}, 3, 6, 9)}},
		{name: "Gemm/transA without C", op: "Gemm", opset: 13, attrs: []graph.Attr{graph.AInt("transA", 1)},
			in:   []*tensor.Dense{f32([]int{2, 1}, 1, 2), f32([]int{2, 2}, 1, 2, 3, 4)},
			want: []*tensor.Dense{f32([]int{1, 2}, 7, 10)}},
		{name: "Gemm-7 needs C", op: "Gemm", opset: 7, in: []*tensor.Dense{f32([]int{1, 1}, 1), f32([]int{1, 1}, 1)}, err: "needs at least 3"},
	})
}

func TestMatMulLargeMatchesNaive(t *testing.T) {
	// Big enough for the parallel path; compared with a float64 loop.
	const b, m, k, n = 3, 33, 70, 65
	av := make([]float32, b*m*k)
	bv := make([]float32, k*n)
	for i := range av {
		av[i] = float32(math.Sin(float64(i)))
	}
	for i := range bv {
		bv[i] = float32(math.Cos(float64(i)))
	}
	got, err := matmul(nil, f32([]int{b, m, k}, av...), f32([]int{k, n}, bv...))
	if err != nil {
		t.Fatal(err)
	}
	g := view[float32](got)
	for bi := 0; bi < b; bi++ {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				s := 0.0
				for p := 0; p < k; p++ {
					s += float64(av[(bi*m+i)*k+p]) * float64(bv[p*n+j])
				}
				if d := math.Abs(float64(g[(bi*m+i)*n+j]) - s); d > 1e-4 {
					t.Fatalf("[%d %d %d] = %v, want %v", bi, i, j, g[(bi*m+i)*n+j], s)
				}
			}
		}
	}
}
