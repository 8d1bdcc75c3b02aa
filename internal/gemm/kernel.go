package gemm

import "unsafe"

// kernelFunc computes rows×nr elements of C (rows = mr for a full tile, or
// fewer for an edge kernel) from kc steps of A and B:
//
//	acc[i][j] = Σ_p A(i,p)·B(p,j), p ascending
//	C = alpha·acc if flags&flagBeta0, else C = beta·C + alpha·acc
//
// A(i,p) is a[p*mr+i] (a packed micro-panel) or a[i*lda+p] (A read in place);
// B(p,j) is b[p*nr+j] (packed) or b[p*ldb+j] (in place). Which one is fixed
// by the kernel; lda or ldb is ignored where the operand is packed. All
// leading dimensions are in elements. Every variant of a kernel performs the
// same operations on the same values, so results are bit-identical.
type kernelFunc[T Float] func(kc int, a *T, lda int, b *T, ldb int, c *T, ldc int, alpha, beta T, flags int)

const flagBeta0 = 1

// kernel describes a micro-kernel family and the blocking sized for it.
type kernel[T Float] struct {
	name   string
	mr, nr int // tile shape
	kc     int // depth of a k slice (panels of KC×MR and KC×NR)
	mc     int // rows of A per block (multiple of mr), MC×KC in L2
	nc     int // columns of B per block (multiple of nr), KC×NC in L3

	// fns[directA][directB][e]: e = 4 is the full mr×nr tile, e < 4 the
	// edge kernel computing only the first 1<<e rows. Only fns[0][0][4] is
	// required; a nil entry means that variant is not available.
	fns [2][2][5]kernelFunc[T]

	// Optional wide kernels: wide[directA][directB][r-1] computes r = 1 or 2
	// rows across wideW[r-1] adjacent full B micro-panels (a single panel
	// leaves too few accumulators to hide the FMA latency).
	wide  [2][2][2]kernelFunc[T]
	wideW [2]int
}

func (k *kernel[T]) hasEdges() bool { return k.fns[0][0][0] != nil }

func init() {
	k32 := &kernel[float32]{name: "go-4x4", mr: 4, nr: 4, kc: 256, mc: 128, nc: 2048}
	k32.fns[0][0][4] = goKernel4x4[float32]
	k64 := &kernel[float64]{name: "go-4x4", mr: 4, nr: 4, kc: 256, mc: 96, nc: 1024}
	k64.fns[0][0][4] = goKernel4x4[float64]
	register(k32)
	register(k64)
}

// register appends the kernels to T's registry (the Go kernel, last) and
// makes the first one of the registry active.
func register[T Float](ks ...*kernel[T]) {
	s := types[T]()
	s.kernels = append(s.kernels, ks...)
	s.active.Store(s.kernels[0])
}

// prefer puts the kernels before those registered so far (the platform
// kernels before the Go one) and makes the first active.
func prefer[T Float](ks ...*kernel[T]) {
	s := types[T]()
	s.kernels = append(ks, s.kernels...)
	s.active.Store(s.kernels[0])
}

func activeKernel[T Float]() *kernel[T] { return types[T]().active.Load() }

// kernelNames lists the kernels available for T, best first (tests).
func kernelNames[T Float]() []string {
	var names []string
	for _, k := range types[T]().kernels {
		names = append(names, k.name)
	}
	return names
}

// setKernel selects the kernel for T by name and returns a function that
// restores the previous one. It is a test hook: not safe to use while GEMMs
// of that type are running.
func setKernel[T Float](name string) (restore func()) {
	s := types[T]()
	old := s.active.Load()
	for _, k := range s.kernels {
		if k.name == name {
			s.active.Store(k)
			return func() { s.active.Store(old) }
		}
	}
	panic("gemm: unknown kernel " + name)
}

// goKernel4x4 is the portable micro-kernel: a 4×4 tile, both operands
// packed, computed as two 2×4 halves so that the 8 accumulators, 4 B values
// and 2 A values of a half stay in registers even on amd64 (16 vector
// registers).
func goKernel4x4[T Float](kc int, a *T, _ int, b *T, _ int, c *T, ldc int, alpha, beta T, flags int) {
	as := unsafe.Slice(a, kc*4)
	bs := unsafe.Slice(b, kc*4)
	cs := unsafe.Slice(c, 3*ldc+4)
	for h := 0; h < 4; h += 2 {
		c00, c01, c02, c03, c10, c11, c12, c13 := goRows2x4(as[h:], bs, kc)
		store4(cs[h*ldc:h*ldc+4:h*ldc+4], c00, c01, c02, c03, alpha, beta, flags)
		store4(cs[(h+1)*ldc:(h+1)*ldc+4:(h+1)*ldc+4], c10, c11, c12, c13, alpha, beta, flags)
	}
}

// goRows2x4 accumulates rows 0 and 1 of a (stride 4) against b (stride 4).
func goRows2x4[T Float](a, b []T, kc int) (c00, c01, c02, c03, c10, c11, c12, c13 T) {
	for p := 0; p < kc; p++ {
		ap := a[p*4 : p*4+2 : p*4+2]
		bp := b[p*4 : p*4+4 : p*4+4]
		a0, a1 := ap[0], ap[1]
		b0, b1, b2, b3 := bp[0], bp[1], bp[2], bp[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
	}
	return
}

func store4[T Float](c []T, x0, x1, x2, x3, alpha, beta T, flags int) {
	_ = c[3]
	if flags&flagBeta0 != 0 {
		c[0], c[1], c[2], c[3] = alpha*x0, alpha*x1, alpha*x2, alpha*x3
		return
	}
	c[0] = beta*c[0] + alpha*x0
	c[1] = beta*c[1] + alpha*x1
	c[2] = beta*c[2] + alpha*x2
	c[3] = beta*c[3] + alpha*x3
}
