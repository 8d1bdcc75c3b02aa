package precision_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/precision"
)

func buildQ(t *testing.T, stream bool, bits int, block int64) (*graph.Model, int) {
	t.Helper()
	cfg, err := builder.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 5}, "random", builder.Options{Stream: stream, KVCache: true, Opset: 23})
	if err != nil {
		t.Fatal(err)
	}
	n, err := precision.Quantize(m, precision.QuantizeOptions{Bits: bits, BlockSize: block})
	if err != nil {
		t.Fatal(err)
	}
	return m, n
}

// Every MatMul weight is quantized: dequantized (q · scale, as
// DequantizeLinear computes) it is within half a step of the float32
// weight, each block's largest value is exact to float32 rounding, and the
// model runs on both backends close to float32.
func TestQuantize(t *testing.T) {
	cfg, _ := builder.Preset("tiny")
	ref, err := builder.Build(cfg, builder.RandomWeights{Seed: 5}, "random", builder.Options{KVCache: true, Opset: 23})
	if err != nil {
		t.Fatal(err)
	}
	weights := map[string]*graph.Tensor{}
	for _, it := range ref.Graph.Initializers {
		weights[it.Name] = it
	}
	refLogits := run(t, mustMarshalOpset(t, ref), "ort")
	for _, tc := range []struct {
		name   string
		bits   int
		block  int64
		maxRel float64
	}{
		{"int8 block 32", 8, 32, 2e-2},
		{"int8 block 5 (partial blocks)", 8, 5, 2e-2},
		{"int4 block 16", 4, 16, 0.25},
		{"int4 block 7 (odd)", 4, 7, 0.25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, n := buildQ(t, false, tc.bits, tc.block)
			data := mustMarshalOpset(t, m)
			streamed, _ := buildQ(t, true, tc.bits, tc.block)
			if !bytes.Equal(mustMarshalOpset(t, streamed), data) {
				t.Fatal("quantizing a streamed build gave other bytes than quantizing an in-memory one")
			}
			back, err := onnximport.Read(data)
			if err != nil {
				t.Fatal(err)
			}
			inits := map[string]*graph.Tensor{}
			for _, it := range back.Graph.Initializers {
				inits[it.Name] = it
			}
			var checked int
			for _, node := range back.Graph.Nodes {
				if node.OpType != "DequantizeLinear" {
					continue
				}
				checked++
				w := weights[node.Outputs[0]]
				q, s := inits[node.Inputs[0]], inits[node.Inputs[1]]
				if w == nil || q == nil || s == nil {
					t.Fatalf("%s: weight, values or scales missing", node.Name)
				}
				checkDequantized(t, w, q, s, tc.bits, tc.block)
			}
			if checked != n || n == 0 {
				t.Fatalf("%d DequantizeLinear nodes, Quantize reported %d", checked, n)
			}
			for _, backend := range []string{"ort", "native"} {
				got := run(t, data, backend)
				var maxAbs, maxRef float64
				for i := range got {
					maxAbs = max(maxAbs, math.Abs(float64(got[i]-refLogits[i])))
					maxRef = max(maxRef, math.Abs(float64(refLogits[i])))
				}
				if maxAbs == 0 || maxAbs/maxRef > tc.maxRel {
					t.Errorf("%s: max abs logit error %.3g (%.3g of the largest), want in (0, %.3g]", backend, maxAbs, maxAbs/maxRef, tc.maxRel)
				}
			}
		})
	}
}

func checkDequantized(t *testing.T, w, q, s *graph.Tensor, bits int, block int64) {
	t.Helper()
	rows, cols := w.Dims[0], w.Dims[1]
	want := graph.Int8
	qmax := 127.0
	if bits == 4 {
		want, qmax = graph.Int4, 7
	}
	if q.DType != want || s.DType != graph.Float || s.Dims[0] != (rows+block-1)/block || s.Dims[1] != cols {
		t.Fatalf("%s: values %s %v, scales %s %v", w.Name, q.DType, q.Dims, s.DType, s.Dims)
	}
	wv, _ := w.Float32s()
	sv, _ := s.Float32s()
	for r := range rows {
		for c := range cols {
			i := r*cols + c
			var qi int
			if bits == 8 {
				qi = int(int8(q.Raw[i]))
			} else {
				qi = int(int8(q.Raw[i/2]<<(4*(1-i%2))) >> 4)
			}
			if math.Abs(float64(qi)) > qmax {
				t.Fatalf("%s[%d,%d]: %d is outside ±%g", w.Name, r, c, qi, qmax)
			}
			sc := float64(sv[(r/block)*cols+c])
			if d := math.Abs(float64(qi)*sc - float64(wv[i])); d > sc/2*(1+1e-6)+1e-12 {
				t.Fatalf("%s[%d,%d]: %g dequantizes to %d × %g = %g, off by %g > half a step", w.Name, r, c, wv[i], qi, sc, float64(qi)*sc, d)
			}
		}
	}
}

func mustMarshalOpset(t *testing.T, m *graph.Model) []byte {
	t.Helper()
	b, err := export.Marshal(m, export.Options{Opset: m.Opset(graph.DomainONNX)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestQuantizeRefuses(t *testing.T) {
	cfg, _ := builder.Preset("tiny")
	for _, tc := range []struct {
		name  string
		opset int64
		opts  precision.QuantizeOptions
		want  string
	}{
		{"opset 18", 18, precision.QuantizeOptions{Bits: 8}, "opset 21"},
		{"3 bits", 23, precision.QuantizeOptions{Bits: 3}, "want 8 (int8) or 4 (int4)"},
		{"block 1", 23, precision.QuantizeOptions{Bits: 8, BlockSize: 1}, "at least 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := builder.Build(cfg, builder.RandomWeights{}, "random", builder.Options{Opset: tc.opset})
			if err != nil {
				t.Fatal(err)
			}
			_, err = precision.Quantize(m, tc.opts)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
