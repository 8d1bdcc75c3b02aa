package precision_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/precision"
	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/native"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"
)

const fixtures = "../fixtures/xtransformers-1.9.2"

func TestFloat16Bits(t *testing.T) {
	for _, tc := range []struct {
		f    float32
		want uint16
	}{
		{0, 0x0000},
		{float32(math.Copysign(0, -1)), 0x8000},
		{1, 0x3c00},
		{-2, 0xc000},
		{1.0 / 3, 0x3555},
		{65504, 0x7bff},
		{1e6, 0x7bff},                      // saturates
		{-math.MaxFloat32, 0xfbff},         // the mask fill: float16's lowest
		{float32(math.Inf(1)), 0x7c00},     // infinities stay
		{1.0 / (1 << 24), 0x0001},          // smallest subnormal
		{1.0 / (1 << 25), 0x0000},          // half of it: ties to even (0)
		{3.0 / (1 << 25), 0x0002},          // 1.5 units: ties to even (2)
		{1 + 1.0/(1<<11), 0x3c00},          // tie between 1 and the next: even
		{1 + 3.0/(1<<11), 0x3c02},          // tie: even upwards
		{float32(1.0 / (1 << 14)), 0x0400}, // smallest normal
	} {
		if got := precision.Float16Bits(tc.f); got != tc.want {
			t.Errorf("Float16Bits(%g) = %#04x, want %#04x", tc.f, got, tc.want)
		}
	}
}

// Every float16 and bfloat16 value survives float32 and back unchanged, so
// a half-precision checkpoint exported in its own precision is bit-exact.
func TestHalfRoundTripIsExact(t *testing.T) {
	for h := range 1 << 16 {
		f := safetensors.F16ToFloat32(uint16(h))
		if f == f && precision.Float16Bits(f) != uint16(h) {
			t.Fatalf("float16 %#04x -> %g -> %#04x", h, f, precision.Float16Bits(f))
		}
		b := safetensors.BF16ToFloat32(uint16(h))
		if b == b && precision.BFloat16Bits(b) != uint16(h) {
			t.Fatalf("bfloat16 %#04x -> %g -> %#04x", h, b, precision.BFloat16Bits(b))
		}
	}
}

func build(t *testing.T, preset string, stream bool, dt graph.DType) *graph.Model {
	t.Helper()
	cfg, err := builder.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 5}, "random", builder.Options{Stream: stream, KVCache: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := precision.Convert(m, dt); err != nil {
		t.Fatal(err)
	}
	return m
}

// A converted model runs on both backends with float32 inputs and outputs,
// close to the float32 model; converting a streamed build gives the same
// bytes as converting an in-memory one.
func TestConvertRunsOnBothBackends(t *testing.T) {
	ref := run(t, mustMarshal(t, build(t, "tiny", false, graph.Float)), "ort")
	for _, tc := range []struct {
		dt     graph.DType
		maxRel float64 // of the max abs error, relative to the largest logit
	}{
		{graph.Float16, 5e-3},
		{graph.BFloat16, 3e-2},
	} {
		t.Run(tc.dt.String(), func(t *testing.T) {
			m := build(t, "tiny", false, tc.dt)
			data := mustMarshal(t, m)
			if streamed := mustMarshal(t, build(t, "tiny", true, tc.dt)); !bytes.Equal(streamed, data) {
				t.Fatal("converting a streamed build gave other bytes than converting an in-memory one")
			}
			if v, _ := m.MetadataValue(precision.MetaDType); v != tc.dt.String() {
				t.Errorf("metadata %s = %q", precision.MetaDType, v)
			}
			var half int
			for _, it := range m.Graph.Initializers {
				if it.DType == tc.dt {
					half++
				}
			}
			if half < len(m.Graph.Initializers)/2 {
				t.Errorf("%d of %d initializers are %s", half, len(m.Graph.Initializers), tc.dt)
			}
			for _, v := range append(append([]graph.ValueInfo(nil), m.Graph.Inputs...), m.Graph.Outputs...) {
				if v.DType != graph.Int64 && v.DType != graph.Float {
					t.Errorf("%s is %s; inputs and outputs stay float32", v.Name, v.DType)
				}
			}
			for _, backend := range []string{"ort", "native"} {
				got := run(t, data, backend)
				var maxAbs, maxRef float64
				for i := range got {
					maxAbs = max(maxAbs, math.Abs(float64(got[i]-ref[i])))
					maxRef = max(maxRef, math.Abs(float64(ref[i])))
				}
				if maxAbs/maxRef > tc.maxRel || maxAbs == 0 {
					t.Errorf("%s: max abs error %.3g against float32 (%.3g of the largest logit), want in (0, %.3g]", backend, maxAbs, maxAbs/maxRef, tc.maxRel)
				}
			}
		})
	}
}

