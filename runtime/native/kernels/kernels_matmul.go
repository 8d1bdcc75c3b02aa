package kernels

import (
	"fmt"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/internal/gemm"
)

// runner returns the GEMM runner of the context: its worker pool, or nil
// (the calling goroutine).
func (ec *ExecContext) runner() gemm.Runner {
	if ec == nil || ec.Workers == nil || ec.Workers.Threads() <= 1 {
		return nil
	}
	return ec.Workers
}

// gemmJob is one matrix product of a batch: C = A·B (A m×k, B k×n, each
// optionally stored transposed), at element offsets into shared arrays.
type gemmJob struct{ a, b, c int }

// uniform reports whether the jobs' offsets advance by fixed strides (0
// for a broadcast operand), and returns the strides: such a batch is one
// strided GEMM call.
func uniform(jobs []gemmJob) (sa, sb, sc int, ok bool) {
	if len(jobs) == 0 || jobs[0] != (gemmJob{}) {
		return 0, 0, 0, false
	}
	if len(jobs) == 1 {
		return 0, 0, 0, true
	}
	sa, sb, sc = jobs[1].a, jobs[1].b, jobs[1].c
	for i, j := range jobs {
		if j.a != i*sa || j.b != i*sb || j.c != i*sc {
			return 0, 0, 0, false
		}
	}
	return sa, sb, sc, true
}

// batchGemmFloat computes every job's product with the package gemm, as
// one strided call when the batch is uniform.
func batchGemmFloat[T gemm.Float](ec *ExecContext, transA, transB bool, m, n, k int, a, b, c []T, jobs []gemmJob) {
	if m == 0 || n == 0 || len(jobs) == 0 {
		return
	}
	if k == 0 {
		for _, j := range jobs {
			clear(c[j.c : j.c+m*n])
		}
		return
	}
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	r := ec.runner()
	if m == 1 && !transA && !transB {
		// Vector-matrix products (a decode step's attention over a KV
		// cache read in place): gemm.Gemv streams B's rows.
		one := func(i int) {
			j := jobs[i]
			gemm.Gemv(k, n, a[j.a:j.a+k], b[j.b:j.b+k*n], n, c[j.c:j.c+n])
		}
		if r != nil && len(jobs) > 1 && float64(k)*float64(n)*float64(len(jobs)) >= 1<<18 {
			r.Run(len(jobs), one)
			return
		}
		for i := range jobs {
			one(i)
		}
		return
	}
	if sa, sb, sc, ok := uniform(jobs); ok {
		gemm.GemmStrided(transA, transB, m, n, k, 1, a, lda, sa, b, ldb, sb, 0, c, n, sc, len(jobs), r)
		return
	}
	for _, j := range jobs {
		gemm.Gemm(transA, transB, m, n, k, 1, a[j.a:j.a+m*k], lda, b[j.b:j.b+k*n], ldb, 0, c[j.c:j.c+m*n], n, r)
	}
}

// batchGemmNaive is the reference product for integer types.
func batchGemmNaive[T numeric](transA, transB bool, m, n, k int, a, b, c []T, jobs []gemmJob) {
	for _, j := range jobs {
		for i := 0; i < m; i++ {
			for l := 0; l < n; l++ {
				var s T
				for p := 0; p < k; p++ {
					ai := j.a + i*k + p
					if transA {
						ai = j.a + p*m + i
					}
					bi := j.b + p*n + l
					if transB {
						bi = j.b + l*k + p
					}
					s += a[ai] * b[bi]
				}
				c[j.c+i*n+l] = s
			}
		}
	}
}

// batchGemm dispatches a batch of products on the element type of a.
func batchGemm(ec *ExecContext, transA, transB bool, m, n, k int, a, b, c *tensor.Dense, jobs []gemmJob) error {
	switch a.Dtype() {
	case tensor.Float32:
		batchGemmFloat(ec, transA, transB, m, n, k, view[float32](a), view[float32](b), view[float32](c), jobs)
	case tensor.Float64:
		batchGemmFloat(ec, transA, transB, m, n, k, view[float64](a), view[float64](b), view[float64](c), jobs)
	case tensor.Int64:
		batchGemmNaive(transA, transB, m, n, k, view[int64](a), view[int64](b), view[int64](c), jobs)
	case tensor.Int32:
		batchGemmNaive(transA, transB, m, n, k, view[int32](a), view[int32](b), view[int32](c), jobs)
	case tensor.Uint64:
		batchGemmNaive(transA, transB, m, n, k, view[uint64](a), view[uint64](b), view[uint64](c), jobs)
	case tensor.Uint32:
		batchGemmNaive(transA, transB, m, n, k, view[uint32](a), view[uint32](b), view[uint32](c), jobs)
	default:
		return fmt.Errorf("matrix product does not support element type %s", dtName(a.Dtype()))
	}
	return nil
}

