package kernels

import (
	"fmt"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gorgonia.org/tensor"
)

// parallelFor runs fn(i) for i in [0, n) on at most GOMAXPROCS goroutines.
// work estimates the cost of one call (in multiply-adds); small jobs run
// on the calling goroutine.
func parallelFor(n int, work int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 || n*work < 1<<16 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	var panicked any
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					panicked = r
					mu.Unlock()
				}
			}()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
	if panicked != nil {
		// Re-raise on the caller's goroutine, where the kernel boundary
		// recovers it into an error.
		panic(panicked)
	}
}

// gemmJob is one matrix product of a batch: C = A·B (A m×k, B k×n, each
// optionally stored transposed), at element offsets into shared arrays.
type gemmJob struct{ a, b, c int }

// batchGemm32 computes every job's product with single-precision BLAS.
func batchGemm32(transA, transB bool, m, n, k int, a, b, c []float32, jobs []gemmJob) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	lda, ldb := k, n
	if transA {
		ta, lda = blas.Trans, m
	}
	if transB {
		tb, ldb = blas.Trans, k
	}
	parallelFor(len(jobs), m*n*k, func(i int) {
		j := jobs[i]
		if k == 0 {
			clear(c[j.c : j.c+m*n])
			return
		}
		ar, ac := m, k
		if transA {
			ar, ac = k, m
		}
		br, bc := k, n
		if transB {
			br, bc = n, k
		}
		blas32.Gemm(ta, tb, 1,
			blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a[j.a : j.a+m*k]},
			blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: b[j.b : j.b+k*n]},
			0, blas32.General{Rows: m, Cols: n, Stride: n, Data: c[j.c : j.c+m*n]})
	})
}

// batchGemm64 is batchGemm32 in double precision.
func batchGemm64(transA, transB bool, m, n, k int, a, b, c []float64, jobs []gemmJob) {
	if m == 0 || n == 0 {
		return
	}
	ta, tb := blas.NoTrans, blas.NoTrans
	lda, ldb := k, n
	if transA {
		ta, lda = blas.Trans, m
	}
	if transB {
		tb, ldb = blas.Trans, k
	}
	parallelFor(len(jobs), m*n*k, func(i int) {
		j := jobs[i]
		if k == 0 {
			clear(c[j.c : j.c+m*n])
			return
		}
		ar, ac := m, k
		if transA {
			ar, ac = k, m
		}
		br, bc := k, n
		if transB {
			br, bc = n, k
		}
		blas64.Gemm(ta, tb, 1,
			blas64.General{Rows: ar, Cols: ac, Stride: lda, Data: a[j.a : j.a+m*k]},
			blas64.General{Rows: br, Cols: bc, Stride: ldb, Data: b[j.b : j.b+k*n]},
			0, blas64.General{Rows: m, Cols: n, Stride: n, Data: c[j.c : j.c+m*n]})
	})
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
func batchGemm(transA, transB bool, m, n, k int, a, b, c *tensor.Dense, jobs []gemmJob) error {
	switch a.Dtype() {
	case tensor.Float32:
		batchGemm32(transA, transB, m, n, k, view[float32](a), view[float32](b), view[float32](c), jobs)
	case tensor.Float64:
		batchGemm64(transA, transB, m, n, k, view[float64](a), view[float64](b), view[float64](c), jobs)
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
	jobs := batchJobs(ec, batch, as[:len(as)-2], bs[:len(bs)-2], m*k, k*n, m*n)
	outShape := append(append([]int{}, batch...), m, n)
	out := ec.alloc(a.Dtype(), outShape)
	if err := batchGemm(false, false, m, n, k, a, b, out, jobs); err != nil {
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
