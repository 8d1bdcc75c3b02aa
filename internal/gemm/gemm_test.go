package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// refGemm returns the float64-accumulated C = alpha·op(A)·op(B) + beta·C and
// a per-element error bound scaled by k·|alpha|·Σ|a||b| + |beta·c|.
func refGemm[T Float](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) (want, tol []float64) {
	eps := 1.0 / (1 << 52)
	var z T
	if _, ok := any(z).(float32); ok {
		eps = 1.0 / (1 << 23)
	}
	want = make([]float64, m*n)
	tol = make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, sabs float64
			if alpha != 0 {
				for p := 0; p < k; p++ {
					var av, bv T
					if tA {
						av = a[p*lda+i]
					} else {
						av = a[i*lda+p]
					}
					if tB {
						bv = b[j*ldb+p]
					} else {
						bv = b[p*ldb+j]
					}
					s += float64(av) * float64(bv)
					sabs += math.Abs(float64(av) * float64(bv))
				}
			}
			w := float64(alpha) * s
			mag := math.Abs(float64(alpha)) * sabs
			if beta != 0 {
				w += float64(beta) * float64(c[i*ldc+j])
				mag += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*n+j] = w
			tol[i*n+j] = 2*float64(k+3)*eps*mag + 1e-300
		}
	}
	return want, tol
}

func randSlice[T Float](rng *rand.Rand, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = T(rng.Float64()*2 - 1)
	}
	return s
}

type shape struct{ m, n, k int }

var testShapes = []shape{
	{0, 0, 0}, {0, 5, 3}, {5, 0, 3}, {5, 3, 0}, {1, 1, 1}, {1, 7, 1}, {7, 1, 13},
	{2, 3, 4}, {4, 4, 4}, {6, 16, 1}, {12, 32, 8}, {13, 33, 17}, {11, 31, 300},
	{24, 64, 256}, {25, 65, 257}, {37, 97, 513}, {197, 61, 23}, {300, 70, 33},
	{1, 1, 2000}, {5, 4200, 3}, {3, 1, 600}, {64, 64, 64}, {31, 17, 129},
	// Partial row panels of 1–3 rows over ≥ 4 column panels (wide kernels).
	{14, 130, 70}, {3, 260, 40}, {7, 256, 515}, {2, 64, 9},
}

var alphaBeta = [][2]float64{{1, 0}, {1, 1}, {-0.5, 2}, {2, -0.5}, {0, 2}, {0, 0}, {1, -0.5}, {-0.5, 0}}

// gemmCase runs one Gemm call against the reference, with padded leading
// dimensions, sentinels in C's padding, and NaN in C when beta is zero.
func gemmCase[T Float](t *testing.T, rng *rand.Rand, tA, tB bool, s shape, alpha, beta T, pad int, r Runner) []T {
	t.Helper()
	m, n, k := s.m, s.n, s.k
	ar, ac := m, k
	if tA {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB {
		br, bc = n, k
	}
	lda, ldb, ldc := max(1, ac)+pad, max(1, bc)+2*pad, max(1, n)+pad
	a := randSlice[T](rng, extent(ar, ac, lda))
	b := randSlice[T](rng, extent(br, bc, ldb))
	c := randSlice[T](rng, extent(m, n, ldc)+pad)
	if beta == 0 {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				c[i*ldc+j] = T(math.NaN())
			}
		}
	}
	sentinel := T(12345.5)
	for i := range c {
		if i%ldc >= n || i >= extent(m, n, ldc) {
			c[i] = sentinel
		}
	}
	want, tol := refGemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	Gemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, r)
	for i := range c {
		if i%ldc >= n || i >= extent(m, n, ldc) {
			if c[i] != sentinel {
				t.Fatalf("%v tA=%v tB=%v: wrote outside C at %d", s, tA, tB, i)
			}
		}
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			got := float64(c[i*ldc+j])
			if d := math.Abs(got - want[i*n+j]); !(d <= tol[i*n+j]) {
				t.Fatalf("%v tA=%v tB=%v alpha=%v beta=%v pad=%d: C[%d][%d]=%v want %v (|err| %g > %g)",
					s, tA, tB, alpha, beta, pad, i, j, got, want[i*n+j], d, tol[i*n+j])
			}
		}
	}
	return c
}

