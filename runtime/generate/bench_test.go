package generate

import (
	"context"
	"fmt"
	"strings"
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
//
// "buffer" variants use the buffer layout (builder.KVLayoutBuffer): the
// cache stays in the generator's buffers, which the step reads in place
// (at context 64 a capacity of 64, at 1000 of 1024, as Generate grows
// them). The others use the concat layout: "ort" and "native" write the
// outputs into reused buffers (RunInto), as Generate does; "ort-copy" has
// ONNX Runtime allocate them and copies them out.
func BenchmarkCachedStep(b *testing.B) {
	cfg, err := builder.Preset("base")
	if err != nil {
		b.Fatal(err)
	}
	cfg.Wrapper.MaxSeqLen = 1024
	models := map[builder.KVLayout][]byte{}
	var meta Meta
	for _, layout := range []builder.KVLayout{builder.KVLayoutConcat, builder.KVLayoutBuffer} {
		m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "preset base", builder.Options{KVCache: true, KVLayout: layout})
		if err != nil {
			b.Fatal(err)
		}
		if models[layout], err = export.Marshal(m, export.Options{}); err != nil {
			b.Fatal(err)
		}
		if meta, err = MetaOf(m); err != nil {
			b.Fatal(err)
		}
	}
	for _, variant := range []string{"ort-buffer", "native-buffer", "ort", "ort-copy", "native"} {
		backend, _, _ := strings.Cut(variant, "-")
		layout := builder.KVLayoutConcat
		if strings.HasSuffix(variant, "-buffer") {
			layout = builder.KVLayoutBuffer
		}
		for _, ctxLen := range []int{64, 1000} {
			b.Run(fmt.Sprintf("%s/context%d", variant, ctxLen), func(b *testing.B) {
				sess, err := runtime.OpenBytes(models[layout], runtime.Options{Backend: backend, IntraOpThreads: 1})
				if err != nil {
					b.Fatal(err)
				}
				defer sess.Close()
				g, err := New(sess, meta)
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
				var step func() error
				if layout == builder.KVLayoutBuffer {
					st, err := newKVBuffers(g.buffers, 1, grownCapacity(ctxLen, g.meta.MaxSeqLen), g.meta.MaxSeqLen)
					if err != nil {
						b.Fatal(err)
					}
					if _, _, err := g.runBuffered(ctx, prompt, 0, 1, st, true, nil, nil, nil); err != nil {
						b.Fatal(err)
					}
					var logits []float32
					step = func() error {
						_, _, err := g.runBuffered(ctx, out, ctxLen, 1, st, false, nil, &logits, nil)
						return err
					}
				} else {
					_, past, err := g.run(ctx, prompt, 0, 1, nil, true, nil, nil)
					if err != nil {
						b.Fatal(err)
					}
					var bufs *stepBuffers
					if ir, ok := sess.(runtime.IntoRunner); ok && variant != "ort-copy" {
						bufs = &stepBuffers{runner: ir, maxSeq: g.meta.MaxSeqLen}
					}
					step = func() error {
						_, _, err := g.run(ctx, out, ctxLen, 1, past, true, bufs, nil)
						return err
					}
				}
				if err := step(); err != nil { // warm-up
					b.Fatal(err)
				}
				for b.Loop() {
					if err := step(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkSeq2Seq times generating 16 tokens from a 128-token source with
// an XTransformer of preset base's size (dim 512, 6 + 6 layers, 8 heads),
// one thread, ONNX Runtime: "whole" runs the whole model (encoder and
// decoder) at every step, as the only path before the encoder and decoder
// parts; "parts" runs the encoder part once and the decoder part on the
// whole target at every step; "parts-cached" adds the decoder's KV cache
// (concat layout), "parts-buffer" the buffer layout.
// Issue 12's target: parts-cached ≥ 3× whole:
//
//	go test ./runtime/generate -run '^$' -bench Seq2Seq -benchtime=1x
func BenchmarkSeq2Seq(b *testing.B) {
	cfg, err := builder.ParseConfig([]byte(`{"kind": "XTransformer", "wrapper": {"dim": 512,
		"enc_num_tokens": 1024, "enc_depth": 6, "enc_heads": 8, "enc_max_seq_len": 256,
		"dec_num_tokens": 1024, "dec_depth": 6, "dec_heads": 8, "dec_max_seq_len": 256}}`))
	if err != nil {
		b.Fatal(err)
	}
	open := func(b *testing.B, opts builder.Options) (runtime.Session, Meta) {
		m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "random", opts)
		if err != nil {
			b.Fatal(err)
		}
		meta, err := MetaOf(m)
		if err != nil {
			b.Fatal(err)
		}
		data, err := export.Marshal(m, export.Options{})
		if err != nil {
			b.Fatal(err)
		}
		s, err := runtime.OpenBytes(data, runtime.Options{Backend: "ort", IntraOpThreads: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s, meta
	}
	src := [][]int64{make([]int64, 128)}
	for i := range src[0] {
		src[0][i] = int64(i*7919) % 1024
	}
	start := [][]int64{{1}}
	const newTokens = 16
	ctx := context.Background()
	b.Run("whole", func(b *testing.B) {
		s, _ := open(b, builder.Options{})
		x, _ := runtime.NewInt64([]int64{1, 128}, src[0])
		keep := make([]bool, 128)
		for i := range keep {
			keep[i] = true
		}
		mask, _ := runtime.NewBool([]int64{1, 128}, keep)
		for b.Loop() {
			tgt := append([]int64(nil), start[0]...)
			for range newTokens {
				t, _ := runtime.NewInt64([]int64{1, int64(len(tgt))}, tgt)
				in := map[string]*runtime.Tensor{builder.InputSource: x, builder.InputTarget: t}
				for _, i := range s.Inputs() {
					if i.Name == builder.InputSourceMask {
						in[i.Name] = mask
					}
				}
				outs, err := s.Run(ctx, in)
				if err != nil {
					b.Fatal(err)
				}
				l, _ := outs[builder.OutputLogits].Float32s()
				tgt = append(tgt, int64(argmax(l[len(l)-1024:])))
			}
		}
	})
	for _, v := range []struct {
		name   string
		kv     bool
		layout builder.KVLayout
	}{{"parts", false, ""}, {"parts-cached", true, builder.KVLayoutConcat}, {"parts-buffer", true, builder.KVLayoutBuffer}} {
		b.Run(v.name, func(b *testing.B) {
			enc, _ := open(b, builder.Options{Part: builder.PartEncoder})
			dec, meta := open(b, builder.Options{Part: builder.PartDecoder, KVCache: v.kv, KVLayout: v.layout})
			s, err := NewSeq2Seq(enc, dec, meta)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := s.Generate(ctx, src, nil, start, Options{MaxNew: newTokens, Greedy: true}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
