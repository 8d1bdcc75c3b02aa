package kernels

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

func benchData(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Sin(float64(i) * 0.01))
	}
	return v
}

// BenchmarkMatMul multiplies attention-sized batches: [8,8,512,64] ×
// [8,8,64,512] in float32 (2.1 GFLOP per op).
func BenchmarkMatMul(b *testing.B) {
	a := fromSlice([]int{8, 8, 512, 64}, benchData(8*8*512*64))
	c := fromSlice([]int{8, 8, 64, 512}, benchData(8*8*64*512))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := matmul(nil, a, c); err != nil {
			b.Fatal(err)
		}
	}
	flops := 2.0 * 64 * 512 * 512 * 64
	b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSoftmax normalizes [8,8,512,512] float32 scores along the last
// axis.
func BenchmarkSoftmax(b *testing.B) {
	x := fromSlice([]int{8, 8, 512, 512}, benchData(8*8*512*512))
	k := softmaxKernel(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := k(nil, []*tensor.Dense{x}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(8*8*512*512)*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
}

func softmaxKernel(b *testing.B) Kernel {
	k, err := runOpKernel("Softmax", 13, 1)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

// runOpKernel builds a default-registry kernel for an attribute-free node
// with nIn inputs.
func runOpKernel(op string, opset int64, nIn int) (Kernel, error) {
	s, err := DefaultRegistry().Lookup("", op, opset)
	if err != nil {
		return nil, err
	}
	n := &Node{Opset: opset}
	n.Node = &graph.Node{Name: "bench", OpType: op, Outputs: []string{"y"}}
	for i := 0; i < nIn; i++ {
		n.Inputs = append(n.Inputs, "x")
	}
	return s.NewKernel(n)
}