func testAllKernels[T Float](t *testing.T, short bool) {
	for _, name := range kernelNames[T]() {
		for _, mode := range []int{directAuto, directOff, directMax} {
			if mode != directAuto && activeKernelNamed[T](name).fns[1][1][4] == nil {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s", name, modeNames[mode]), func(t *testing.T) {
				defer setKernel[T](name)()
				defer setDirect(mode)()
				rng := rand.New(rand.NewPCG(1, 2))
				for si, s := range testShapes {
					big := s.m*s.n*s.k > 200000
					if big && raceEnabled && (mode != directAuto || name != kernelNames[T]()[0]) {
						continue // the reference is slow under -race
					}
					for ti := 0; ti < 4; ti++ {
						tA, tB := ti&1 != 0, ti&2 != 0
						for abi, ab := range alphaBeta {
							// Under -race (slow) the forced modes get a sample.
							sample := big || short || raceEnabled && mode != directAuto
							if sample && abi%3 != ti%3 {
								continue
							}
							gemmCase(t, rng, tA, tB, s, T(ab[0]), T(ab[1]), (si+abi)%3*3, nil)
						}
					}
				}
			})
		}
	}
}

var modeNames = map[int]string{directAuto: "auto", directOff: "packed", directMax: "inplace"}

func activeKernelNamed[T Float](name string) *kernel[T] {
	defer setKernel[T](name)()
	return activeKernel[T]()
}

func setDirect(mode int) (restore func()) {
	old := directMode
	directMode = mode
	return func() { directMode = old }
}

func TestGemmFloat32(t *testing.T) { testAllKernels[float32](t, testing.Short()) }
func TestGemmFloat64(t *testing.T) { testAllKernels[float64](t, testing.Short() || raceEnabled) }

// reverseRunner claims many workers but runs tasks serially in reverse
// order, exercising the partition deterministically.
type reverseRunner int

func (r reverseRunner) Workers() int { return int(r) }
func (r reverseRunner) Run(tasks int, fn func(int)) {
	for i := tasks - 1; i >= 0; i-- {
		fn(i)
	}
}

