package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemv checks Gemv against a float64 reference over the shapes its
// kernels split on: row groups of 4 and the rest, 8-wide vectors and the
// scalar tail, the 64-column register kernel, and padded rows (ldb > n).
func TestGemv(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, mode := range []int{gemvAuto, gemvGo} {
		for _, k := range []int{0, 1, 3, 4, 5, 17, 64, 1025} {
			for _, n := range []int{1, 7, 8, 9, 63, 64, 65, 128, 129, 1024} {
				for _, pad := range []int{0, 3} {
					name := fmt.Sprintf("mode%d/k%d/n%d/ldb+%d", mode, k, n, pad)
					t.Run(name, func(t *testing.T) {
						gemvMode = mode
						defer func() { gemvMode = gemvAuto }()
						ldb := n + pad
						a := make([]float32, k)
						b := make([]float32, max(0, (k-1)*ldb+n))
						for i := range a {
							a[i] = float32(rng.NormFloat64())
						}
						for i := range b {
							b[i] = float32(rng.NormFloat64())
						}
						c := make([]float32, n+1)
						for i := range c {
							c[i] = 42 // overwritten, except the element past n
						}
						Gemv(k, n, a, b, ldb, c)
						for j := range n {
							var want, mag float64
							for p := range k {
								want += float64(a[p]) * float64(b[p*ldb+j])
								mag += math.Abs(float64(a[p]) * float64(b[p*ldb+j]))
							}
							if d := math.Abs(float64(c[j]) - want); d > 1e-6*mag+1e-30 {
								t.Fatalf("c[%d] = %g, want %g (|diff| %g, Σ|terms| %g)", j, c[j], want, d, mag)
							}
						}
						if c[n] != 42 {
							t.Errorf("c[%d] = %g: Gemv wrote past n", n, c[n])
						}
					})
				}
			}
		}
	}
}

// TestGemvFloat64 covers the portable path of the other element type.
func TestGemvFloat64(t *testing.T) {
	a := []float64{1, 2, 3}
	b := []float64{1, 0, 0, 5, 2, 0, 0, 5, 3, 9, 9} // rows of 3, ldb 4 (the 5s are padding)
	c := make([]float64, 3)
	Gemv(3, 3, a, b, 4, c)
	if want := []float64{1*1 + 2*2 + 3*3, 3 * 9, 3 * 9}; fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("Gemv = %v, want %v", c, want)
	}
}

func TestGemvPanics(t *testing.T) {
	for _, tt := range []struct {
		name       string
		k, n, ldb  int
		la, lb, lc int
	}{
		{"ldb < n", 2, 4, 3, 2, 8, 4},
		{"short a", 2, 4, 4, 1, 8, 4},
		{"short b", 2, 4, 4, 2, 7, 4},
		{"short c", 2, 4, 4, 2, 8, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			Gemv(tt.k, tt.n, make([]float32, tt.la), make([]float32, tt.lb), tt.ldb, make([]float32, tt.lc))
		})
	}
}

// BenchmarkGemv compares Gemv with the blocked GEMM on a decode step's
// attention over a KV cache of 1,024 positions (8 heads of 64), read cold:
// the cache is one of 48 copies cycled through, 96 MiB in all, more than
// the last-level cache. "qk" is q·Kᵀ with the keys stored transposed
// (64×1024 per head), "av" the weights times the values (1024×64).
func BenchmarkGemv(b *testing.B) {
	const h, d, n, copies = 8, 64, 1024, 48
	q := make([]float32, h*d)
	bufs := make([][]float32, copies)
	for c := range bufs {
		bufs[c] = make([]float32, h*d*n)
		for i := range bufs[c] {
			bufs[c][i] = float32(i%7) * 0.1
		}
	}
	s := make([]float32, h*n)
	o := make([]float32, h*d)
	i := 0
	for _, tt := range []struct {
		name string
		run  func(buf []float32)
	}{
		{"qk/gemm", func(buf []float32) { GemmStrided(false, false, 1, n, d, 1, q, d, d, buf, n, d*n, 0, s, n, n, h, nil) }},
		{"qk/gemv", func(buf []float32) {
			for j := range h {
				Gemv(d, n, q[j*d:], buf[j*d*n:], n, s[j*n:])
			}
		}},
		{"av/gemm", func(buf []float32) { GemmStrided(false, false, 1, d, n, 1, s, n, n, buf, d, d*n, 0, o, d, d, h, nil) }},
		{"av/gemv", func(buf []float32) {
			for j := range h {
				Gemv(n, d, s[j*n:], buf[j*d*n:], d, o[j*d:])
			}
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.SetBytes(int64(h * d * n * 4))
			for b.Loop() {
				i = (i + 1) % copies
				tt.run(bufs[i])
			}
		})
	}
}
