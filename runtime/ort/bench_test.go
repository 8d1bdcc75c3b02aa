package ort

import (
	"context"
	"testing"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// BenchmarkSessionVsBare times one forward pass of preset "base" at batch
// 1 × seq 1 (a decode step's shape) through this backend's session, with
// Run and with RunInto (output bound once), and through bare
// onnxruntime_go: an AdvancedSession with its input and output tensors
// allocated once. One thread each; the ratio session/bare is the overhead
// of this package (issue 12's target: ≤ 1.03):
//
//	go test ./runtime/ort -run '^$' -bench SessionVsBare -benchtime=200x -count=3
func BenchmarkSessionVsBare(b *testing.B) {
	cfg, err := builder.Preset("base")
	if err != nil {
		b.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "preset base", builder.Options{})
	if err != nil {
		b.Fatal(err)
	}
	model, err := export.Marshal(m, export.Options{})
	if err != nil {
		b.Fatal(err)
	}
	opts := runtime.Options{Backend: "ort", IntraOpThreads: 1}
	ids := []int64{7}
	vocab := int64(cfg.Wrapper.NumTokens)
	b.Run("session/Run", func(b *testing.B) {
		s, err := runtime.OpenBytes(model, opts)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		x, _ := runtime.NewInt64([]int64{1, 1}, ids)
		in := map[string]*runtime.Tensor{"x": x}
		for b.Loop() {
			if _, err := s.Run(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session/RunInto", func(b *testing.B) {
		s, err := runtime.OpenBytes(model, opts)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		x, _ := runtime.NewInt64([]int64{1, 1}, ids)
		out, _ := runtime.NewFloat32([]int64{1, 1, vocab}, make([]float32, vocab))
		in, into := map[string]*runtime.Tensor{"x": x}, map[string]*runtime.Tensor{"logits": out}
		ir := s.(runtime.IntoRunner)
		for b.Loop() {
			if _, err := ir.RunInto(context.Background(), in, into); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare", func(b *testing.B) {
		s, err := runtime.OpenBytes(model, opts) // loads the library
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		so, err := sessionOptions("", opts)
		if err != nil {
			b.Fatal(err)
		}
		defer so.Destroy()
		x, err := onnx.NewTensor(onnx.NewShape(1, 1), ids)
		if err != nil {
			b.Fatal(err)
		}
		defer x.Destroy()
		y, err := onnx.NewEmptyTensor[float32](onnx.NewShape(1, 1, vocab))
		if err != nil {
			b.Fatal(err)
		}
		defer y.Destroy()
		bare, err := onnx.NewAdvancedSessionWithONNXData(model, []string{"x"}, []string{"logits"}, []onnx.Value{x}, []onnx.Value{y}, so)
		if err != nil {
			b.Fatal(err)
		}
		defer bare.Destroy()
		for b.Loop() {
			if err := bare.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