func testThreads[T Float](t *testing.T) {
	defer func(v float64) { minTaskFMAs = v }(minTaskFMAs)
	minTaskFMAs = 1 << 10 // split even small problems
	runners := []Runner{Serial{}, reverseRunner(2), reverseRunner(3), reverseRunner(7), reverseRunner(64)}
	for _, w := range []int{2, 3, 7} {
		p := NewPool(w)
		defer p.Close()
		runners = append(runners, p)
	}
	shapes := []shape{{100, 300, 70}, {37, 97, 513}, {300, 13, 260}, {1, 700, 300}, {500, 1, 300}, {128, 128, 64}, {39, 520, 90}}
	names := kernelNames[T]()
	if raceEnabled {
		names = names[:1] // the partition, not the kernel, is under test
	}
	for _, name := range names {
		defer setKernel[T](name)()
		for _, s := range shapes {
			for ti := 0; ti < 4; ti++ {
				tA, tB := ti&1 != 0, ti&2 != 0
				// The serial result is checked against the reference...
				rng := rand.New(rand.NewPCG(uint64(s.m), uint64(ti)))
				first := gemmCase(t, rng, tA, tB, s, T(-0.5), T(2), 1, nil)
				// ...and every partition must reproduce it bit for bit.
				m, n, k := s.m, s.n, s.k
				lda, ldb := k+1, n+2
				if tA {
					lda = m + 1
				}
				if tB {
					ldb = k + 2
				}
				ldc := n + 1
				rng = rand.New(rand.NewPCG(uint64(s.m), uint64(ti)))
				a := randSlice[T](rng, extent(map[bool]int{false: m, true: k}[tA], lda-1, lda))
				b := randSlice[T](rng, extent(map[bool]int{false: k, true: n}[tB], ldb-2, ldb))
				c0 := randSlice[T](rng, extent(m, n, ldc)+1)
				for ri, r := range runners {
					c := append([]T(nil), c0...)
					if ri == 1 || ri == 2 { // Serial, then reverseRunner(2)
						// Packed and in-place operands must agree too.
						restore := setDirect(map[int]int{1: directOff, 2: directMax}[ri])
						Gemm(tA, tB, m, n, k, T(-0.5), a, lda, b, ldb, T(2), c, ldc, r)
						restore()
					} else {
						Gemm(tA, tB, m, n, k, T(-0.5), a, lda, b, ldb, T(2), c, ldc, r)
					}
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							if x, y := c[i*ldc+j], first[i*ldc+j]; math.Float64bits(float64(x)) != math.Float64bits(float64(y)) {
								t.Fatalf("%s %v tA=%v tB=%v runner %d (%T): C[%d][%d]=%v differs from serial %v",
									name, s, tA, tB, ri, r, i, j, x, y)
							}
						}
					}
				}
			}
		}
	}
}

func TestThreadsBitIdenticalFloat32(t *testing.T) { testThreads[float32](t) }
func TestThreadsBitIdenticalFloat64(t *testing.T) { testThreads[float64](t) }

func testStrided[T Float](t *testing.T) {
	defer func(v float64) { minTaskFMAs = v }(minTaskFMAs)
	minTaskFMAs = 1 << 10
	type sc struct {
		s          shape
		batch      int
		zeroA      bool
		zeroB      bool
		tA, tB     bool
		alpha, bet float64
	}
	cases := []sc{
		{shape{7, 9, 5}, 4, false, false, false, false, 1, 0},
		{shape{33, 20, 40}, 3, false, true, false, false, 1, 1},  // broadcast B, foldable
		{shape{33, 20, 40}, 3, false, true, true, true, -0.5, 2}, // broadcast B, not foldable
		{shape{16, 70, 9}, 5, true, false, false, true, 2, -0.5}, // broadcast A
		{shape{64, 64, 64}, 8, false, false, false, true, 1, 0},
		{shape{5, 6, 7}, 2, true, true, false, false, 1, 0.5},
		{shape{0, 6, 7}, 2, false, false, false, false, 1, 0},
		{shape{5, 6, 0}, 2, false, false, false, false, 1, 0.5},
		{shape{50, 40, 30}, 0, false, false, false, false, 1, 0},
	}
	for _, name := range kernelNames[T]() {
		defer setKernel[T](name)()
		for ci, tc := range cases {
			for _, r := range []Runner{nil, reverseRunner(3), reverseRunner(16)} {
				rng := rand.New(rand.NewPCG(uint64(ci), 9))
				m, n, k := tc.s.m, tc.s.n, tc.s.k
				ar, ac := m, k
				if tc.tA {
					ar, ac = k, m
				}
				br, bc := k, n
				if tc.tB {
					br, bc = n, k
				}
				lda, ldb, ldc := max(1, ac)+1, max(1, bc), max(1, n)+2
				sa, sb, sc := extent(ar, ac, lda)+3, extent(br, bc, ldb), extent(m, n, ldc)+1
				if tc.zeroA {
					sa = 0
				}
				if tc.zeroB {
					sb = 0
				}
				if !tc.tA && !tc.zeroA {
					sa = m * lda // contiguous entries, so a broadcast B folds
					sc = m * ldc
				}
				nb := max(tc.batch, 1)
				a := randSlice[T](rng, (nb-1)*sa+extent(ar, ac, lda))
				b := randSlice[T](rng, (nb-1)*sb+extent(br, bc, ldb))
				c := randSlice[T](rng, (nb-1)*sc+extent(m, n, ldc))
				orig := append([]T(nil), c...)
				alpha, beta := T(tc.alpha), T(tc.bet)
				GemmStrided(tc.tA, tc.tB, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, tc.batch, r)
				for e := 0; e < tc.batch; e++ {
					// Bit-identical to a call per entry (a broadcast B may be
					// pre-packed or folded into one taller product).
					ce := append([]T(nil), orig[e*sc:e*sc+extent(m, n, ldc)]...)
					Gemm(tc.tA, tc.tB, m, n, k, alpha, a[e*sa:], lda, b[e*sb:], ldb, beta, ce, ldc, nil)
					for i := range ce {
						if ce[i] != c[e*sc+i] && !(ce[i] != ce[i] && c[e*sc+i] != c[e*sc+i]) {
							t.Fatalf("%s case %d entry %d: batched C[%d]=%v, single call %v", name, ci, e, i, c[e*sc+i], ce[i])
						}
					}
					want, tol := refGemm(tc.tA, tc.tB, m, n, k, alpha, a[e*sa:], lda, b[e*sb:], ldb, beta, orig[e*sc:], ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							got := float64(c[e*sc+i*ldc+j])
							if d := math.Abs(got - want[i*n+j]); !(d <= tol[i*n+j]) {
								t.Fatalf("%s case %d entry %d: C[%d][%d]=%v want %v", name, ci, e, i, j, got, want[i*n+j])
							}
						}
					}
				}
				if tc.batch == 0 {
					for i := range c {
						if c[i] != orig[i] {
							t.Fatalf("batch 0 wrote C")
						}
					}
				}
			}
		}
	}
}

