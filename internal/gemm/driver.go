package gemm

import "sync/atomic"

// problem is one (batched) GEMM call, split into tasks over batch entries
// and blocks of C. It is pooled so that a call allocates nothing.
type problem[T Float] struct {
	ker            *kernel[T]
	transA, transB bool
	m, n, k        int
	alpha, beta    T
	a              []T
	lda, strideA   int
	b              []T
	ldb, strideB   int
	pb             *PackedB[T] // non-nil: B is pre-packed (shared by all entries)
	c              []T
	ldc, strideC   int
	batch          int

	// Partition of each batch entry into tm×tn blocks of C.
	tm, tn           int
	rowStep, colStep int

	run func(int) // p.task, bound once per pooled problem
}

// freeList is a bounded cache of reusable objects. Unlike a sync.Pool it
// is not emptied by garbage collection, so a program that allocates (and so
// collects) between GEMM calls still makes no allocations inside them; at
// most its capacity of objects stays cached (see ReleaseBuffers).
type freeList[X any] chan *X

const freeListCap = 64

func (f freeList[X]) get() *X {
	select {
	case x := <-f:
		return x
	default:
		return nil
	}
}

func (f freeList[X]) put(x *X) {
	select {
	case f <- x:
	default: // full: let the collector have it
	}
}

func (f freeList[X]) drain() {
	for f.get() != nil {
	}
}

// perType holds everything the package keeps per element type: the
// kernels usable on this machine (best first; the platform files prepend to
// it in init, the Go kernel is always last), the one in use, and the free
// lists of problems, workspaces and packed operands. One generic lookup
// (types) replaces a float32 and a float64 copy of each.
type perType[T Float] struct {
	kernels    []*kernel[T]
	active     atomic.Pointer[kernel[T]]
	problems   freeList[problem[T]]
	workspaces freeList[workspace[T]]
	packed     freeList[PackedB[T]]
}

func newPerType[T Float]() *perType[T] {
	return &perType[T]{
		problems:   make(freeList[problem[T]], freeListCap),
		workspaces: make(freeList[workspace[T]], freeListCap),
		packed:     make(freeList[PackedB[T]], freeListCap),
	}
}

var (
	state32 = newPerType[float32]()
	state64 = newPerType[float64]()
)

// types returns the package state of element type T.
func types[T Float]() *perType[T] {
	var z T
	if _, ok := any(z).(float32); ok {
		return any(state32).(*perType[T])
	}
	return any(state64).(*perType[T])
}

// release empties the free lists.
func (s *perType[T]) release() {
	s.problems.drain()
	s.workspaces.drain()
	s.packed.drain()
}

// ReleaseBuffers drops the packing buffers cached for reuse (up to a few
// MiB per task that ran concurrently). Later calls allocate them again.
func ReleaseBuffers() {
	state32.release()
	state64.release()
}

func getProblem[T Float]() *problem[T] {
	if p := types[T]().problems.get(); p != nil {
		return p
	}
	p := new(problem[T])
	p.run = p.task
	return p
}

func putProblem[T Float](p *problem[T]) {
	run := p.run
	*p = problem[T]{run: run} // drop references to the caller's slices
	types[T]().problems.put(p)
}

// workspace holds one task's packing buffers.
type workspace[T Float] struct {
	a, b []T
	tile []T
}

func getWorkspace[T Float]() *workspace[T] {
	if w := types[T]().workspaces.get(); w != nil {
		return w
	}
	return new(workspace[T])
}

func putWorkspace[T Float](w *workspace[T]) { types[T]().workspaces.put(w) }

