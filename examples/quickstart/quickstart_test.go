package quickstart_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/xt2onnx/xt2onnx/examples/quickstart"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// fixture is a decoder trained-weights folder from PyTorch x-transformers
// 1.9.2: config.json, model.safetensors and PyTorch's own ONNX export.
const fixture = "../../fixtures/xtransformers-1.9.2/dec_basic"

// TestExportRunGenerate builds the fixture's model, runs it and checks
// it against PyTorch's own export of the same model run on the same
// backend, then checks that generation with the KV cache gives the tokens
// a step-by-step greedy loop over the logits gives.
func TestExportRunGenerate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	plain, cached := filepath.Join(dir, "model.onnx"), filepath.Join(dir, "model-kv.onnx")
	cfg, weights := filepath.Join(fixture, "config.json"), filepath.Join(fixture, "model.safetensors")
	if err := quickstart.Export(cfg, weights, plain, false); err != nil {
		t.Fatal(err)
	}
	if err := quickstart.Export(cfg, weights, cached, true); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(plain); err != nil || fi.Size() < 1000 {
		t.Fatalf("exported file: %v, %v", fi, err)
	}

	tokens := [][]int64{{1, 2, 3, 4, 5, 6, 7}, {63, 0, 17, 42, 8, 8, 9}}
	got, shape, err := quickstart.Logits(ctx, plain, tokens)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{2, 7, 64}; fmt.Sprint(shape) != fmt.Sprint(want) {
		t.Fatalf("logits shape %v, want %v", shape, want)
	}
	ref, err := torchLogits(ctx, filepath.Join(fixture, "torch_ts.onnx"), tokens)
	if err != nil {
		t.Fatal(err)
	}
	maxDiff := 0.0
	for i := range got {
		maxDiff = math.Max(maxDiff, math.Abs(float64(got[i]-ref[i])))
	}
	if maxDiff > 1e-4 || math.IsNaN(maxDiff) {
		t.Errorf("logits differ from PyTorch's export by up to %g (want ≤ 1e-4)", maxDiff)
	}

	// Greedy generation through the KV cache must pick, at every step, the
	// argmax of the logits of the whole sequence so far.
	const maxNew = 6
	gen, err := quickstart.Generate(ctx, cached, tokens, maxNew)
	if err != nil {
		t.Fatal(err)
	}
	seq := [][]int64{append([]int64(nil), tokens[0]...), append([]int64(nil), tokens[1]...)}
	for step := range maxNew {
		logits, shape, err := quickstart.Logits(ctx, plain, seq)
		if err != nil {
			t.Fatal(err)
		}
		n, vocab := int(shape[1]), int(shape[2])
		for r := range seq {
			last := logits[(r*n+n-1)*vocab : (r*n+n)*vocab]
			best := 0
			for v := range last {
				if last[v] > last[best] {
					best = v
				}
			}
			if gen[r][step] != int64(best) {
				t.Fatalf("row %d step %d: generated %d, greedy over the logits gives %d (generated %v)", r, step, gen[r][step], best, gen[r])
			}
			seq[r] = append(seq[r], int64(best))
		}
	}
}

// torchLogits runs PyTorch's ONNX export of the fixture (output "output").
func torchLogits(ctx context.Context, path string, tokens [][]int64) ([]float32, error) {
	sess, err := runtime.Open(path, runtime.Options{Backend: "native"})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	var flat []int64
	for _, r := range tokens {
		flat = append(flat, r...)
	}
	x, err := runtime.NewInt64([]int64{int64(len(tokens)), int64(len(tokens[0]))}, flat)
	if err != nil {
		return nil, err
	}
	out, err := sess.Run(ctx, map[string]*runtime.Tensor{"x": x})
	if err != nil {
		return nil, err
	}
	return out["output"].Float32s()
}

// Export a model from its config and weights, then continue a prompt.
func Example() {
	dir, err := os.MkdirTemp("", "quickstart")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.onnx")
	err = quickstart.Export(filepath.Join(fixture, "config.json"), filepath.Join(fixture, "model.safetensors"), path, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := quickstart.Generate(context.Background(), path, [][]int64{{1, 2, 3}}, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(out[0]), "new tokens")
	// Output:
	// 8 new tokens
}
