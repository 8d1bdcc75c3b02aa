package gemm

// packA packs rows [i0,i0+mc) × depth [p0,p0+kc) of op(A) into dst as
// consecutive MR-row micro-panels: element (i, p) of panel q lands at
// dst[q*kc*mr + p*mr + i]. Rows past mc are zero.
func packA[T Float](dst, a []T, lda int, trans bool, i0, p0, mc, kc, mr int) {
	for ir := 0; ir < mc; ir += mr {
		mrr := min(mr, mc-ir)
		d := dst[(ir/mr)*kc*mr : (ir/mr+1)*kc*mr]
		if trans {
			// op(A)[i][p] = a[p*lda+i]: each depth step is a contiguous run.
			base := p0*lda + i0 + ir
			for p := 0; p < kc; p++ {
				dp := d[p*mr : p*mr+mr]
				copyRun(dp, a[base+p*lda:], mrr)
			}
			continue
		}
		// op(A)[i][p] = a[i*lda+p]: read rows, scatter with stride mr.
		interleave(d, a, (i0+ir)*lda+p0, lda, kc, mrr, mr)
	}
}

// packB packs depth [p0,p0+kc) × columns [j0,j0+nc) of op(B) into dst as
// consecutive NR-column micro-panels: element (p, j) of panel q lands at
// dst[q*kc*nr + p*nr + j]. Columns past nc are zero.
func packB[T Float](dst, b []T, ldb int, trans bool, p0, j0, kc, nc, nr int) {
	for jr := 0; jr < nc; jr += nr {
		nrr := min(nr, nc-jr)
		d := dst[(jr/nr)*kc*nr : (jr/nr+1)*kc*nr]
		if !trans {
			// op(B)[p][j] = b[p*ldb+j]: each depth step is a contiguous run.
			base := p0*ldb + j0 + jr
			for p := 0; p < kc; p++ {
				dp := d[p*nr : p*nr+nr]
				copyRun(dp, b[base+p*ldb:], nrr)
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: read rows of b, scatter with stride nr.
		interleave(d, b, (j0+jr)*ldb+p0, ldb, kc, nrr, nr)
	}
}

// interleave sets d[p*width+i] = src[base+i*ld+p] for p < kc and i < rows,
// and zeroes columns rows..width-1 of d (kc×width): the transposing half of
// packing, reading rows of src in parallel.
func interleave[T Float](d, src []T, base, ld, kc, rows, width int) {
	d = d[:kc*width]
	if rows < width {
		clear(d)
	}
	i := 0
	for ; i+8 <= rows; i += 8 {
		o := base + i*ld
		r0 := src[o : o+kc]
		r1 := src[o+ld:][:len(r0)]
		r2 := src[o+2*ld:][:len(r0)]
		r3 := src[o+3*ld:][:len(r0)]
		r4 := src[o+4*ld:][:len(r0)]
		r5 := src[o+5*ld:][:len(r0)]
		r6 := src[o+6*ld:][:len(r0)]
		r7 := src[o+7*ld:][:len(r0)]
		for p := range r0 {
			dp := (*[8]T)(d[p*width+i:])
			dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
			dp[4], dp[5], dp[6], dp[7] = r4[p], r5[p], r6[p], r7[p]
		}
	}
	for ; i+4 <= rows; i += 4 {
		o := base + i*ld
		r0 := src[o : o+kc]
		r1 := src[o+ld:][:len(r0)]
		r2 := src[o+2*ld:][:len(r0)]
		r3 := src[o+3*ld:][:len(r0)]
		for p := range r0 {
			dp := (*[4]T)(d[p*width+i:])
			dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
		}
	}
	for ; i < rows; i++ {
		o := base + i*ld
		for p, v := range src[o : o+kc] {
			d[p*width+i] = v
		}
	}
}

// copyRun sets dst[:n] = src[:n] and zeroes the rest of dst, with fixed-size
// moves for the panel widths of the kernels (a copy call per short run
// would dominate packing).
func copyRun[T Float](dst, src []T, n int) {
	if n == len(dst) {
		switch n {
		case 32:
			*(*[32]T)(dst) = *(*[32]T)(src)
			return
		case 16:
			*(*[16]T)(dst) = *(*[16]T)(src)
			return
		case 12:
			*(*[12]T)(dst) = *(*[12]T)(src)
			return
		case 8:
			*(*[8]T)(dst) = *(*[8]T)(src)
			return
		case 6:
			*(*[6]T)(dst) = *(*[6]T)(src)
			return
		case 4:
			*(*[4]T)(dst) = *(*[4]T)(src)
			return
		}
	}
	copy(dst, src[:n])
	clear(dst[n:])
}
