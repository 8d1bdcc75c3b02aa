package gemm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzSgemm compares small float32 products of every layout against the
// float64 reference, on the active kernel and with a partitioning runner.
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(1), uint8(0), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(13), uint8(33), uint8(17), uint8(3), uint8(7), uint8(2), uint64(2))
	f.Add(uint8(12), uint8(32), uint8(0), uint8(1), uint8(3), uint8(1), uint64(3))
	f.Add(uint8(25), uint8(5), uint8(60), uint8(2), uint8(12), uint8(0), uint64(4))
	f.Fuzz(func(t *testing.T, m, n, k, trans, ab, pad uint8, seed uint64) {
		s := shape{int(m % 40), int(n % 140), int(k % 80)}
		tA, tB := trans&1 != 0, trans&2 != 0
		pair := alphaBeta[int(ab)%len(alphaBeta)]
		var r Runner
		if trans&4 != 0 {
			r = reverseRunner(3)
		}
		rng := rand.New(rand.NewPCG(seed, uint64(m)))
		gemmCase(t, rng, tA, tB, s, float32(pair[0]), float32(pair[1]), int(pad%5), r)
		// Non-finite inputs must not panic and must propagate as NaN/Inf.
		if s.m > 0 && s.n > 0 && s.k > 0 && pair[0] != 0 {
			a := make([]float32, s.m*s.k)
			b := make([]float32, s.k*s.n)
			a[0] = float32(math.Inf(1))
			c := make([]float32, s.m*s.n)
			Sgemm(false, false, s.m, s.n, s.k, float32(pair[0]), a, s.k, b, s.n, 0, c, s.n, r)
			if !math.IsNaN(float64(c[0])) { // Inf·0 = NaN
				t.Fatalf("Inf·0 gave %v", c[0])
			}
		}
	})
}
