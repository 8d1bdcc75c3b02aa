package native

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/internal/tensorio"
	"github.com/xt2onnx/xt2onnx/internal/verify"
	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"
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

// TestParityWithORT runs every model xt2onnx exports for the fixtures
// through both backends on the fixture's inputs: the outputs must agree
// within 1e-5 (what `xt2onnx parity` checks).
func TestParityWithORT(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(fixtureDir, "*", "config.json"))
	if len(dirs) != 25 {
		t.Fatalf("found %d fixtures, want 25", len(dirs))
	}
	for _, cfg := range dirs {
		dir := filepath.Dir(cfg)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			model, err := verify.Model(dir, verify.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var outs [2]map[string]*runtime.Tensor
			for i, backend := range []string{"native", "ort"} {
				sess, err := runtime.OpenBytes(model, runtime.Options{Backend: backend})
				if err != nil {
					t.Fatal(err)
				}
				defer sess.Close()
				io, err := safetensors.Open(filepath.Join(dir, "io.safetensors"))
				if err != nil {
					t.Fatal(err)
				}
				defer io.Close()
				in, err := tensorio.ReadInputs(io, dir, "input.", sess.Inputs())
				if err != nil {
					t.Fatal(err)
				}
				if outs[i], err = sess.Run(context.Background(), in); err != nil {
					t.Fatal(err)
				}
			}
			for name, n := range outs[0] {
				a, _ := n.Float32s()
				b, _ := outs[1][name].Float32s()
				if len(a) != len(b) || len(a) == 0 {
					t.Fatalf("output %s: %d vs %d values", name, len(a), len(b))
				}
				worst := 0.0
				for i := range a {
					worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
				}
				if worst > 1e-5 {
					t.Errorf("output %s: native and ort differ by %.3g", name, worst)
				}
			}
		})
	}
}
