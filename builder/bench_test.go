package builder_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// BenchmarkExport measures Build plus export.Marshal of the "base" preset
// (6 layers, dim 512, 8 heads) with random weights.
func BenchmarkExport(b *testing.B) {
	cfg := preset(b, "base")
	b.ReportAllocs()
	var size int
	for b.Loop() {
		m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{})
		if err != nil {
			b.Fatal(err)
		}
		data, err := export.Marshal(m, export.Options{})
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size)/1e6, "model-MB")
}

// baseModel is the exported "base" preset, built once per process.
var baseModel = sync.OnceValues(func() ([]byte, error) {
	cfg, err := builder.Preset("base")
	if err != nil {
		return nil, err
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{})
	if err != nil {
		return nil, err
	}
	return export.Marshal(m, export.Options{})
})

// BenchmarkORTForward measures one forward pass of the "base" preset with
// ONNX Runtime (default thread settings) on random tokens.
func BenchmarkORTForward(b *testing.B) {
	for _, bc := range []struct {
		name       string
		batch, seq int64
	}{{"b1_s128", 1, 128}, {"b8_s512", 8, 512}} {
		b.Run(bc.name, func(b *testing.B) {
			requireORT(b)
			model, err := baseModel()
			if err != nil {
				b.Fatal(err)
			}
			sess, err := runtime.OpenBytes(model, runtime.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer sess.Close()
			r := rand.New(rand.NewPCG(1, 2))
			x := make([]int64, bc.batch*bc.seq)
			for i := range x {
				x[i] = r.Int64N(1024)
			}
			xt, err := runtime.NewInt64([]int64{bc.batch, bc.seq}, x)
			if err != nil {
				b.Fatal(err)
			}
			feeds := map[string]*runtime.Tensor{builder.InputTokens: xt}
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := sess.Run(ctx, feeds); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if s := b.Elapsed().Seconds(); s > 0 {
				b.ReportMetric(float64(bc.batch*bc.seq)*float64(b.N)/s, "tokens/s")
			}
		})
	}
}
