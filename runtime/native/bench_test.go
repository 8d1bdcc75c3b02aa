package native

import (
	"context"
	"fmt"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/internal/hostile"
	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort" // the reference backend
)

// baseModel exports preset "base" (6 layers, dim 512, 8 heads) with
// seeded random weights.
func baseModel(b *testing.B) []byte {
	b.Helper()
	cfg, err := builder.Preset("base")
	if err != nil {
		b.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "preset base", builder.Options{})
	if err != nil {
		b.Fatal(err)
	}
	data, err := export.Marshal(m, export.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkForward times one forward pass of preset "base" with the native
// backend and ONNX Runtime, at batch 1 × seq 128 and batch 8 × seq 512
// (the latter slow on the native backend: run it with -benchtime=1x):
//
//	go test ./runtime/native -run '^$' -bench Forward -benchtime=3x -count=3
//
// The program for a shape is compiled (and ONNX Runtime's session warmed
// up) by one untimed run first.
func BenchmarkForward(b *testing.B) {
	model := baseModel(b)
	for _, shape := range [][2]int64{{1, 128}, {8, 512}} {
		for _, threads := range []int{1, 2} {
			for _, backend := range []string{"native", "ort"} {
				b.Run(fmt.Sprintf("%s/threads%d/batch%d_seq%d", backend, threads, shape[0], shape[1]), func(b *testing.B) {
					b.ReportAllocs()
					s, err := runtime.OpenBytes(model, runtime.Options{Backend: backend, IntraOpThreads: threads})
					if err != nil {
						b.Fatal(err)
					}
					defer s.Close()
					n := shape[0] * shape[1]
					ids := make([]int64, n)
					for i := range ids {
						ids[i] = int64(i*7919) % 1024
					}
					x, err := runtime.NewInt64([]int64{shape[0], shape[1]}, ids)
					if err != nil {
						b.Fatal(err)
					}
					in := map[string]*runtime.Tensor{}
					for _, info := range s.Inputs() {
						switch info.DType {
						case runtime.Int64:
							in[info.Name] = x
						case runtime.Bool:
							mask := make([]bool, n)
							for i := range mask {
								mask[i] = true
							}
							in[info.Name], _ = runtime.NewBool([]int64{shape[0], shape[1]}, mask)
						default:
							b.Fatalf("unexpected input %s", info)
						}
					}
					if _, err := s.Run(context.Background(), in); err != nil {
						b.Fatal(err)
					}
					b.ResetTimer()
					for b.Loop() {
						if _, err := s.Run(context.Background(), in); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
				})
			}
		}
	}
}

// BenchmarkCompileChain opens a chain of N Relu nodes and runs it once,
// which compiles it: the time must grow linearly with N.
func BenchmarkCompileChain(b *testing.B) {
	for _, n := range []int{1024, 4096, 16384} {
		model := hostile.Chain(n)
		x, _ := runtime.NewFloat32([]int64{1, 8}, make([]float32, 8))
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				s, err := runtime.OpenBytes(model, runtime.Options{Backend: "native"})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x}); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/node")
		})
	}
}
