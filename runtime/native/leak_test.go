package native

import (
	"context"
	"fmt"
	"math"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// memory returns the process's resident set size in bytes (from
// /proc/self/statm) and the Go heap in use, after a full collection that
// returns freed memory to the system.
func memory(t *testing.T) (rss, heap int64) {
	t.Helper()
	goruntime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("RSS is read from /proc/self/statm, which this system lacks (%v); the leak test runs on Linux only", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return pages * int64(os.Getpagesize()), int64(ms.HeapInuse)
}

// TestNoLeakUnderLoad serves 10,000 requests from 32 goroutines (more than
// GOMAXPROCS) over 48 input shapes (three times the session's program
// cache, so programs are compiled and discarded all the time) on one
// session of the tiny preset. The Go heap after the first 1,000 requests
// and after all of them must agree within 1.2×, and so must RSS (except
// under the race detector, whose own bookkeeping grows with every
// goroutine and lock it has seen), and every output must be bit-identical
// to a serial run of the same input.
func TestNoLeakUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 requests; skipped with -short")
	}
	cfg, err := builder.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 3}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	model, err := export.Marshal(m, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := openNative(t, model, runtime.Options{})

	type shape struct{ batch, seq int64 }
	var shapes []shape
	for b := int64(1); b <= 4; b++ {
		for q := int64(1); q <= 12; q++ {
			shapes = append(shapes, shape{b, q})
		}
	}
	inputs := make([]map[string]*runtime.Tensor, len(shapes))
	want := make([][]float32, len(shapes))
	for i, sh := range shapes {
		ids := make([]int64, sh.batch*sh.seq)
		for j := range ids {
			ids[j] = int64((i*31 + j*7) % 256)
		}
		x, err := runtime.NewInt64([]int64{sh.batch, sh.seq}, ids)
		if err != nil {
			t.Fatal(err)
		}
		inputs[i] = map[string]*runtime.Tensor{"x": x}
		out, err := s.Run(context.Background(), inputs[i])
		if err != nil {
			t.Fatal(err)
		}
		if want[i], err = out["logits"].Float32s(); err != nil {
			t.Fatal(err)
		}
	}

	const total, warm, workers = 10_000, 1_000, 32
	var next atomic.Int64
	run := func(limit int64) error {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := next.Add(1) - 1
					if k >= limit {
						return
					}
					i := int(k*7919) % len(shapes)
					out, err := s.Run(context.Background(), inputs[i])
					if err != nil {
						errs <- err
						return
					}
					got, _ := out["logits"].Float32s()
					if !bitEqual(got, want[i]) {
						errs <- fmt.Errorf("request %d (shape %v): logits differ from the serial run", k, shapes[i])
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	if err := run(warm); err != nil {
		t.Fatal(err)
	}
	rss0, heap0 := memory(t)
	if err := run(total); err != nil {
		t.Fatal(err)
	}
	rss1, heap1 := memory(t)
	t.Logf("after %d and %d requests: RSS %.1f → %.1f MB (%.2f×), Go heap in use %.1f → %.1f MB (%.2f×); GOMAXPROCS %d, %d workers, %d shapes, race detector %v",
		warm, total, mb(rss0), mb(rss1), float64(rss1)/float64(rss0), mb(heap0), mb(heap1), float64(heap1)/float64(heap0),
		goruntime.GOMAXPROCS(0), workers, len(shapes), raceEnabled)
	if r := float64(heap1) / float64(heap0); r > 1.2 {
		t.Errorf("the Go heap grew %.2f× between request %d and %d (%.1f → %.1f MB): something leaks per request", r, warm, total, mb(heap0), mb(heap1))
	}
	if r := float64(rss1) / float64(rss0); r > 1.2 && !raceEnabled {
		t.Errorf("RSS grew %.2f× between request %d and %d (%.1f → %.1f MB): something leaks per request", r, warm, total, mb(rss0), mb(rss1))
	}
}

// bitEqual reports whether a and b hold the same float32 bit patterns.
func bitEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func mb(n int64) float64 { return float64(n) / 1e6 }
