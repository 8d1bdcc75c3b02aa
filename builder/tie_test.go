package builder_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// mapWeights is an in-memory builder.Weights.
type mapWeights struct {
	shapes map[string][]int64
	vals   map[string][]float32
}

func (m mapWeights) Names() []string {
	var out []string
	for n := range m.vals {
		out = append(out, n)
	}
	return out
}
func (m mapWeights) Shape(n string) ([]int64, bool)      { s, ok := m.shapes[n]; return s, ok }
func (m mapWeights) Float32(n string) ([]float32, error) { return m.vals[n], nil }

// TestTieEmbedding checks the tied output projection: x-transformers 1.9.2
// crashes on tie_embedding=True, and xt2onnx computes what it means,
// logits = embeddings · token_emb.emb.weightᵀ without a bias.
func TestTieEmbedding(t *testing.T) {
	dir := "../fixtures/xtransformers-1.9.2/dec_basic"
	src, err := builder.OpenWeights(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	w := mapWeights{shapes: map[string][]int64{}, vals: map[string][]float32{}}
	for _, n := range src.Names() {
		if n == "to_logits.weight" || n == "to_logits.bias" {
			continue
		}
		w.shapes[n], _ = src.Shape(n)
		w.vals[n], _ = src.Float32(n)
	}
	cfg, err := builder.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Wrapper.TieEmbedding = true
	logitsSess := openBuilt(t, cfg, w, builder.Options{})
	embSess := openBuilt(t, cfg, w, builder.Options{ReturnEmbeddings: true})

	x := tokenTensor(t, [][]int64{{1, 5, 9, 63, 0, 2}})
	logits := runOutput(t, logitsSess, x, "logits")
	emb := runOutput(t, embSess, x, "embeddings")
	table := w.vals["token_emb.emb.weight"] // [64, 32]
	const vocab, dim = 64, 32
	for p := 0; p < 6; p++ {
		for v := 0; v < vocab; v++ {
			var want float64
			for d := 0; d < dim; d++ {
				want += float64(emb[p*dim+d]) * float64(table[v*dim+d])
			}
			if got := float64(logits[p*vocab+v]); math.Abs(got-want) > 1e-5 {
				t.Fatalf("logit[%d, %d] = %g, want %g", p, v, got, want)
			}
		}
	}
}

func runOutput(t *testing.T, s runtime.Session, x *runtime.Tensor, name string) []float32 {
	t.Helper()
	out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	v, err := out[name].Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}
