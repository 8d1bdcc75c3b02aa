package vecmath

// The benchmarks report ns/elem for each path ("avx512", "avx2", "go") and
// for the scalar reference the native backend used before ("ref"), on 128
// elements (one softmax row) and on 1M elements. The machine is usually
// shared, so run them short and repeated and quote medians:
//
//	go test -run '^$' -bench . -benchtime 100ms -count 7 ./internal/vecmath/

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// erfEigen is the scalar erf the native backend used before this package:
// Eigen's rational approximation evaluated in float64 on (-4, 4), ±1 beyond
// (within 9.5e-8 of erf before the final rounding).
func erfEigen(x float32) float32 {
	v := float64(x)
	if v != v {
		return x
	}
	if v >= 4 {
		return 1
	}
	if v <= -4 {
		return -1
	}
	const (
		a1, a3, a5, a7 = -1.60960333262415e-02, -2.95459980854025e-03, -7.34990630326855e-04, -5.69250639462346e-05
		a9, a11, a13   = -2.10102402082508e-06, 2.77068142495902e-08, -2.72614225801306e-10
		b0, b2, b4, b6 = -1.42647390514189e-02, -7.37332916720468e-03, -1.68282697438203e-03, -2.13374055278905e-04
		b8             = -1.45660718464996e-05
	)
	x2 := v * v
	p := v * (a1 + x2*(a3+x2*(a5+x2*(a7+x2*(a9+x2*(a11+x2*a13))))))
	q := b0 + x2*(b2+x2*(b4+x2*(b6+x2*b8)))
	return float32(p / q)
}

// geluRef is the unfused five-node GELU with the scalar reference erf.
func geluRef(x, c float32, mul bool) float32 {
	var s float32
	if mul {
		s = float32(x * c)
	} else {
		s = float32(x / c)
	}
	return geluTail(x, erfEigen(s))
}

var benchSizes = []int{128, 1 << 20}

func benchData(n int, scale float64) []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64() * scale)
	}
	return s
}

func reportPerElem(b *testing.B, n int) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
}

// benchElementwise runs f over n elements on every path, and ref.
func benchElementwise(b *testing.B, scale float64, f, ref func(dst, src []float32)) {
	for _, n := range benchSizes {
		src := benchData(n, scale)
		dst := make([]float32, n)
		impls := map[string]func(dst, src []float32){"ref": ref}
		names := append(pathList(), "ref")
		for _, name := range names {
			b.Run(fmt.Sprintf("n=%d/%s", n, name), func(b *testing.B) {
				g := f
				if name == "ref" {
					g = impls["ref"]
				} else {
					defer setPath(name)()
				}
				b.SetBytes(int64(8 * n))
				b.ReportAllocs()
				for b.Loop() {
					g(dst, src)
				}
				reportPerElem(b, n)
			})
		}
	}
}

func BenchmarkErf(b *testing.B) {
	benchElementwise(b, 2, Erf, func(dst, src []float32) {
		for i, x := range src {
			dst[i] = erfEigen(x)
		}
	})
}

func BenchmarkGelu(b *testing.B) {
	benchElementwise(b, 3, func(dst, src []float32) { Gelu(dst, src, math.Sqrt2, false) }, func(dst, src []float32) {
		for i, x := range src {
			dst[i] = geluRef(x, math.Sqrt2, false)
		}
	})
}

func BenchmarkExp(b *testing.B) {
	benchElementwise(b, 10, Exp, func(dst, src []float32) {
		for i, x := range src {
			dst[i] = float32(math.Exp(float64(x)))
		}
	})
}

// BenchmarkSoftmaxRow: one 128-element row, 8192 rows of 128 (1M
// elements), and one row of 1M (the path that computes e twice).
func BenchmarkSoftmaxRow(b *testing.B) {
	for _, shape := range []struct {
		name       string
		rows, cols int
	}{{"row128", 1, 128}, {"rows128x8192", 8192, 128}, {"row1M", 1, 1 << 20}} {
		n := shape.rows * shape.cols
		src := benchData(n, 3)
		dst := make([]float32, n)
		e := make([]float64, shape.cols)
		for _, name := range append(pathList(), "ref") {
			b.Run(shape.name+"/"+name, func(b *testing.B) {
				if name != "ref" {
					defer setPath(name)()
				}
				b.SetBytes(int64(8 * n))
				b.ReportAllocs()
				for b.Loop() {
					for r := 0; r < n; r += shape.cols {
						if name == "ref" {
							softmaxRef(dst[r:r+shape.cols], src[r:r+shape.cols], e)
						} else {
							SoftmaxRow(dst[r:r+shape.cols], src[r:r+shape.cols])
						}
					}
				}
				reportPerElem(b, n)
			})
		}
	}
}
