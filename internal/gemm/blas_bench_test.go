//go:build blas && cgo

package gemm

import "github.com/xt2onnx/xt2onnx/internal/gemm/internal/cblas"

// Under the blas tag the benchmarks also time the system BLAS, through the
// same exported entry points the blas build routes to.
func init() {
	impls32 = append(impls32, impl32{"blas", func(tA, tB bool, m, n, k int, a []float32, lda, sa int, b []float32, ldb, sb int, c []float32, ldc, sc, batch int, r Runner) {
		GemmStrided(tA, tB, m, n, k, 1, a, lda, sa, b, ldb, sb, 0, c, ldc, sc, batch, r)
	}})
	impls64 = append(impls64, impl64{"blas", func(tA, tB bool, m, n, k int, a []float64, lda, sa int, b []float64, ldb, sb int, c []float64, ldc, sc, batch int, r Runner) {
		GemmStrided(tA, tB, m, n, k, 1, a, lda, sa, b, ldb, sb, 0, c, ldc, sc, batch, r)
	}})
	setBLASThreads = func(n int) { cblas.SetThreads(n) }
}
