// Package gemm is a pure-Go (no cgo) dense matrix multiply for float32 and
// float64, written for the native inference backend.
//
// All matrices are row-major. The core operation is the BLAS level-3 GEMM
//
//	C = alpha·op(A)·op(B) + beta·C
//
// where op(X) is X or Xᵀ, op(A) is m×k, op(B) is k×n and C is m×n. Transposed
// operands are read in place through their leading dimension; the only copies
// made are the packed panels described below.
//
// # Algorithm
//
// The implementation follows the GotoBLAS/BLIS scheme. The k dimension is
// cut into KC-deep slices, n into NC-wide and m into MC-tall blocks. For each
// slice, B is packed into NR-column micro-panels (KC×NR, contiguous) and A
// into MR-row micro-panels (KC×MR, contiguous); an assembly micro-kernel then
// accumulates one MR×NR tile of C in registers over the whole slice and
// applies alpha and beta as it stores.
//
// Packing is skipped where it buys nothing: a non-transposed A is read in
// place by the kernels (they broadcast one element of each row per step, so
// contiguous rows are all they need), and a non-transposed B is read in
// place when a block has at most two row panels (packing would cost as much
// as the multiply, as in one-row generation steps). Partial row panels are
// computed by edge kernels of 8, 4, 2 and 1 rows straight into C; partial
// column panels go through a small tile buffer.
//
// Micro-kernels, chosen once at start-up from the CPU features ([KernelName]
// reports the choice):
//
//	kernel        float32 tile  float64 tile  KC   MC (f32/f64)  NC (f32/f64)
//	AVX-512F      12×32 (ZMM)   12×16 (ZMM)   512  192/96        4096/2048
//	AVX2+FMA      6×16 (YMM)    6×8 (YMM)     512  144/72        4096/2048
//	Go (portable) 4×4           4×4           256  128/96        2048/1024
//
// The Go kernel is used on other CPUs, on other architectures and under the
// purego build tag.
//
// # Semantics
//
// As in the reference BLAS: when beta is zero C is overwritten and its old
// contents (NaN or Inf included) are never read; when alpha is zero or k is
// zero, A and B are not read and C is scaled by beta. Otherwise NaN and Inf
// in A or B propagate through IEEE arithmetic (zero padding of partial
// panels only ever meets values whose products are discarded). Denormals are handled by the hardware at full IEEE semantics (Go never sets
// flush-to-zero); they are slow on some CPUs but never wrong.
//
// # Determinism and threads
//
// Work is split over blocks of C (whole MR×NR tiles, and batch entries),
// never over k, and every element of C is computed by the same sequence of
// operations whatever the partition, and whether operands were packed,
// pre-packed or read in place: results are bit-identical for any [Runner]
// and any number of workers. They can differ between kernels (AVX-512, AVX2,
// Go) in the last bits, as any change of summation order does. A batched
// call gives the same bits as one call per entry.
//
// # Memory
//
// Packing buffers and per-call state come from bounded free lists per
// element type (not a sync.Pool, which garbage collection empties), sized to
// what a call needs and at most KC×NC + MC×KC elements per concurrently
// running task: 8.4 MiB for float32 with AVX-512, 1 MiB for a 128×512 block.
// Steady-state calls therefore make no heap allocations, with a nil runner
// or the package's [Pool], even in a program that collects garbage between
// calls; [ReleaseBuffers] drops the cached buffers. A broadcast B of a
// batched call is packed once per call into such a buffer.
//
// [PackB] trades memory for time on constant operands: the packed copy
// costs k×roundup(n, NR) elements (see [PackedB.Bytes]) and saves all
// packing of B at call time.
//
// # System BLAS
//
// Built with the blas tag (and cgo), [Gemm], [GemmStrided] and the packed
// variants route to the system CBLAS (cblas_sgemm/cblas_dgemm, e.g.
// OpenBLAS); the default build is pure Go. See blas_cgo.go.
package gemm

import "fmt"

// Float is the element type of the matrices: float32 or float64.
type Float interface {
	float32 | float64
}

// Gemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices, where
// op(A) is m×k (A is m×k with lda ≥ max(1,k), or k×m with lda ≥ max(1,m) when
// transA), op(B) is k×n (k×n with ldb ≥ max(1,n), or n×k with ldb ≥ max(1,k)
// when transB), and C is m×n with ldc ≥ max(1,n).
//
// r supplies the workers; nil runs everything on the calling goroutine. The
// result does not depend on r. C must not overlap A or B. Gemm panics on
// inconsistent dimensions or slices too short for them.
func Gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int, r Runner) {
	GemmStrided(transA, transB, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc, 0, 1, r)
}

// GemmStrided computes batch independent products
//
//	C[i] = alpha·op(A[i])·op(B[i]) + beta·C[i],  i = 0..batch-1
//
// where X[i] is the matrix starting at x[i*strideX] with the layout described
// for [Gemm]. A stride of zero broadcasts that operand to every batch entry
// (NumPy-style broadcast MatMul without copies); strideC must not make the
// C matrices overlap. Strides are in elements and must be ≥ 0.
func GemmStrided[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda, strideA int, b []T, ldb, strideB int, beta T, c []T, ldc, strideC int, batch int, r Runner) {
	checkStrided("GemmStrided", transA, transB, m, n, k, len(a), lda, strideA, len(b), ldb, strideB, len(c), ldc, strideC, batch)
	if blasGemm(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batch, r) {
		return
	}
	gemmGo(transA, transB, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, nil, beta, c, ldc, strideC, batch, r)
}

// Sgemm is [Gemm] for float32.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, r Runner) {
	Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, r)
}

// Dgemm is [Gemm] for float64.
func Dgemm(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int, r Runner) {
	Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, r)
}

// KernelName names the micro-kernel the package uses for T on this machine,
// e.g. "avx512-12x32", "avx2-6x16" or "go-4x4".
func KernelName[T Float]() string {
	return activeKernel[T]().name
}

// extent is the number of elements a rows×cols matrix with leading dimension
// ld spans, or 0 when it is empty.
func extent(rows, cols, ld int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (rows-1)*ld + cols
}

func checkStrided(name string, transA, transB bool, m, n, k, la, lda, sa, lb, ldb, sb, lc, ldc, sc, batch int) {
	if m < 0 || n < 0 || k < 0 || batch < 0 {
		panic(fmt.Sprintf("gemm: %s: negative dimension m=%d n=%d k=%d batch=%d", name, m, n, k, batch))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if lda < max(1, ac) {
		panic(fmt.Sprintf("gemm: %s: lda=%d < %d", name, lda, max(1, ac)))
	}
	if ldb < max(1, bc) {
		panic(fmt.Sprintf("gemm: %s: ldb=%d < %d", name, ldb, max(1, bc)))
	}
	if ldc < max(1, n) {
		panic(fmt.Sprintf("gemm: %s: ldc=%d < %d", name, ldc, max(1, n)))
	}
	if sa < 0 || sb < 0 || sc < 0 {
		panic(fmt.Sprintf("gemm: %s: negative stride", name))
	}
	if batch == 0 || m == 0 || n == 0 {
		return
	}
	ec := extent(m, n, ldc)
	if batch > 1 && sc < ec {
		panic(fmt.Sprintf("gemm: %s: strideC=%d makes C matrices overlap (extent %d)", name, sc, ec))
	}
	if need := (batch-1)*sc + ec; lc < need {
		panic(fmt.Sprintf("gemm: %s: len(c)=%d < %d", name, lc, need))
	}
	if k == 0 {
		return
	}
	if need := (batch-1)*sa + extent(ar, ac, lda); la < need {
		panic(fmt.Sprintf("gemm: %s: len(a)=%d < %d", name, la, need))
	}
	if lb >= 0 { // lb < 0: B is pre-packed and checked by the caller
		if need := (batch-1)*sb + extent(br, bc, ldb); lb < need {
			panic(fmt.Sprintf("gemm: %s: len(b)=%d < %d", name, lb, need))
		}
	}
}