// matmul multiplies like numpy.matmul: 1-D operands are promoted to
// matrices (and the added dimension removed again), leading dimensions
// broadcast.
func matmul(ec *ExecContext, a, b *tensor.Dense) (*tensor.Dense, error) {
	if err := sameType(a, b); err != nil {
		return nil, err
	}
	as, bs := shapeOf(a), shapeOf(b)
	if len(as) == 0 || len(bs) == 0 {
		return nil, fmt.Errorf("MatMul inputs must have rank ≥ 1, got shapes %v and %v", as, bs)
	}
	aVec, bVec := len(as) == 1, len(bs) == 1
	if aVec {
		as = []int{1, as[0]}
	}
	if bVec {
		bs = []int{bs[0], 1}
	}
	m, k := as[len(as)-2], as[len(as)-1]
	k2, n := bs[len(bs)-2], bs[len(bs)-1]
	if k != k2 {
		return nil, fmt.Errorf("MatMul shapes %v and %v do not match: inner dimensions %d and %d", a.Shape(), b.Shape(), k, k2)
	}
	batch, err := broadcastShape(as[:len(as)-2], bs[:len(bs)-2])
	if err != nil {
		return nil, fmt.Errorf("MatMul batch dimensions: %w", err)
	}
	if len(bs) == 2 && !bVec && isFloat(a.Dtype()) && (a.Dtype() == tensor.Float32 || a.Dtype() == tensor.Float64) {
		// [..., m, k] · [k, n]: the batch folds into the rows of one GEMM.
		rows := numel(batch) * m
		outShape := append(append([]int{}, batch...), m, n)
		if aVec {
			outShape = []int{n}
		}
		out := ec.allocUninit(a.Dtype(), outShape)
		if err := batchGemm(ec, false, false, rows, n, k, a, b, out, []gemmJob{{}}); err != nil {
			return nil, err
		}
		return out, nil
	}
	jobs := batchJobs(ec, batch, as[:len(as)-2], bs[:len(bs)-2], m*k, k*n, m*n)
	outShape := append(append([]int{}, batch...), m, n)
	out := ec.alloc(a.Dtype(), outShape)
	if err := batchGemm(ec, false, false, m, n, k, a, b, out, jobs); err != nil {
		return nil, err
	}
	switch {
	case aVec && bVec:
		outShape = batch
	case aVec:
		outShape = append(append([]int{}, batch...), n)
	case bVec:
		outShape = append(append([]int{}, batch...), m)
	default:
		return out, nil
	}
	return reshaped(out, outShape), nil
}

// packedB is a constant right operand packed for the GEMM.
type packedB struct {
	src  *tensor.Dense // the constant it was packed from
	k, n int
	f32  *gemm.PackedB[float32]
	f64  *gemm.PackedB[float64]
}

// packConst packs a constant 2-D float matrix, or returns nil.
func packConst(b *tensor.Dense) *packedB {
	if b == nil || b.Dims() != 2 {
		return nil
	}
	k, n := b.Shape()[0], b.Shape()[1]
	if k == 0 || n == 0 {
		return nil
	}
	p := &packedB{src: b, k: k, n: n}
	switch b.Dtype() {
	case tensor.Float32:
		p.f32 = gemm.PackB(false, k, n, view[float32](b), n)
	case tensor.Float64:
		p.f64 = gemm.PackB(false, k, n, view[float64](b), n)
	default:
		return nil
	}
	return p
}

// matmulPacked is matmul of a by a packed constant matrix: a's leading
// dimensions fold into the rows of one GEMM.
func matmulPacked(ec *ExecContext, a *tensor.Dense, b *packedB) (*tensor.Dense, error) {
	if a.Dtype() != b.src.Dtype() {
		return nil, fmt.Errorf("inputs have different element types: %s and %s (insert a Cast)", dtName(a.Dtype()), dtName(b.src.Dtype()))
	}
	as := shapeOf(a)
	if len(as) == 0 {
		return nil, fmt.Errorf("MatMul inputs must have rank ≥ 1, got shapes %v and %v", as, b.src.Shape())
	}
	if k := as[len(as)-1]; k != b.k {
		return nil, fmt.Errorf("MatMul shapes %v and %v do not match: inner dimensions %d and %d", a.Shape(), b.src.Shape(), k, b.k)
	}
	m := numel(as[:len(as)-1])
	outShape := append(as[:len(as)-1:len(as)-1], b.n)
	out := ec.allocUninit(a.Dtype(), outShape)
	if m > 0 {
		switch {
		case b.f32 != nil:
			gemm.GemmPacked(false, m, 1, view[float32](a), b.k, b.f32, 0, view[float32](out), b.n, ec.runner())
		default:
			gemm.GemmPacked(false, m, 1, view[float64](a), b.k, b.f64, 0, view[float64](out), b.n, ec.runner())
		}
	}
	return out, nil
}

// batchJobs lists the products of a broadcast batch: the element offsets
// of each product's operands (matrices of asize and bsize elements) and
// result (csize).
func batchJobs(ec *ExecContext, batch, abatch, bbatch []int, asize, bsize, csize int) []gemmJob {
	nb := numel(batch)
	jobs := allocSlice[gemmJob](ec, nb, "MatMul batch")[:0]
	if nb == 0 {
		return jobs
	}
	p := planTo(batch, abatch, bbatch)
	p.each(func(o int, offs []int) {
		for i := 0; i < p.inner; i++ {
			jobs = append(jobs, gemmJob{
				a: (offs[0] + i*p.istr[0]) * asize,
				b: (offs[1] + i*p.istr[1]) * bsize,
				c: (o + i) * csize,
			})
		}
	})
	return jobs
}
