//go:build blas && cgo

package cblas

// Linked as -lblas: on Debian that is whichever implementation the
// libblas.so.3 alternative selects (OpenBLAS once libopenblas-dev is
// installed). Override with CGO_LDFLAGS, e.g. CGO_LDFLAGS=-lopenblas.

/*
#cgo LDFLAGS: -lblas
#include <cblas.h>

// OpenBLAS's thread control, when the linked BLAS is OpenBLAS.
extern void openblas_set_num_threads(int) __attribute__((weak));

static int set_threads(int n) {
	if (openblas_set_num_threads) {
		openblas_set_num_threads(n);
		return 1;
	}
	return 0;
}
*/
import "C"

import "unsafe"

// Available reports whether the binding is compiled in.
const Available = true

// SetThreads sets the BLAS's thread count where it is OpenBLAS and
// reports whether it could.
func SetThreads(n int) bool { return C.set_threads(C.int(n)) != 0 }

func trans(t bool) C.enum_CBLAS_TRANSPOSE {
	if t {
		return C.CblasTrans
	}
	return C.CblasNoTrans
}

// Sgemm calls cblas_sgemm in row-major order. a, b and c point at the first
// element of each matrix (nil when the matrix is not referenced).
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a *float32, lda int, b *float32, ldb int, beta float32, c *float32, ldc int) {
	C.cblas_sgemm(C.CblasRowMajor, trans(transA), trans(transB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(unsafe.Pointer(a)), C.blasint(lda), (*C.float)(unsafe.Pointer(b)), C.blasint(ldb),
		C.float(beta), (*C.float)(unsafe.Pointer(c)), C.blasint(ldc))
}

// Dgemm calls cblas_dgemm in row-major order; see Sgemm.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a *float64, lda int, b *float64, ldb int, beta float64, c *float64, ldc int) {
	C.cblas_dgemm(C.CblasRowMajor, trans(transA), trans(transB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.double(alpha), (*C.double)(unsafe.Pointer(a)), C.blasint(lda), (*C.double)(unsafe.Pointer(b)), C.blasint(ldb),
		C.double(beta), (*C.double)(unsafe.Pointer(c)), C.blasint(ldc))
}
