package gemm

import (
	"fmt"
	"unsafe"
)

// PackedB is a k×n right-hand operand packed once into the micro-kernel's
// panel layout, for constant operands such as model weights. Multiplying by
// it ([GemmPacked]) skips all packing of B and gives bit-identical results
// to [Gemm] with the original matrix.
//
// A PackedB is immutable and safe for concurrent use. It is tied to the
// micro-kernel active when it was packed. Its memory cost is
// k × roundup(n, NR) elements, NR being the kernel's tile width (32 for
// float32 and 16 for float64 with AVX-512, 16 and 8 with AVX2, 4 in Go):
// at most NR-1 padding columns more than the matrix itself; [PackedB.Bytes]
// reports it. Built with the blas tag it also keeps a plain row-major copy
// of op(B) for the system BLAS, doubling that.
type PackedB[T Float] struct {
	k, n, nPad int
	ker        *kernel[T]
	data       []T
	raw        []T // blas build only: op(B) as a k×n row-major matrix
}

// PackB packs op(B) (k×n; B is k×n with ldb ≥ max(1,n), or n×k with
// ldb ≥ max(1,k) when transB) for use with [GemmPacked]. b is not retained.
func PackB[T Float](transB bool, k, n int, b []T, ldb int) *PackedB[T] {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("gemm: PackB: negative dimension k=%d n=%d", k, n))
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if ldb < max(1, bc) {
		panic(fmt.Sprintf("gemm: PackB: ldb=%d < %d", ldb, max(1, bc)))
	}
	if need := extent(br, bc, ldb); len(b) < need {
		panic(fmt.Sprintf("gemm: PackB: len(b)=%d < %d", len(b), need))
	}
	p := &PackedB[T]{}
	p.pack(activeKernel[T](), transB, k, n, b, ldb, nil)
	if blasEnabled {
		p.raw = make([]T, k*n)
		for i := 0; i < k; i++ {
			for j := 0; j < n; j++ {
				if transB {
					p.raw[i*n+j] = b[j*ldb+i]
				} else {
					p.raw[i*n+j] = b[i*ldb+j]
				}
			}
		}
	}
	return p
}

// pack fills p from op(B), reusing buf when it is large enough.
func (p *PackedB[T]) pack(ker *kernel[T], transB bool, k, n int, b []T, ldb int, buf []T) {
	p.k, p.n, p.ker = k, n, ker
	p.nPad = roundUp(n, ker.nr)
	p.data = grow(buf, k*p.nPad)
	for pc := 0; pc < k; pc += ker.kc {
		kc := min(ker.kc, k-pc)
		packB(p.data[pc*p.nPad:(pc+kc)*p.nPad], b, ldb, transB, pc, 0, kc, n, ker.nr)
	}
}

// K returns the number of rows of op(B).
func (p *PackedB[T]) K() int { return p.k }

// N returns the number of columns of op(B).
func (p *PackedB[T]) N() int { return p.n }

// Bytes returns the memory held by the packed operand.
func (p *PackedB[T]) Bytes() int {
	var z T
	return (cap(p.data) + cap(p.raw)) * int(unsafe.Sizeof(z))
}

// panels returns the packed micro-panels for depth [pc,pc+kc) and columns
// [jc,jc+nc); jc is a multiple of NR and kc the slice depth used to pack.
func (p *PackedB[T]) panels(pc, jc, kc, nc int) []T {
	nr := p.ker.nr
	off := pc*p.nPad + (jc/nr)*kc*nr
	return p.data[off : off+kc*roundUp(nc, nr)]
}

// GemmPacked computes C = alpha·op(A)·B + beta·C with a pre-packed B
// (k×n, k and n taken from b); see [Gemm] for the layouts of A and C.
func GemmPacked[T Float](transA bool, m int, alpha T, a []T, lda int, b *PackedB[T], beta T, c []T, ldc int, r Runner) {
	GemmPackedStrided(transA, m, alpha, a, lda, 0, b, beta, c, ldc, 0, 1, r)
}

// GemmPackedStrided is [GemmStrided] with one pre-packed B shared by every
// batch entry: C[i] = alpha·op(A[i])·B + beta·C[i].
func GemmPackedStrided[T Float](transA bool, m int, alpha T, a []T, lda, strideA int, b *PackedB[T], beta T, c []T, ldc, strideC, batch int, r Runner) {
	n, k := b.n, b.k
	checkStrided("GemmPackedStrided", transA, false, m, n, k, len(a), lda, strideA, -1, max(1, n), 0, len(c), ldc, strideC, batch)
	if blasEnabled && blasGemm(transA, false, m, n, k, alpha, a, lda, strideA, b.raw, max(1, n), 0, beta, c, ldc, strideC, batch, r) {
		return
	}
	gemmGo(transA, false, m, n, k, alpha, a, lda, strideA, nil, 0, 0, b, beta, c, ldc, strideC, batch, r)
}

// packBPooled packs op(B) into a cached PackedB (for a broadcast operand
// of a batched call); release it with releasePackedB.
func packBPooled[T Float](transB bool, k, n int, b []T, ldb int) *PackedB[T] {
	p := types[T]().packed.get()
	if p == nil {
		p = new(PackedB[T])
	}
	p.pack(activeKernel[T](), transB, k, n, b, ldb, p.data)
	return p
}

func releasePackedB[T Float](p *PackedB[T]) { types[T]().packed.put(p) }