func TestStridedFloat32(t *testing.T) { testStrided[float32](t) }
func TestStridedFloat64(t *testing.T) { testStrided[float64](t) }

func testPacked[T Float](t *testing.T) {
	names := kernelNames[T]()
	if raceEnabled {
		names = names[:1]
	}
	for _, name := range names {
		defer setKernel[T](name)()
		for _, s := range []shape{{1, 1, 1}, {37, 97, 513}, {13, 33, 17}, {130, 70, 300}, {4, 5, 0}, {3, 300, 70}, {26, 128, 600}} {
			for ti := 0; ti < 4; ti++ {
				tA, tB := ti&1 != 0, ti&2 != 0
				rng := rand.New(rand.NewPCG(3, uint64(ti)))
				m, n, k := s.m, s.n, s.k
				ar, ac := m, k
				if tA {
					ar, ac = k, m
				}
				br, bc := k, n
				if tB {
					br, bc = n, k
				}
				lda, ldb, ldc := max(1, ac), max(1, bc)+1, max(1, n)
				a := randSlice[T](rng, 2*extent(ar, ac, lda))
				b := randSlice[T](rng, extent(br, bc, ldb))
				c0 := randSlice[T](rng, 2*extent(m, n, ldc))
				pb := PackB(tB, k, n, b, ldb)
				if pb.K() != k || pb.N() != n {
					t.Fatalf("PackB dims %d×%d", pb.K(), pb.N())
				}
				if s.k > 0 && pb.Bytes() < k*n*4 {
					t.Fatalf("Bytes()=%d too small", pb.Bytes())
				}
				for _, r := range []Runner{nil, reverseRunner(3)} {
					c1 := append([]T(nil), c0...)
					c2 := append([]T(nil), c0...)
					Gemm(tA, tB, m, n, k, -0.5, a, lda, b, ldb, 2, c1, ldc, r)
					GemmPacked(tA, m, -0.5, a, lda, pb, 2, c2, ldc, r)
					se := extent(m, n, ldc)
					sa := extent(ar, ac, lda)
					c3 := append([]T(nil), c0...)
					GemmPackedStrided(tA, m, -0.5, a, lda, sa, pb, 2, c3, ldc, se, 2, r)
					for i := 0; i < se; i++ {
						if c1[i] != c2[i] && !(c1[i] != c1[i] && c2[i] != c2[i]) {
							t.Fatalf("%s %v tA=%v tB=%v: packed C[%d]=%v, unpacked %v", name, s, tA, tB, i, c2[i], c1[i])
						}
						if c3[i] != c1[i] {
							t.Fatalf("%s %v: packed strided entry 0 differs at %d", name, s, i)
						}
					}
					want, tol := refGemm(tA, tB, m, n, k, -0.5, a[sa:], lda, b, ldb, 2, c0[se:], ldc)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							got := float64(c3[se+i*ldc+j])
							if d := math.Abs(got - want[i*n+j]); !(d <= tol[i*n+j]) {
								t.Fatalf("%s %v: packed strided entry 1 C[%d][%d]=%v want %v", name, s, i, j, got, want[i*n+j])
							}
						}
					}
				}
			}
		}
	}
}

