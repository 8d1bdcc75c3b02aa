package generate

import (
	"context"
	"fmt"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers "native"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"    // registers "ort"
)

// BenchmarkCachedStep times one cached generation step (one new token
// after context cached positions) of preset base's size with max_seq_len
// 1024, on both backends, one thread. Issue 12's target: the step at
// context 1000 costs ≤ 1.5× the step at context 64:
//
//	go test ./runtime/generate -run '^$' -bench CachedStep -benchtime=20x
func BenchmarkCachedStep(b *testing.B) {
	cfg, err := builder.Preset("base")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Wrapper.MaxSeqLen = 1024
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "preset base", builder.Options{KVCache: true})
	if err != nil {
		b.Fatal(err)
	}
	model, err := export.Marshal(m, export.Options{})
	if err != nil {
		b.Fatal(err)
	}
	// "ort" binds the outputs to reused buffers (RunInto), as Generate
	// does; "ort-copy" has ONNX Runtime allocate them and copies them out,
	// as before.
	for _, variant := range []string{"ort", "ort-copy", "native"} {
		backend := variant
		if variant == "ort-copy" {
			backend = "ort"
		}
		for _, ctxLen := range []int{64, 1000} {
			b.Run(fmt.Sprintf("%s/context%d", variant, ctxLen), func(b *testing.B) {
				sess, err := runtime.OpenBytes(model, runtime.Options{Backend: backend, IntraOpThreads: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer sess.Close()
				g, err := New(sess, MetaFromConfig(cfg, true))
				if err != nil {
					b.Fatal(err)
				}
				row := make([]int64, ctxLen+1)
				for i := range row {
					row[i] = int64(i*7919) % int64(cfg.Wrapper.NumTokens)
				}
				out := [][]int64{row}
				ctx := context.Background()
				// The prompt's cache, then the step on the last token, as
				// Generate runs it; every iteration repeats that step.
				prompt := [][]int64{row[:ctxLen]}
				_, past, err := g.run(ctx, prompt, 0, 1, nil, true, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				var bufs *stepBuffers
				if ir, ok := sess.(runtime.IntoRunner); ok && variant != "ort-copy" {
					bufs = &stepBuffers{runner: ir, maxSeq: g.meta.MaxSeqLen}
				}
				if _, _, err := g.run(ctx, out, ctxLen, 1, past, true, bufs, nil); err != nil { // warm-up
					b.Fatal(err)
				}
				for b.Loop() {
					if _, _, err := g.run(ctx, out, ctxLen, 1, past, true, bufs, nil); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
