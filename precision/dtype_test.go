package precision_test

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/precision"
)

// Checkpoints stored as BF16 and F64 are accepted: BF16 exported as
// bfloat16 keeps its bits, F64 is rounded once to float32.
func TestCheckpointDTypes(t *testing.T) {
	fixture := filepath.Join(fixtures, "dec_basic")
	src, err := safetensors.Open(filepath.Join(fixture, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cfg, err := builder.LoadConfig(filepath.Join(fixture, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	const emb = "token_emb.emb.weight"
	for _, tc := range []struct {
		dtype safetensors.DType
		to    graph.DType
	}{
		{safetensors.DTypeBF16, graph.BFloat16},
		{safetensors.DTypeF64, graph.Float},
	} {
		t.Run(tc.dtype.String(), func(t *testing.T) {
			var ts []safetensors.Tensor
			var want []byte
			for _, n := range src.Names() {
				info, _ := src.Info(n)
				v, err := src.Float64s(n)
				if err != nil {
					t.Fatal(err)
				}
				var raw, exported []byte
				for _, f := range v {
					f += 1e-9 // not a float32: F64 must be rounded, not truncated
					switch tc.dtype {
					case safetensors.DTypeBF16:
						raw = binary.LittleEndian.AppendUint16(raw, precision.BFloat16Bits(float32(f)))
						exported = raw
					case safetensors.DTypeF64:
						raw = binary.LittleEndian.AppendUint64(raw, math.Float64bits(f))
						exported = binary.LittleEndian.AppendUint32(exported, math.Float32bits(float32(f)))
					}
				}
				if n == emb {
					want = exported
				}
				ts = append(ts, safetensors.Tensor{Name: n, DType: tc.dtype, Shape: info.Shape, Data: raw})
			}
			path := filepath.Join(t.TempDir(), "w.safetensors")
			if err := safetensors.Write(path, ts, nil); err != nil {
				t.Fatal(err)
			}
			w, err := builder.OpenWeights(path)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if got := w.FloatDType(); got != tc.dtype.String() {
				t.Fatalf("FloatDType = %q, want %s", got, tc.dtype)
			}
			m, err := builder.Build(cfg, w, path, builder.Options{Stream: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := precision.Convert(m, tc.to); err != nil {
				t.Fatal(err)
			}
			back, err := onnximport.Read(mustMarshal(t, m))
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range back.Graph.Initializers {
				if it.Name == emb || it.Name == emb+"/bfloat16" {
					if it.DType != tc.to || string(it.Raw) != string(want) {
						t.Fatalf("%s: %s, %d bytes; want the checkpoint's values as %s", it.Name, it.DType, len(it.Raw), tc.to)
					}
					return
				}
			}
			t.Fatalf("no initializer %s", emb)
		})
	}
}
