package gemm

// The benchmarks report GFLOP/s (2·m·n·k·batch per call) and allocations.
// The machine is usually shared, so run them short and repeated and quote
// medians:
//
//	go test -run '^$' -bench 'Sgemm512|Dgemm512|Gonum512|Decoder' \
//		-benchtime 200ms -count 5 ./internal/gemm/
//
// With -tags blas (cgo, and a CBLAS such as Debian's libopenblas-dev) every
// shape also runs through the system BLAS ("blas" sub-benchmarks, threads set
// to match through openblas_set_num_threads). OpenBLAS picks its kernels
// from OPENBLAS_CORETYPE when set; unset it (and OPENBLAS_L2_SIZE) in that
// command to measure the kernels it would choose for the CPU.

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// impl32/impl64 are the implementations benchmarked side by side: the pure
// Go one always, the system BLAS under the blas tag (blas_bench_test.go).
type impl32 struct {
	name string
	run  func(tA, tB bool, m, n, k int, a []float32, lda, sa int, b []float32, ldb, sb int, c []float32, ldc, sc, batch int, r Runner)
}

type impl64 struct {
	name string
	run  func(tA, tB bool, m, n, k int, a []float64, lda, sa int, b []float64, ldb, sb int, c []float64, ldc, sc, batch int, r Runner)
}

var (
	impls32 = []impl32{{"go", func(tA, tB bool, m, n, k int, a []float32, lda, sa int, b []float32, ldb, sb int, c []float32, ldc, sc, batch int, r Runner) {
		gemmGo(tA, tB, m, n, k, 1, a, lda, sa, b, ldb, sb, nil, 0, c, ldc, sc, batch, r)
	}}}
	impls64 = []impl64{{"go", func(tA, tB bool, m, n, k int, a []float64, lda, sa int, b []float64, ldb, sb int, c []float64, ldc, sc, batch int, r Runner) {
		gemmGo(tA, tB, m, n, k, 1, a, lda, sa, b, ldb, sb, nil, 0, c, ldc, sc, batch, r)
	}}}
	// setBLASThreads sets the system BLAS's thread count (blas tag only).
	setBLASThreads = func(int) {}
)

func reportGFLOPS(b *testing.B, m, n, k, batch int) {
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(batch)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// benchShape describes one product: op(A) m×k times op(B) k×n, batch times.
// weight marks a constant B (benchmarked pre-packed too); broadcastB a B
// shared by the batch.
type benchShape struct {
	name       string
	m, n, k    int
	batch      int
	transB     bool
	weight     bool
	broadcastB bool
}

var decoderShapes = []benchShape{
	// Batch 1 × seq 128: projections of a dim-512, ff-2048 layer.
	{name: "qkvo_128x512x512", m: 128, n: 512, k: 512, batch: 1, weight: true},
	{name: "ff1_128x2048x512", m: 128, n: 2048, k: 512, batch: 1, weight: true},
	{name: "ff2_128x512x2048", m: 128, n: 512, k: 2048, batch: 1, weight: true},
	// Per-head attention, 8 heads of 64: scores Q·Kᵀ and probabilities·V.
	{name: "qk_128x128x64_b8", m: 128, n: 128, k: 64, batch: 8, transB: true},
	{name: "av_128x64x128_b8", m: 128, n: 64, k: 128, batch: 8},
	// Batch 8 × seq 512: fused QKV projection and attention.
	{name: "qkv_4096x1536x512", m: 4096, n: 1536, k: 512, batch: 1, weight: true},
	{name: "qk_512x512x64_b64", m: 512, n: 512, k: 64, batch: 64, transB: true},
	// Token-by-token generation with a KV cache: one row at a time.
	{name: "gen_1x512x512", m: 1, n: 512, k: 512, batch: 1, weight: true},
	{name: "gen_1x2048x512", m: 1, n: 2048, k: 512, batch: 1, weight: true},
}

func runnerFor(b *testing.B, threads int) Runner {
	if threads == 1 {
		return nil
	}
	p := NewPool(threads)
	b.Cleanup(p.Close)
	return p
}

func benchShape32(b *testing.B, s benchShape, threads int) {
	rng := rand.New(rand.NewPCG(1, 1))
	ldb := s.n
	if s.transB {
		ldb = s.k
	}
	sa, sb, sc := s.m*s.k, s.k*s.n, s.m*s.n
	if s.batch == 1 || s.broadcastB {
		sb = 0
	}
	a := randSlice[float32](rng, (s.batch-1)*sa+s.m*s.k)
	bm := randSlice[float32](rng, (s.batch-1)*sb+s.k*s.n)
	c := make([]float32, (s.batch-1)*sc+s.m*s.n)
	for _, im := range impls32 {
		b.Run(fmt.Sprintf("%s/t%d/%s", s.name, threads, im.name), func(b *testing.B) {
			r := runnerFor(b, threads)
			setBLASThreads(threads)
			im.run(false, s.transB, s.m, s.n, s.k, a, s.k, sa, bm, ldb, sb, c, s.n, sc, s.batch, r)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				im.run(false, s.transB, s.m, s.n, s.k, a, s.k, sa, bm, ldb, sb, c, s.n, sc, s.batch, r)
			}
			reportGFLOPS(b, s.m, s.n, s.k, s.batch)
		})
	}
	if s.weight {
		b.Run(fmt.Sprintf("%s/t%d/go-packed", s.name, threads), func(b *testing.B) {
			r := runnerFor(b, threads)
			pb := PackB(s.transB, s.k, s.n, bm, ldb)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				gemmGo(false, false, s.m, s.n, s.k, 1, a, s.k, sa, nil, 0, 0, pb, 0, c, s.n, sc, s.batch, r)
			}
			reportGFLOPS(b, s.m, s.n, s.k, s.batch)
		})
	}
}

