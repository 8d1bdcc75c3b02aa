package precision_test

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/precision"
	"github.com/xt2onnx/xt2onnx/runtime"
)

func buildNBits(t *testing.T, stream bool, opts precision.QuantizeOptions) (*graph.Model, int) {
	t.Helper()
	cfg, err := builder.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 5}, "random", builder.Options{Stream: stream, KVCache: true, Opset: 23})
	if err != nil {
		t.Fatal(err)
	}
	n, err := precision.Quantize(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, n
}

// maxAbsDiff returns max |a - b| and max |b|.
func maxAbsDiff(a, b []float32) (diff, scale float64) {
	for i := range a {
		diff = max(diff, math.Abs(float64(a[i]-b[i])))
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}

// The MatMulNBits form holds the DequantizeLinear form's weights: on each
// backend the two give the same logits within 1e-5 of the largest, and the
// native backend agrees with ONNX Runtime on the MatMulNBits file.
func TestQuantizeMatMulNBits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bits  int
		block int64
		level int64
	}{
		{"int4 block 32", 4, 32, 0},
		{"int4 block 16, accuracy level 1", 4, 16, 1},
		{"int8 block 32", 8, 32, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := precision.QuantizeOptions{Bits: tc.bits, BlockSize: tc.block, Format: precision.FormatMatMulNBits, AccuracyLevel: tc.level}
			m, n := buildNBits(t, false, opts)
			data := mustMarshalOpset(t, m)
			streamed, _ := buildNBits(t, true, opts)
			if !bytes.Equal(mustMarshalOpset(t, streamed), data) {
				t.Fatal("quantizing a streamed build gave other bytes than quantizing an in-memory one")
			}
			back, err := onnximport.Read(data)
			if err != nil {
				t.Fatal(err)
			}
			var nodes int
			for _, node := range back.Graph.Nodes {
				switch {
				case node.OpType == "MatMulNBits" && node.Domain == precision.DomainMicrosoft:
					nodes++
				case node.OpType == "DequantizeLinear":
					t.Fatalf("node %s: a MatMulNBits file has DequantizeLinear", node.Name)
				}
			}
			if nodes != n || n == 0 {
				t.Fatalf("%d MatMulNBits nodes, Quantize reported %d", nodes, n)
			}
			if v := back.Opset(precision.DomainMicrosoft); v != 1 {
				t.Fatalf("com.microsoft opset %d, want 1", v)
			}
			dq, _ := buildQ(t, false, tc.bits, tc.block)
			dqData := mustMarshalOpset(t, dq)
			got := map[string][]float32{}
			for _, backend := range []string{"ort", "native"} {
				got[backend] = run(t, data, backend)
				want := run(t, dqData, backend)
				d, scale := maxAbsDiff(got[backend], want)
				t.Logf("%s: MatMulNBits vs DequantizeLinear: max abs %.3g (largest logit %.3g)", backend, d, scale)
				if d > 1e-5*max(1, scale) {
					t.Errorf("%s: MatMulNBits logits differ from DequantizeLinear's by %.3g, want ≤ 1e-5 × %.3g", backend, d, max(1, scale))
				}
			}
			d, scale := maxAbsDiff(got["native"], got["ort"])
			t.Logf("native vs ort on MatMulNBits: max abs %.3g", d)
			if d > 1e-5*max(1, scale) {
				t.Errorf("native vs ONNX Runtime on the MatMulNBits file: max abs %.3g, want ≤ 1e-5 × %.3g", d, max(1, scale))
			}
		})
	}
}

// handModel is Y = X · W for one hand-written weight W [18, 2].
func handModel() *graph.Model {
	w := make([]float32, 18*2)
	set := func(r, c int, v float32) { w[r*2+c] = v }
	// Column 0, block 0 (rows 0–15): max 7, scale 1: 7 → 15, -3 → 5.
	set(0, 0, 7)
	set(1, 0, -3)
	// Column 1, block 0: max 14, scale 2: -14 → 1, 4 → 10.
	set(2, 1, -14)
	set(3, 1, 4)
	// Column 0, block 1 (rows 16, 17; 14 rows of padding): max 3.5, scale
	// 0.5: 0.5 → 9, -3.5 → 1. Column 1, block 1: zero, scale 0.
	set(16, 0, 0.5)
	set(17, 0, -3.5)
	return &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: 23}},
		Graph: &graph.Graph{
			Name:         "hand",
			Inputs:       []graph.ValueInfo{{Name: "X", DType: graph.Float, Shape: []graph.Dim{graph.Fixed(1), graph.Fixed(18)}}},
			Outputs:      []graph.ValueInfo{{Name: "Y", DType: graph.Float, Shape: []graph.Dim{graph.Fixed(1), graph.Fixed(2)}}},
			Initializers: []*graph.Tensor{graph.FloatTensor("W", []int64{18, 2}, w)},
			Nodes:        []*graph.Node{{Name: "mm", OpType: "MatMul", Inputs: []string{"X", "W"}, Outputs: []string{"Y"}}},
		},
	}
}