func mustMarshal(t *testing.T, m *graph.Model) []byte {
	t.Helper()
	b, err := export.Marshal(m, export.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run returns the logits of the model for tokens 1..12 with an empty cache.
func run(t *testing.T, model []byte, backend string) []float32 {
	t.Helper()
	s, err := runtime.OpenBytes(model, runtime.Options{Backend: backend})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := map[string]*runtime.Tensor{}
	for _, info := range s.Inputs() {
		shape := append([]int64(nil), info.Shape...)
		for i := range shape {
			if shape[i] < 0 {
				shape[i] = 1
				if info.DimNames[i] == "seq" {
					shape[i] = 12
				}
				if len(info.Name) > 5 && info.Name[:5] == "past_" && info.DimNames[i] != "batch" {
					shape[i] = 0
				}
			}
		}
		switch info.DType {
		case runtime.Int64:
			n := graph.NumElements(shape)
			v := make([]int64, n)
			for i := range v {
				v[i] = int64(i%20 + 1)
			}
			in[info.Name], err = runtime.NewInt64(shape, v)
		default:
			in[info.Name], err = runtime.NewFloat32(shape, make([]float32, graph.NumElements(shape)))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	out, err := s.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("%s: %v", backend, err)
	}
	v, err := out["logits"].Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// An F16 checkpoint exported as float16 keeps its weights bit for bit:
// embeddings as stored, nn.Linear weights transposed.
func TestFloat16CheckpointIsBitExact(t *testing.T) {
	fixture := filepath.Join(fixtures, "dec_basic")
	src, err := safetensors.Open(filepath.Join(fixture, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ts []safetensors.Tensor
	half := map[string][]byte{}
	for _, n := range src.Names() {
		info, _ := src.Info(n)
		v, err := src.Float32s(n)
		if err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 2*len(v))
		for i, f := range v {
			binary.LittleEndian.PutUint16(raw[2*i:], precision.Float16Bits(f))
		}
		half[n] = raw
		ts = append(ts, safetensors.Tensor{Name: n, DType: safetensors.DTypeF16, Shape: info.Shape, Data: raw})
	}
	path := filepath.Join(t.TempDir(), "f16.safetensors")
	if err := safetensors.Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	w, err := builder.OpenWeights(path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := w.FloatDType(); got != "F16" {
		t.Fatalf("FloatDType = %q, want F16", got)
	}
	cfg, err := builder.LoadConfig(filepath.Join(fixture, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, w, path, builder.Options{Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := precision.Convert(m, graph.Float16); err != nil {
		t.Fatal(err)
	}
	back, err := onnximport.Read(mustMarshal(t, m))
	if err != nil {
		t.Fatal(err)
	}
	inits := map[string]*graph.Tensor{}
	for _, it := range back.Graph.Initializers {
		inits[it.Name] = it
	}
	emb := inits["token_emb.emb.weight"]
	if emb == nil || emb.DType != graph.Float16 || !bytes.Equal(emb.Raw, half["token_emb.emb.weight"]) {
		t.Fatalf("token_emb.emb.weight is not the checkpoint's float16 bytes: %+v", emb)
	}
	const q = "attn_layers.layers.0.1.to_q.weight"
	qt := inits[q+"_t"]
	info, _ := src.Info(q)
	rows, cols := info.Shape[0], info.Shape[1]
	want := make([]byte, len(half[q]))
	for r := range rows {
		for c := range cols {
			copy(want[2*(c*rows+r):], half[q][2*(r*cols+c):2*(r*cols+c)+2])
		}
	}
	if qt == nil || qt.DType != graph.Float16 || !bytes.Equal(qt.Raw, want) {
		t.Fatalf("%s_t is not the transpose of the checkpoint's float16 bytes", q)
	}
}