// BenchmarkDecoder covers the products of a 6-layer, dim-512, 8-head
// (dim_head 64), ff-2048 decoder at batch 1 × seq 128 and batch 8 × seq 512,
// in float32, on 1 and 2 workers.
func BenchmarkDecoder(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, s := range decoderShapes {
			benchShape32(b, s, threads)
		}
	}
}

// BenchmarkSgemm512 is the 512³ float32 product on one core.
func BenchmarkSgemm512(b *testing.B) {
	benchShape32(b, benchShape{name: "512x512x512", m: 512, n: 512, k: 512, batch: 1}, 1)
}

// BenchmarkDgemm512 is the 512³ float64 product on one core.
func BenchmarkDgemm512(b *testing.B) {
	const n = 512
	rng := rand.New(rand.NewPCG(1, 1))
	a, bm, c := randSlice[float64](rng, n*n), randSlice[float64](rng, n*n), make([]float64, n*n)
	for _, im := range impls64 {
		b.Run("512x512x512/t1/"+im.name, func(b *testing.B) {
			setBLASThreads(1)
			for i := 0; i < b.N; i++ {
				im.run(false, false, n, n, n, a, n, 0, bm, n, 0, c, n, 0, 1, nil)
			}
			reportGFLOPS(b, n, n, n, 1)
		})
	}
}

// BenchmarkGonum512 is gonum's pure-Go BLAS at 512³ for context.
func BenchmarkGonum512(b *testing.B) {
	const n = 512
	rng := rand.New(rand.NewPCG(1, 1))
	b.Run("float32", func(b *testing.B) {
		a := blas32.General{Rows: n, Cols: n, Stride: n, Data: randSlice[float32](rng, n*n)}
		bm := blas32.General{Rows: n, Cols: n, Stride: n, Data: randSlice[float32](rng, n*n)}
		c := blas32.General{Rows: n, Cols: n, Stride: n, Data: make([]float32, n*n)}
		for i := 0; i < b.N; i++ {
			blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, a, bm, 0, c)
		}
		reportGFLOPS(b, n, n, n, 1)
	})
	b.Run("float64", func(b *testing.B) {
		a := blas64.General{Rows: n, Cols: n, Stride: n, Data: randSlice[float64](rng, n*n)}
		bm := blas64.General{Rows: n, Cols: n, Stride: n, Data: randSlice[float64](rng, n*n)}
		c := blas64.General{Rows: n, Cols: n, Stride: n, Data: make([]float64, n*n)}
		for i := 0; i < b.N; i++ {
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, a, bm, 0, c)
		}
		reportGFLOPS(b, n, n, n, 1)
	})
}