func TestPackedFloat32(t *testing.T) { testPacked[float32](t) }
func TestPackedFloat64(t *testing.T) { testPacked[float64](t) }

func TestBetaZeroOverwritesNaN(t *testing.T) {
	for _, k := range []int{0, 3} {
		c := []float32{float32(math.NaN()), float32(math.Inf(1))}
		Sgemm(false, false, 1, 2, k, 1, []float32{1, 2, 3}, 3, []float32{1, 1, 1, 1, 1, 1}, 2, 0, c, 2, nil)
		want := float32(0)
		if k == 3 {
			want = 6
		}
		if c[0] != want || c[1] != want {
			t.Fatalf("k=%d: C=%v, want %v", k, c, want)
		}
	}
	// alpha = 0 does not read A or B, so NaN there does not propagate.
	c := []float64{1, 2}
	Dgemm(false, false, 1, 2, 1, 0, []float64{math.NaN()}, 1, []float64{1, math.NaN()}, 2, 3, c, 2, nil)
	if c[0] != 3 || c[1] != 6 {
		t.Fatalf("alpha=0: C=%v", c)
	}
	// NaN in A propagates otherwise.
	c = []float64{1, 2}
	Dgemm(false, false, 1, 2, 1, 1, []float64{math.NaN()}, 1, []float64{1, 1}, 2, 0, c, 2, nil)
	if !math.IsNaN(c[0]) || !math.IsNaN(c[1]) {
		t.Fatalf("NaN did not propagate: %v", c)
	}
}