// grow returns buf resliced to n elements, reallocating only when its
// capacity is too small. Contents are unspecified.
func grow[T Float](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// gemmGo is the pure-Go implementation behind every entry point. Arguments
// have been checked. pb, when non-nil, replaces b/ldb/strideB/transB.
func gemmGo[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda, strideA int, b []T, ldb, strideB int, pb *PackedB[T], beta T, c []T, ldc, strideC int, batch int, r Runner) {
	if m == 0 || n == 0 || batch == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		for i := 0; i < batch; i++ {
			scale(m, n, beta, c[i*strideC:], ldc)
		}
		return
	}
	// A batch that shares one B over contiguous row-major A and C entries is
	// a single GEMM with batch·m rows.
	if batch > 1 && strideB == 0 && !transA && strideA == m*lda && strideC == m*ldc {
		m, batch = m*batch, 1
	}
	var tmp *PackedB[T]
	if pb == nil && batch > 1 && strideB == 0 {
		// Pack the broadcast B once instead of once per entry.
		tmp = packBPooled(transB, k, n, b, ldb)
		pb = tmp
	}
	p := getProblem[T]()
	p.ker = activeKernel[T]()
	if pb != nil {
		p.ker = pb.ker
	}
	p.transA, p.transB = transA, transB
	p.m, p.n, p.k = m, n, k
	p.alpha, p.beta = alpha, beta
	p.a, p.lda, p.strideA = a, lda, strideA
	p.b, p.ldb, p.strideB, p.pb = b, ldb, strideB, pb
	p.c, p.ldc, p.strideC = c, ldc, strideC
	p.batch = batch

	tasks := p.plan(workersOf(r))
	if tasks == 1 || r == nil {
		for t := 0; t < tasks; t++ {
			p.task(t)
		}
	} else {
		r.Run(tasks, p.run)
	}
	putProblem(p)
	if tmp != nil {
		releasePackedB(tmp)
	}
}

// Tasks smaller than this many multiply-adds (about 5 µs of work) are not
// worth handing to another worker, whose wake-up can cost as much. A
// variable so that tests can split small problems.
var minTaskFMAs = float64(1 << 20)

