package safetensors

import (
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkOpen opens files of 64 KiB and 64 MiB holding the same number of
// tensors: with mmap the time per Open is the same for both, as only the
// header is parsed.
func BenchmarkOpen(b *testing.B) {
	for _, size := range []int64{64 << 10, 64 << 20} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			const n = 16
			tensors := make([]Tensor, n)
			for i := range tensors {
				tensors[i] = U8(fmt.Sprintf("layers.%d.weight", i), []int64{size / n}, make([]byte, size/n))
			}
			path := filepath.Join(b.TempDir(), "bench.safetensors")
			if err := Write(path, tensors, nil); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				f, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
