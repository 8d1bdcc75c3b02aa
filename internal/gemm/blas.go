//go:build blas && cgo

package gemm

// With the blas build tag the exported GEMMs call the system CBLAS through
// internal/cblas. The BLAS threads itself (e.g. OPENBLAS_NUM_THREADS); the
// Runner is not used and batch entries run one after another.

import "github.com/xt2onnx/xt2onnx/internal/gemm/internal/cblas"

const blasEnabled = true

func elem[T Float](x []T, off int) *T {
	if off >= len(x) {
		return nil
	}
	return &x[off]
}

func blasGemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda, strideA int, b []T, ldb, strideB int, beta T, c []T, ldc, strideC int, batch int, r Runner) bool {
	if m == 0 || n == 0 || batch == 0 {
		return true
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < batch; i++ {
			scale(m, n, beta, c[i*strideC:], ldc)
		}
		return true
	}
	for i := 0; i < batch; i++ {
		pa, pb, pc := elem(a, i*strideA), elem(b, i*strideB), elem(c, i*strideC)
		switch any(alpha).(type) {
		case float32:
			cblas.Sgemm(transA, transB, m, n, k, float32(alpha), any(pa).(*float32), lda, any(pb).(*float32), ldb, float32(beta), any(pc).(*float32), ldc)
		default:
			cblas.Dgemm(transA, transB, m, n, k, float64(alpha), any(pa).(*float64), lda, any(pb).(*float64), ldb, float64(beta), any(pc).(*float64), ldc)
		}
	}
	return true
}
