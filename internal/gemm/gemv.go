package gemm

// gemvMode is a test hook: gemvGo makes Gemv use the portable loop only.
var gemvMode = gemvAuto

const (
	gemvAuto = iota
	gemvGo
)

// Gemv computes the vector-matrix product c = a·B for a of length k and B
// k×n, row-major with row stride ldb ≥ n, overwriting c[:n]. It reads B's
// rows front to back, a few at a time, which is what a product with one
// row should do when B is not packed (a KV cache read in place): the
// blocked GEMM walks B down column panels, one memory stream per row, and
// gets about half the memory bandwidth. Each element of c is
// Σ_p a[p]·B[p][j] accumulated in the order of p with fused multiply-adds
// on the vector path, as the GEMM kernels do. Gemv panics when a slice is
// too short.
func Gemv[T Float](k, n int, a []T, b []T, ldb int, c []T) {
	if n == 0 {
		return
	}
	if k < 0 || n < 0 || ldb < n || len(a) < k || len(c) < n || (k > 0 && len(b) < (k-1)*ldb+n) {
		panic("gemm: Gemv: inconsistent dimensions or short slices")
	}
	c = c[:n]
	clear(c)
	if k == 0 {
		return
	}
	done := 0
	if a32, ok := any(a).([]float32); ok {
		done = gemvRows32(k, n, a32, any(b).([]float32), ldb, any(c).([]float32))
	}
	if done == n {
		return
	}
	for p := range k {
		ap := a[p]
		row := b[p*ldb+done : p*ldb+n]
		cc := c[done:n]
		for j := range row {
			cc[j] += ap * row[j]
		}
	}
}
