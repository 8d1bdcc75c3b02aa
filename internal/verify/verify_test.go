package verify

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	_ "github.com/xt2onnx/xt2onnx/runtime/native"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"
)

const fixtures = "../../fixtures/xtransformers-1.9.2"

// TestFixturesBuiltORT builds every reference model, exports it in each form
// (model-local functions or inlined; opset 17, 18 and 23) and checks it
// against PyTorch's float64 output through ONNX Runtime.
func TestFixturesBuiltORT(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(fixtures, "*", "config.json"))
	if err != nil || len(dirs) != 25 {
		t.Fatalf("want the 25 reference fixtures, found %d (%v)", len(dirs), err)
	}
	forms := []Options{{}, {Inline: true}, {Opset: 17}, {Opset: 23}, {Opset: 23, Inline: true}}
	for _, cfg := range dirs {
		dir := filepath.Dir(cfg)
		for _, o := range forms {
			name := fmt.Sprintf("%s/opset%d/inline=%v", filepath.Base(dir), o.Opset, o.Inline)
			t.Run(name, func(t *testing.T) {
				r, err := Fixture(context.Background(), dir, o)
				if err != nil {
					t.Fatal(err)
				}
				if !r.Pass {
					t.Fatal(r.Line())
				}
				if r.MaxAbsDiff > 1e-5 || len(r.Outputs) != 1 {
					t.Fatalf("unexpected result %+v", r)
				}
			})
		}
	}
}

// TestOracleFixturesORT checks the oracle's coverage set: random
// configurations that together use every 1.9.2 option at least twice,
// also exported with the buffer-layout KV cache (step by step and greedy
// generation, on both backends).
func TestOracleFixturesORT(t *testing.T) {
	dirs, _ := filepath.Glob("../../fixtures/oracle-1.9.2/cov_*")
	if len(dirs) < 10 {
		t.Fatalf("found %d oracle fixtures", len(dirs))
	}
	for _, dir := range dirs {
		for _, o := range []Options{{}, {Inline: true, Opset: 23}, {Generate: true, KVCache: true, KVLayout: builder.KVLayoutBuffer, Backends: []string{"ort", "native"}}} {
			t.Run(fmt.Sprintf("%s/opset%d/inline=%v/%s", filepath.Base(dir), o.Opset, o.Inline, o.KVLayout), func(t *testing.T) {
				r, err := Fixture(context.Background(), dir, o)
				if err != nil {
					t.Fatal(err)
				}
				if !r.Pass {
					t.Fatal(r.Line())
				}
			})
		}
	}
}

// TestFixturesTorchORT runs PyTorch's own exports through the same path.
func TestFixturesTorchORT(t *testing.T) {
	for _, c := range []string{"dec_basic", "enc_dec", "vit"} {
		for _, g := range []string{GraphTorchTS, GraphTorchDynamo} {
			r, err := Fixture(context.Background(), filepath.Join(fixtures, c), Options{Graph: g})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Pass {
				t.Errorf("%s", r.Line())
			}
		}
	}
}

func TestFailLines(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		opts Options
		want string
	}{
		{"missing torch export", "dec_embed_variants", Options{Graph: GraphTorchTS}, "FAIL dec_embed_variants graph=torch_ts backend=ort fixture has no torch_ts.onnx"},
		{"unknown graph", "dec_basic", Options{Graph: "keras"}, `FAIL dec_basic graph=keras backend=ort unknown graph "keras"`},
		{"tolerance", "dec_basic", Options{Tol: 1e-12}, "exceeds tol=1e-12"},
		{"missing dir", "no_such_case", Options{}, "FAIL no_such_case graph=built backend=ort"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Fixture(context.Background(), filepath.Join(fixtures, tt.dir), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if r.Pass || !strings.Contains(r.Line(), tt.want) || strings.Contains(r.Line(), "\n") {
				t.Fatalf("got %q, want it to contain %q", r.Line(), tt.want)
			}
		})
	}
}

func TestLineIsOneLine(t *testing.T) {
	r := &Result{Case: "c", Graph: "built", Backend: "ort",
		Reason: "builder: weights w do not match the config\n  missing (1):\n    norm.bias [32]"}
	want := "FAIL c graph=built backend=ort builder: weights w do not match the config ; missing (1): norm.bias [32]"
	if got := r.Line(); got != want {
		t.Fatalf("Line() = %q, want %q", got, want)
	}
}
