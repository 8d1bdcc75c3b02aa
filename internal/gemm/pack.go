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
				copy(dp, a[base+p*lda:base+p*lda+mrr])
				clear(dp[mrr:])
			}
			continue
		}
		// op(A)[i][p] = a[i*lda+p]: read rows, scatter with stride mr.
		if mrr < mr {
			clear(d)
		}
		i := 0
		for ; i+4 <= mrr; i += 4 {
			base := (i0+ir+i)*lda + p0
			r0 := a[base : base+kc]
			r1 := a[base+lda : base+lda+kc]
			r2 := a[base+2*lda : base+2*lda+kc]
			r3 := a[base+3*lda : base+3*lda+kc]
			for p := range r0 {
				dp := d[p*mr+i : p*mr+i+4]
				dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
			}
		}
		for ; i < mrr; i++ {
			base := (i0+ir+i)*lda + p0
			for p, v := range a[base : base+kc] {
				d[p*mr+i] = v
			}
		}
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
				copy(dp, b[base+p*ldb:base+p*ldb+nrr])
				clear(dp[nrr:])
			}
			continue
		}
		// op(B)[p][j] = b[j*ldb+p]: read rows of b, scatter with stride nr.
		if nrr < nr {
			clear(d)
		}
		j := 0
		for ; j+4 <= nrr; j += 4 {
			base := (j0+jr+j)*ldb + p0
			r0 := b[base : base+kc]
			r1 := b[base+ldb : base+ldb+kc]
			r2 := b[base+2*ldb : base+2*ldb+kc]
			r3 := b[base+3*ldb : base+3*ldb+kc]
			for p := range r0 {
				dp := d[p*nr+j : p*nr+j+4]
				dp[0], dp[1], dp[2], dp[3] = r0[p], r1[p], r2[p], r3[p]
			}
		}
		for ; j < nrr; j++ {
			base := (j0+jr+j)*ldb + p0
			for p, v := range b[base : base+kc] {
				d[p*nr+j] = v
			}
		}
	}
}