// plan chooses the partition of the work into tasks for the given number
// of workers and returns the task count. The partition never changes the
// result: block boundaries are whole tiles of the kernel's fixed grid.
func (p *problem[T]) plan(workers int) int {
	p.tm, p.tn, p.rowStep, p.colStep = 1, 1, p.m, p.n
	fmas := float64(p.m) * float64(p.n) * float64(p.k) * float64(p.batch) // float: no overflow on 32-bit
	workers = int(min(float64(workers), max(1, fmas/minTaskFMAs)))
	if workers <= 1 || p.batch >= 4*workers || p.batch%workers == 0 {
		return p.batch
	}
	// Split each entry into s parts so that batch·s spreads evenly.
	s := workers / gcd(p.batch, workers)
	mr, nr := p.ker.mr, p.ker.nr
	mp, np := (p.m+mr-1)/mr, (p.n+nr-1)/nr // tiles per dimension
	best := -1.0
	for tm := 1; tm <= min(s, mp); tm++ {
		tn := min((s+tm-1)/tm, np)
		rows := (mp + tm - 1) / tm * mr // rows of the largest block
		cols := (np + tn - 1) / tn * nr
		// Cost of the largest task in multiply-adds, counting a packed
		// element as a dozen (packing is memory-bound).
		cost := float64(rows) * float64(cols) * float64(p.k)
		if !p.directA() {
			cost += 12 * float64(rows) * float64(p.k) * float64((cols+p.ker.nc-1)/p.ker.nc)
		}
		if p.pb == nil && !p.directB(rows) {
			cost += 12 * float64(cols) * float64(p.k)
		}
		if best < 0 || cost < best {
			best = cost
			p.tm, p.tn = tm, tn
		}
	}
	p.rowStep = (mp + p.tm - 1) / p.tm * mr
	p.colStep = (np + p.tn - 1) / p.tn * nr
	p.tm = (p.m + p.rowStep - 1) / p.rowStep
	p.tn = (p.n + p.colStep - 1) / p.colStep
	return p.batch * p.tm * p.tn
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// task computes block t of the partition chosen by plan.
func (p *problem[T]) task(t int) {
	per := p.tm * p.tn
	bi, r := t/per, t%per
	m0 := (r / p.tn) * p.rowStep
	n0 := (r % p.tn) * p.colStep
	m1 := min(p.m, m0+p.rowStep)
	n1 := min(p.n, n0+p.colStep)
	ws := getWorkspace[T]()
	var b []T
	if p.pb == nil {
		b = p.b[bi*p.strideB:]
	}
	p.block(ws, p.a[bi*p.strideA:], b, p.c[bi*p.strideC:], m0, m1, n0, n1)
	putWorkspace(ws)
}

// Operands are read in place by the kernels where that saves packing:
// A whenever it is not transposed (its rows are contiguous), B when it is
// not transposed and the block has few rows, so that packing B would cost
// as much as the multiply (B panels are re-read once per row panel, from
// cache, with packing or without).
const directBMaxPanels = 2

// directMode is a test hook: directOff packs every operand, directMax reads
// in place wherever the layout allows regardless of size.
var directMode = directAuto

const (
	directAuto = iota
	directOff
	directMax
)

// directA reports whether the kernels read A in place.
func (p *problem[T]) directA() bool {
	return !p.transA && p.ker.fns[1][0][4] != nil && p.ker.hasEdges() && directMode != directOff
}

// directB reports whether the kernels read B in place in a block of the
// given number of rows (when B is not pre-packed).
func (p *problem[T]) directB(rows int) bool {
	return !p.transB && p.ker.fns[0][1][4] != nil && p.ker.hasEdges() &&
		(directMode == directMax || directMode == directAuto && rows <= directBMaxPanels*p.ker.mr)
}

// block computes rows [m0,m1) × columns [n0,n1) of one C entry.
func (p *problem[T]) block(ws *workspace[T], a, b, c []T, m0, m1, n0, n1 int) {
	ker := p.ker
	mr, nr := ker.mr, ker.nr
	directA, directB := p.directA(), p.pb == nil && p.directB(m1-m0)
	ws.tile = grow(ws.tile, mr*nr)
	ncMax := min(ker.nc, roundUp(n1-n0, nr))
	mcMax := min(ker.mc, roundUp(m1-m0, mr))
	kcMax := min(ker.kc, p.k)
	switch {
	case directB:
		ws.b = grow(ws.b, kcMax*nr) // a partial last column panel
	case p.pb == nil:
		ws.b = grow(ws.b, kcMax*ncMax)
	}
	if !directA {
		ws.a = grow(ws.a, kcMax*mcMax)
	}
	for jc := n0; jc < n1; jc += ker.nc {
		nc := min(ker.nc, n1-jc)
		for pc := 0; pc < p.k; pc += ker.kc {
			kc := min(ker.kc, p.k-pc)
			var bp, bd []T
			switch {
			case p.pb != nil:
				bp = p.pb.panels(pc, jc, kc, nc)
			case directB:
				bd = b[pc*p.ldb+jc:]
				if full := nc / nr * nr; full < nc {
					bp = ws.b[:kc*nr]
					packB(bp, b, p.ldb, false, pc, jc+full, kc, nc-full, nr)
				}
			default:
				bp = ws.b[:kc*roundUp(nc, nr)]
				packB(bp, b, p.ldb, p.transB, pc, jc, kc, nc, nr)
			}
			beta, flags := p.beta, 0
			if pc > 0 {
				beta = 1
			} else if beta == 0 {
				flags = flagBeta0
			}
			for ic := m0; ic < m1; ic += ker.mc {
				mc := min(ker.mc, m1-ic)
				var ap, ad []T
				if directA {
					ad = a[ic*p.lda+pc:]
				} else {
					ap = ws.a[:kc*roundUp(mc, mr)]
					packA(ap, a, p.lda, p.transA, ic, pc, mc, kc, mr)
				}
				p.macro(ws.tile, ad, ap, bd, bp, c[ic*p.ldc+jc:], mc, nc, kc, beta, flags)
			}
		}
	}
}

// macro runs the micro-kernels over an mc×nc block of C (c starts at the
// block's top-left element). A comes from packed panels ap (mc rows) or, when
// ad is non-nil, in place (ad starts at the block's first row and depth).
// B comes from packed panels bp (nc columns) or, when bd is non-nil, in place
// for full panels with bp holding only the packed partial last panel.
//
// Full tiles are written straight to C. A partial row panel is computed by
// the edge kernels (8, 4, 2 and 1 rows), also straight to C; a partial
// column panel goes through the mr×nr tile buffer.
func (p *problem[T]) macro(tile, ad, ap, bd, bp, c []T, mc, nc, kc int, beta T, flags int) {
	ker := p.ker
	mr, nr, ldc, alpha, lda := ker.mr, ker.nr, p.ldc, p.alpha, p.lda
	hasEdges := ker.hasEdges()
	da, db := 0, 0
	if ad != nil {
		da = 1
	}
	if bd != nil {
		db = 1
	}
	// The last 1–3 rows of a partial row panel (the 2- and 1-row edge
	// pieces) are computed by wide kernels over groups of full column
	// panels, after the main loop; wideCols columns are left to them.
	last := mc / mr * mr // first row of the partial panel, if any
	small := (mc - last) & 3
	wideCols := 0
	if small > 0 && ker.wide[da][db][0] != nil {
		wideCols = nc / (4 * nr) * (4 * nr) // a multiple of every wideW·nr
	}
	for jr := 0; jr < nc; jr += nr {
		nrr := min(nr, nc-jr)
		var bptr *T
		ldb, dbr := 0, 0
		switch {
		case bd != nil && nrr == nr:
			bptr, ldb, dbr = &bd[jr], p.ldb, 1
		case bd != nil:
			bptr = &bp[0]
		default:
			bptr = &bp[(jr/nr)*kc*nr]
		}
		fns := &ker.fns[da][dbr]
		rowsHere := mc
		if jr < wideCols {
			rowsHere = mc - small
		}
		for ir := 0; ir < rowsHere; ir += mr {
			mrr := min(mr, rowsHere-ir)
			ci := ir*ldc + jr
			viaTile := nrr < nr || (mrr < mr && !hasEdges)
			dst, ldd, al, be, fl := c[ci:], ldc, alpha, beta, flags
			if viaTile {
				dst, ldd, al, be, fl = tile, nr, 1, 0, flagBeta0
			}
			if mrr == mr || !hasEdges {
				fns[4](kc, aPanel(ad, ap, ir, 0, lda, kc, mr), lda, bptr, ldb, &dst[0], ldd, al, be, fl)
			} else {
				i := 0
				for e := 3; e >= 0; e-- {
					if fns[e] == nil {
						continue
					}
					for r := 1 << e; mrr-i >= r; i += r {
						fns[e](kc, aPanel(ad, ap, ir, i, lda, kc, mr), lda, bptr, ldb, &dst[i*ldd], ldd, al, be, fl)
					}
				}
			}
			if !viaTile {
				continue
			}
			for i := 0; i < mrr; i++ {
				row := c[ci+i*ldc : ci+i*ldc+nrr]
				t := tile[i*nr : i*nr+nrr]
				if flags&flagBeta0 != 0 {
					for j := range row {
						row[j] = alpha * t[j]
					}
				} else {
					for j := range row {
						row[j] = beta*row[j] + alpha*t[j]
					}
				}
			}
		}
	}
	// The wide pieces: 2 rows then 1, each across wideW panels at a time.
	for i := mc - small; i < mc; {
		r := min(mc-i, 2)
		fn, step := ker.wide[da][db][r-1], ker.wideW[r-1]*nr
		for jr := 0; jr < wideCols; jr += step {
			var bptr *T
			if bd != nil {
				bptr = &bd[jr]
			} else {
				bptr = &bp[(jr/nr)*kc*nr]
			}
			fn(kc, aPanel(ad, ap, last, i-last, lda, kc, mr), lda, bptr, p.ldb, &c[i*ldc+jr], ldc, alpha, beta, flags)
		}
		i += r
	}
}

// aPanel points at row i of the row panel starting at block row ir: in A
// itself when it is read in place (ad non-nil), else in the packed panels.
func aPanel[T Float](ad, ap []T, ir, i, lda, kc, mr int) *T {
	if ad != nil {
		return &ad[(ir+i)*lda]
	}
	return &ap[(ir/mr)*kc*mr+i]
}

// scale sets C = beta·C (C = 0 when beta is 0, whatever C held).
func scale[T Float](m, n int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		switch beta {
		case 0:
			clear(row)
		case 1:
		default:
			for j := range row {
				row[j] *= beta
			}
		}
	}
}