// TestMatMulNBitsPacking checks the bytes of B and the scales against a
// weight quantized by hand (the nibble order, the transposed [N, k_blocks,
// blob_size] layout, the padding of a partial block) and that both
// backends multiply by that weight exactly.
func TestMatMulNBitsPacking(t *testing.T) {
	m := handModel()
	if _, err := precision.Quantize(m, precision.QuantizeOptions{Bits: 4, BlockSize: 16, Format: precision.FormatMatMulNBits}); err != nil {
		t.Fatal(err)
	}
	pad := func(b ...byte) []byte { return append(b, bytes.Repeat([]byte{0x88}, 8-len(b))...) }
	wantB := bytes.Join([][]byte{
		pad(0x5F),       // column 0, block 0: codes 15 (row 0, low nibble), 5
		pad(0x19),       // column 0, block 1: codes 9, 1
		pad(0x88, 0xA1), // column 1, block 0: codes 8, 8, 1, 10
		pad(),           // column 1, block 1
	}, nil)
	wantScales := []float32{1, 0.5, 2, 0}
	data := mustMarshalOpset(t, m)
	back, err := onnximport.Read(data)
	if err != nil {
		t.Fatal(err)
	}
	inits := map[string]*graph.Tensor{}
	for _, it := range back.Graph.Initializers {
		inits[it.Name] = it
	}
	b, s := inits["W/nbits"], inits["W/scale"]
	if b == nil || s == nil {
		t.Fatalf("initializers %v: want W/nbits and W/scale", back.Graph.Initializers)
	}
	if b.DType != graph.Uint8 || !equal64(b.Dims, []int64{2, 2, 8}) || !bytes.Equal(b.Raw, wantB) {
		t.Errorf("B: %s %v % x\nwant uint8 [2 2 8] % x", b.DType, b.Dims, b.Raw, wantB)
	}
	sv, _ := s.Float32s()
	if !equal64(s.Dims, []int64{2, 2}) || len(sv) != 4 || sv[0] != wantScales[0] || sv[1] != wantScales[1] || sv[2] != wantScales[2] || sv[3] != wantScales[3] {
		t.Errorf("scales: %v %v, want [2 2] %v", s.Dims, sv, wantScales)
	}
	node := back.Graph.Nodes[0]
	for _, a := range []struct {
		name string
		want int64
	}{{"K", 18}, {"N", 2}, {"bits", 4}, {"block_size", 16}, {"accuracy_level", 0}} {
		if v, ok := node.Attr(a.name); !ok || v.I != a.want {
			t.Errorf("attribute %s = %v, want %d", a.name, v.I, a.want)
		}
	}
	x := make([]float32, 18)
	for i := range x {
		x[i] = float32(i + 1)
	}
	// Y = X · W with X = 1, 2, …, 18.
	want := []float32{1*7 + 2*-3 + 17*0.5 + 18*-3.5, 3*-14 + 4*4}
	for _, backend := range []string{"ort", "native"} {
		sess, err := runtime.OpenBytes(data, runtime.Options{Backend: backend})
		if err != nil {
			t.Fatal(err)
		}
		in, _ := runtime.NewFloat32([]int64{1, 18}, x)
		out, err := sess.Run(context.Background(), map[string]*runtime.Tensor{"X": in})
		sess.Close()
		if err != nil {
			t.Fatalf("%s: %v", backend, err)
		}
		y, _ := out["Y"].Float32s()
		if len(y) != 2 || math.Abs(float64(y[0]-want[0])) > 1e-4 || math.Abs(float64(y[1]-want[1])) > 1e-4 {
			t.Errorf("%s: Y = %v, want %v", backend, y, want)
		}
	}
}

func equal64(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestQuantizeMatMulNBitsRefuses(t *testing.T) {
	nb := precision.FormatMatMulNBits
	for _, tc := range []struct {
		name string
		opts precision.QuantizeOptions
		want string
	}{
		{"block 24", precision.QuantizeOptions{Bits: 4, BlockSize: 24, Format: nb}, "power of two of at least 16"},
		{"block 8", precision.QuantizeOptions{Bits: 4, BlockSize: 8, Format: nb}, "power of two of at least 16"},
		{"3 bits", precision.QuantizeOptions{Bits: 3, BlockSize: 32, Format: nb}, "want 8 (int8) or 4 (int4)"},
		{"unknown format", precision.QuantizeOptions{Bits: 4, Format: "qdq"}, `want dq or matmulnbits`},
		{"accuracy level 5", precision.QuantizeOptions{Bits: 4, Format: nb, AccuracyLevel: 5}, "accuracy level 5"},
		{"accuracy level with dq", precision.QuantizeOptions{Bits: 4, AccuracyLevel: 4}, "attribute of MatMulNBits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := precision.Quantize(handModel(), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
