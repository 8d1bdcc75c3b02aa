//go:build amd64 && !purego

package gemm

import "golang.org/x/sys/cpu"

//go:noescape
func sgemvRowsAVX2(k, n int, a, b *float32, ldb int, c *float32)

//go:noescape
func sgemvCols64AVX2(k int, a, b *float32, ldb int, c *float32)

var haveGemvAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// gemvRows32 adds Σ_p a[p]·b[p·ldb:][:n] to c[:n] for the columns the
// assembly kernel covers and returns how many it covered.
func gemvRows32(k, n int, a, b []float32, ldb int, c []float32) int {
	v := n / 8 * 8
	if !haveGemvAVX2 || v == 0 || gemvMode == gemvGo {
		return 0
	}
	if v == n && n%64 == 0 && n <= 128 {
		// Narrow B: 64 columns at a time with c in registers.
		for j := 0; j < n; j += 64 {
			sgemvCols64AVX2(k, &a[0], &b[j], ldb, &c[j])
		}
		return n
	}
	sgemvRowsAVX2(k, v, &a[0], &b[0], ldb, &c[0])
	return v
}
