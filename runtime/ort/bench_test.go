package ort

import (
	"context"
	"testing"
	"time"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// BenchmarkSessionVsBare times one forward pass of preset "base" at batch
// 1 × seq 1 (a decode step's shape) through this backend's session, with
// Run and with RunInto (output bound once), and through bare
// onnxruntime_go: an AdvancedSession with its input and output tensors
// allocated once. One thread each; the ratios runinto/bare and run/bare
// are this package's overhead (issue 12's target: ≤ 1.03):
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
	s, err := runtime.OpenBytes(model, opts) // also loads the library
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	so, err := sessionOptions("", opts)
	if err != nil {
		b.Fatal(err)
	}
	defer so.Destroy()
	bx, err := onnx.NewTensor(onnx.NewShape(1, 1), ids)
	if err != nil {
		b.Fatal(err)
	}
	defer bx.Destroy()
	by, err := onnx.NewEmptyTensor[float32](onnx.NewShape(1, 1, vocab))
	if err != nil {
		b.Fatal(err)
	}
	defer by.Destroy()
	bare, err := onnx.NewAdvancedSessionWithONNXData(model, []string{"x"}, []string{"logits"}, []onnx.Value{bx}, []onnx.Value{by}, so)
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Destroy()
	x, _ := runtime.NewInt64([]int64{1, 1}, ids)
	out, _ := runtime.NewFloat32([]int64{1, 1, vocab}, make([]float32, vocab))
	in, into := map[string]*runtime.Tensor{"x": x}, map[string]*runtime.Tensor{"logits": out}
	ir := s.(runtime.IntoRunner)
	ctx := context.Background()
	// Each iteration runs all three, in turn, so that the load of a shared
	// machine weighs on them alike; the metrics are the mean times and the
	// ratios to bare.
	var tRun, tInto, tBare time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Run(ctx, in); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := ir.RunInto(ctx, in, into); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := bare.Run(); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		tRun, tInto, tBare = tRun+t1.Sub(t0), tInto+t2.Sub(t1), tBare+t3.Sub(t2)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tRun.Microseconds())/n, "run-µs/op")
	b.ReportMetric(float64(tInto.Microseconds())/n, "runinto-µs/op")
	b.ReportMetric(float64(tBare.Microseconds())/n, "bare-µs/op")
	b.ReportMetric(float64(tRun)/float64(tBare), "run/bare")
	b.ReportMetric(float64(tInto)/float64(tBare), "runinto/bare")
}
