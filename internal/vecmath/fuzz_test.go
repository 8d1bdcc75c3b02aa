package vecmath

import (
	"encoding/binary"
	"math"
	"testing"
)

// The fuzz targets compare the best path on this machine (which is the Go
// path where there is no assembly) with the Go path and with the float64
// references, within the documented bounds:
//
//	go test -run '^$' -fuzz FuzzErf -fuzztime 30s ./internal/vecmath/

// floatsFrom reads up to 300 float32 values (little endian) from data.
func floatsFrom(data []byte) []float32 {
	n := min(len(data)/4, 300)
	xs := make([]float32, n)
	for i := range xs {
		xs[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return xs
}

func seedFloats(f *testing.F, extra ...any) {
	for _, xs := range [][]float32{
		{0, 1, -1, 0.5},
		{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), float32(math.Copysign(0, -1)), math.MaxFloat32, math.SmallestNonzeroFloat32},
		{3.6, -3.6, 0.921875, -103.97, 88.72, -87.33, 4, 1e-30, 3, 2, 1, 0, -1, -2, -3, -4, 5, 6, 7},
		{-math.MaxFloat32, -math.MaxFloat32, 2, 1},
	} {
		b := make([]byte, 4*len(xs))
		for i, x := range xs {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		f.Add(append([]any{b}, extra...)...)
	}
}

// both runs f on the best path and on the Go path.
func both(f func()) {
	f()
	onPath("go", f)
}

func FuzzErf(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		xs := floatsFrom(data)
		v, g := make([]float32, len(xs)), make([]float32, len(xs))
		Erf(v, xs)
		onPath("go", func() { Erf(g, xs) })
		for i, x := range xs {
			want := math.Erf(float64(x))
			if math.IsNaN(want) {
				if v[i] == v[i] || g[i] == g[i] {
					t.Fatalf("erf(NaN) = %g (vector), %g (go)", v[i], g[i])
				}
				continue
			}
			dv, dg := math.Abs(float64(v[i])-want), math.Abs(float64(g[i])-want)
			if !(dv <= erfAbsBound && dg <= erfAbsBound && math.Abs(float64(v[i]-g[i])) <= erfAbsBound) {
				t.Fatalf("erf(%g): vector %g, go %g, want %g", x, v[i], g[i], want)
			}
		}
	})
}

func FuzzExp(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		xs := floatsFrom(data)
		v, g := make([]float32, len(xs)), make([]float32, len(xs))
		Exp(v, xs)
		onPath("go", func() { Exp(g, xs) })
		for i, x := range xs {
			want := float32(math.Exp(float64(x)))
			if ulpDist(v[i], want) > expBitBound || ulpDist(g[i], want) > expBitBound || ulpDist(v[i], g[i]) > 2*expBitBound {
				t.Fatalf("exp(%g): vector %g, go %g, want %g", x, v[i], g[i], want)
			}
		}
	})
}

func FuzzGelu(f *testing.F) {
	seedFloats(f, float32(math.Sqrt2), false)
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, float32(math.Sqrt2/2), true)
	f.Fuzz(func(t *testing.T, data []byte, c float32, mul bool) {
		xs := floatsFrom(data)
		var s, e, v, g []float32
		both(func() {
			// Run on the path in force: Gelu and the unfused pattern.
			gv := make([]float32, len(xs))
			Gelu(gv, xs, c, mul)
			s = make([]float32, len(xs))
			for i, x := range xs {
				if mul {
					s[i] = x * c
				} else {
					s[i] = x / c
				}
			}
			e = make([]float32, len(xs))
			Erf(e, s)
			for i, x := range xs {
				if w := geluTail(x, e[i]); math.Float32bits(w) != math.Float32bits(gv[i]) && !(w != w && gv[i] != gv[i]) {
					t.Fatalf("%s: Gelu(%g, c=%g, mul=%v) = %g, unfused %g", KernelName(), x, c, mul, gv[i], w)
				}
			}
			if v == nil {
				v = gv
			} else {
				g = gv
			}
		})
		for i, x := range xs {
			if v[i] != v[i] || g[i] != g[i] {
				if v[i] == v[i] || g[i] == g[i] {
					t.Fatalf("Gelu(%g): vector %g, go %g", x, v[i], g[i])
				}
				continue
			}
			// The two erf values differ by at most 2·erfAbsBound; the
			// difference passes through ·x/2 and two roundings.
			tol := 2*erfAbsBound*math.Abs(float64(x)) + 2*ulp32(float64(g[i]))
			nearInf := func(a float32) bool { return math.Abs(float64(a)) >= math.MaxFloat32*(1-1e-6) }
			if math.IsInf(float64(v[i]), 0) || math.IsInf(float64(g[i]), 0) {
				if v[i] != g[i] && !(nearInf(v[i]) && nearInf(g[i]) && math.Signbit(float64(v[i])) == math.Signbit(float64(g[i]))) {
					t.Fatalf("Gelu(%g, c=%g, mul=%v): vector %g, go %g", x, c, mul, v[i], g[i])
				}
				continue
			}
			if d := math.Abs(float64(v[i]) - float64(g[i])); !(d <= tol) {
				t.Fatalf("Gelu(%g, c=%g, mul=%v): vector %g, go %g", x, c, mul, v[i], g[i])
			}
		}
	})
}

func FuzzSoftmaxRow(f *testing.F) {
	seedFloats(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		xs := floatsFrom(data)
		want := make([]float32, len(xs))
		softmaxRef(want, xs, make([]float64, len(xs)))
		v, g := make([]float32, len(xs)), make([]float32, len(xs))
		SoftmaxRow(v, xs)
		onPath("go", func() { SoftmaxRow(g, xs) })
		for j := range xs {
			if ulpDist(v[j], want[j]) > softmaxBits || ulpDist(g[j], want[j]) > softmaxBits || ulpDist(v[j], g[j]) > softmaxBits {
				t.Fatalf("row %v: [%d] vector %g, go %g, reference %g", xs, j, v[j], g[j], want[j])
			}
		}
	})
}