func TestPanics(t *testing.T) {
	a := make([]float32, 12)
	for name, f := range map[string]func(){
		"negative m":  func() { Sgemm(false, false, -1, 2, 2, 1, a, 2, a, 2, 0, a, 2, nil) },
		"small lda":   func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2, nil) },
		"short a":     func() { Sgemm(false, false, 4, 2, 4, 1, a, 4, a, 2, 0, a, 2, nil) },
		"short c":     func() { Sgemm(false, false, 3, 4, 1, 1, a, 1, a, 4, 0, a[:11], 4, nil) },
		"overlap C":   func() { GemmStrided(false, false, 2, 2, 2, 1, a, 2, 0, a, 2, 0, 0, a, 2, 3, 2, nil) },
		"neg stride":  func() { GemmStrided(false, false, 1, 1, 1, 1, a, 1, -1, a, 1, 0, 0, a, 1, 1, 2, nil) },
		"packb short": func() { PackB(false, 4, 4, a, 4) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	rng := rand.New(rand.NewPCG(5, 5))
	a, b, c := randSlice[float32](rng, 200*300), randSlice[float32](rng, 300*250), make([]float32, 200*250)
	pb := PackB(true, 300, 250, b, 300)
	pool := NewPool(2)
	defer pool.Close()
	for name, f := range map[string]func(){
		"serial": func() { Sgemm(false, false, 200, 250, 300, 1, a, 300, b, 250, 0, c, 250, nil) },
		"pool":   func() { Sgemm(true, true, 200, 250, 300, 1, a, 200, b, 300, 1, c, 250, pool) },
		"packed": func() { GemmPacked(false, 200, 1, a, 300, pb, 0, c, 250, pool) },
		"batched-broadcast": func() {
			GemmStrided(true, false, 20, 250, 300, 1, a, 20, 20, b, 250, 0, 0, c, 250, 20*250, 10, pool)
		},
	} {
		f() // warm the caches
		if n := testing.AllocsPerRun(20, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
		// The caches survive garbage collection, unlike a sync.Pool: a call
		// right after two collections reallocates no buffers. (MemStats are
		// process-wide, so take the least of a few tries.)
		least := ^uint64(0)
		for try := 0; try < 5; try++ {
			runtime.GC()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f()
			runtime.ReadMemStats(&after)
			least = min(least, after.TotalAlloc-before.TotalAlloc)
		}
		if least != 0 {
			t.Errorf("%s: %d bytes allocated in a call after GC", name, least)
		}
	}
}

func TestKernelName(t *testing.T) {
	t.Logf("float32 kernel %s (available %v); float64 kernel %s (available %v)",
		KernelName[float32](), kernelNames[float32](), KernelName[float64](), kernelNames[float64]())
	if KernelName[float32]() != kernelNames[float32]()[0] {
		t.Fatal("active kernel is not the best available")
	}
}

func ExampleGemm() {
	// C (2×2) = A (2×3) · Bᵀ, with B stored as 2×3.
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 1, 0, 1, 0}
	c := make([]float32, 4)
	Gemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2, nil)
	fmt.Println(c)
	// Output: [4 2 10 5]
}

func TestPlanCoversWholeTiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for i := 0; i < 2000; i++ {
		p := &problem[float32]{ker: activeKernel[float32]()}
		p.m, p.n, p.k = 1+rng.IntN(600), 1+rng.IntN(600), 1+rng.IntN(600)
		p.batch = 1 + rng.IntN(5)
		p.transA, p.transB = rng.IntN(2) == 0, rng.IntN(2) == 0
		workers := 1 + rng.IntN(9)
		tasks := p.plan(workers)
		mr, nr := p.ker.mr, p.ker.nr
		switch {
		case tasks != p.batch*p.tm*p.tn:
			t.Fatalf("tasks %d != batch %d × %d × %d", tasks, p.batch, p.tm, p.tn)
		case p.tm > 1 && p.rowStep%mr != 0, p.tn > 1 && p.colStep%nr != 0:
			t.Fatalf("split off the tile grid: rowStep %d colStep %d", p.rowStep, p.colStep)
		case p.tm*p.rowStep < p.m || (p.tm-1)*p.rowStep >= p.m,
			p.tn*p.colStep < p.n || (p.tn-1)*p.colStep >= p.n:
			t.Fatalf("%d×%d split %d×%d by %d×%d leaves gaps or empty tasks", p.m, p.n, p.tm, p.tn, p.rowStep, p.colStep)
		case p.tm*p.tn > 2*workers:
			t.Fatalf("%d×%d parts for %d workers", p.tm, p.tn, workers)
		}
	}
}

func TestReleaseBuffers(t *testing.T) {
	c := make([]float32, 64*64)
	a := make([]float32, 64*64)
	Sgemm(false, false, 64, 64, 64, 1, a, 64, a, 64, 0, c, 64, nil)
	ReleaseBuffers()
	if state32.workspaces.get() != nil || state32.problems.get() != nil {
		t.Fatal("ReleaseBuffers kept cached objects")
	}
	Sgemm(false, false, 64, 64, 64, 1, a, 64, a, 64, 0, c, 64, nil) // still works
}
