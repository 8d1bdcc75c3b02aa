package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func BenchmarkPack(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	ker := activeKernel[float32]()
	const kc, n = 256, 512
	src := randSlice[float32](rng, kc*n)
	dst := make([]float32, kc*roundUp(n, 32)+kc*ker.mr)
	for _, tr := range []bool{false, true} {
		b.Run(fmt.Sprintf("B/trans=%v", tr), func(b *testing.B) {
			ld := n
			if tr {
				ld = kc
			}
			for i := 0; i < b.N; i++ {
				packB(dst, src, ld, tr, 0, 0, kc, n, ker.nr)
			}
			b.SetBytes(kc * n * 4)
		})
		b.Run(fmt.Sprintf("A/trans=%v", tr), func(b *testing.B) {
			ld := kc
			if tr {
				ld = n
			}
			for i := 0; i < b.N; i++ {
				packA(dst, src, ld, tr, 0, 0, n, kc, ker.mr)
			}
			b.SetBytes(kc * n * 4)
		})
	}
}
