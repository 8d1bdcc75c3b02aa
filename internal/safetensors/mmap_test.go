//go:build aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package safetensors

import (
	"path/filepath"
	"runtime"
	"testing"
)

// TestOpenDoesNotReadData checks that Open maps rather than reads: opening a
// 32 MiB file allocates far less than the file size, and Bytes is a view.
func TestOpenDoesNotReadData(t *testing.T) {
	const size = 32 << 20
	path := filepath.Join(t.TempDir(), "big.safetensors")
	data := make([]byte, size)
	data[size-1] = 42
	if err := Write(path, []Tensor{U8("big", []int64{size}, data), F32("small", []int64{1}, []float32{3})}, nil); err != nil {
		t.Fatal(err)
	}
	data = nil
	runtime.GC()

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	defer f.Close()
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("Open allocated %d bytes for a %d-byte file; want it mapped, not read", alloc, size)
	}
	if f.release == nil {
		t.Error("Open did not memory-map the file")
	}
	b, err := f.Bytes("big")
	if err != nil || len(b) != size || b[size-1] != 42 {
		t.Fatalf("Bytes(big): len %d, err %v", len(b), err)
	}
	runtime.ReadMemStats(&before)
	if _, err := f.Bytes("big"); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4096 {
		t.Errorf("Bytes allocated %d bytes, want a zero-copy view", alloc)
	}
}
