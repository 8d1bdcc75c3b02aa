//go:build !blas || !cgo

package gemm

// blasEnabled reports whether calls route to a system BLAS (blas build tag).
const blasEnabled = false

func blasGemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda, strideA int, b []T, ldb, strideB int, beta T, c []T, ldc, strideC int, batch int, r Runner) bool {
	return false
}
