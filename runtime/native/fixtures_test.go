package native

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/xt2onnx/xt2onnx/internal/verify"
)

const fixtureDir = "../../fixtures/xtransformers-1.9.2"

// TestFixtures verifies every reference fixture with the native backend:
// the graph xt2onnx builds and, where PyTorch exported one, its
// TorchScript and dynamo graphs, each within verify.DefaultTol (1e-5 max
// abs diff) of PyTorch's float64 output.
func TestFixtures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every fixture; skipped with -short")
	}
	entries, err := os.ReadDir(fixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		cases++
		dir := filepath.Join(fixtureDir, e.Name())
		for _, g := range verify.Graphs {
			if g != verify.GraphBuilt {
				if _, err := os.Stat(filepath.Join(dir, g+".onnx")); err != nil {
					continue // PyTorch could not export this one
				}
			}
			t.Run(e.Name()+"/"+g, func(t *testing.T) {
				r, err := verify.Fixture(context.Background(), dir, verify.Options{Graph: g, Backend: "native"})
				if err != nil {
					t.Fatal(err)
				}
				if !r.Pass {
					t.Error(r.Line())
				}
				t.Log(r.Line())
			})
		}
	}
	if cases != 25 {
		t.Errorf("found %d fixtures, want 25", cases)
	}
}
