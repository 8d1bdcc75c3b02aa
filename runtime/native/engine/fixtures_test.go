package engine

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"

	onnximport "github.com/xt2onnx/xt2onnx/import"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

const xtFixtures = "../../../fixtures/xtransformers-1.9.2"

// fixtureInputs reads the model's inputs from io.safetensors ("input."
// + name), converted to the declared element type (uint8 0/1 masks to
// bool).
func fixtureInputs(f *safetensors.File, m *graph.Model) (map[string]*tensor.Dense, error) {
	in := map[string]*tensor.Dense{}
	for _, v := range m.Graph.Inputs {
		name := "input." + v.Name
		info, ok := f.Info(name)
		if !ok {
			return nil, fmt.Errorf("io.safetensors has no %q", name)
		}
		shape := make([]int, len(info.Shape))
		for i, d := range info.Shape {
			shape[i] = int(d)
		}
		switch v.DType {
		case graph.Float:
			x, err := f.Float32s(name)
			if err != nil {
				return nil, err
			}
			in[v.Name] = kernels.FromSlice(shape, x)
		case graph.Int64:
			x, err := f.Int64s(name)
			if err != nil {
				return nil, err
			}
			in[v.Name] = kernels.FromSlice(shape, x)
		case graph.Bool:
			x, err := f.Bools(name)
			if err != nil {
				return nil, err
			}
			in[v.Name] = kernels.FromSlice(shape, x)
		default:
			return nil, fmt.Errorf("input %q has unexpected type %s", v.Name, v.DType)
		}
	}
	return in, nil
}

// TestXTransformersFixtures runs every PyTorch export of the x-transformers
// fixtures through Eval and compares with the float64 PyTorch reference.
func TestXTransformersFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(xtFixtures, "*", "torch_*.onnx"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures under %s (%v)", xtFixtures, err)
	}
	if len(files) != 48 {
		t.Errorf("found %d fixture models, want 48", len(files))
	}
	if testing.Short() {
		files = files[:4]
	}
	const tol = 1e-5
	worst := 0.0
	for _, path := range files {
		name := filepath.Base(filepath.Dir(path)) + "/" + filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			m, err := onnximport.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(filepath.Join(filepath.Dir(path), "io.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			in, err := fixtureInputs(f, m)
			if err != nil {
				t.Fatal(err)
			}
			out, err := Eval(m, in, nil)
			if err != nil {
				t.Fatal(err)
			}
			want, err := f.Float64s("output_f64")
			if err != nil {
				t.Fatal(err)
			}
			info, _ := f.Info("output_f64")
			got := out[m.Graph.Outputs[0].Name]
			if len(got.Shape()) != len(info.Shape) {
				t.Fatalf("output shape %v, want %v", got.Shape(), info.Shape)
			}
			for i, d := range info.Shape {
				if got.Shape()[i] != int(d) {
					t.Fatalf("output shape %v, want %v", got.Shape(), info.Shape)
				}
			}
			gv, err := toFloat64s(nil, got)
			if err != nil {
				t.Fatal(err)
			}
			diff := 0.0
			for i := range gv {
				diff = math.Max(diff, math.Abs(gv[i]-want[i]))
				if math.IsNaN(gv[i]) {
					diff = math.Inf(1)
				}
			}
			worst = math.Max(worst, diff)
			t.Logf("%s: max abs diff %.10g", name, diff)
			if diff > tol {
				t.Errorf("max abs diff %.3g from the float64 reference exceeds %g", diff, tol)
			}
		})
	}
	t.Logf("worst max abs diff over %d models: %.3g", len(files), worst)
}
