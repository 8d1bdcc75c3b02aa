package builder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

// TestParamsMatchStateDicts checks the dry build against every reference
// fixture: the parameters it lists must be exactly the tensors of the
// state_dict PyTorch saved, names and shapes.
func TestParamsMatchStateDicts(t *testing.T) {
	dirs, _ := filepath.Glob("../fixtures/xtransformers-1.9.2/*/config.json")
	oracle, _ := filepath.Glob("../fixtures/oracle-1.9.2/*/config.json")
	dirs = append(dirs, oracle...)
	if len(dirs) < 25 {
		t.Fatalf("found %d fixture configs, want at least 25", len(dirs))
	}
	for _, cfgPath := range dirs {
		dir := filepath.Dir(cfgPath)
		t.Run(filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), func(t *testing.T) {
			cfg, err := LoadConfig(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ps, err := Params(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			var total int64
			for _, p := range ps {
				info, ok := f.Info(p.Name)
				if !ok {
					t.Errorf("%s %v is not in the state_dict", p.Name, p.Shape)
					continue
				}
				if !equalShape(info.Shape, p.Shape) {
					t.Errorf("%s: state_dict %v, dry build %v", p.Name, info.Shape, p.Shape)
				}
				seen[p.Name] = true
				total += p.Elements()
			}
			for _, n := range f.Names() {
				if !seen[n] {
					t.Errorf("state_dict tensor %s is missing from the dry build", n)
				}
			}
			s, err := EstimateSize(cfg, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if s.Params != total || s.Tensors != len(ps) {
				t.Errorf("EstimateSize = %d params in %d tensors, want %d in %d", s.Params, s.Tensors, total, len(ps))
			}
		})
	}
}

// TestHugeConfigsRefused reproduces issue 8's configs that aborted export
// with a fatal out-of-memory: each must be refused, with the estimate, by
// Build with random weights, before any weight is generated.
func TestHugeConfigsRefused(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"num_tokens 2e9", `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 2000000000, "max_seq_len": 64},
			"attn_layers": {"type": "Decoder", "dim": 32, "depth": 1, "heads": 2}}`, "130 billion parameters"},
		{"dim 65536", `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
			"attn_layers": {"type": "Decoder", "dim": 65536, "depth": 1, "heads": 2}}`, "billion parameters"},
		{"max_seq_len 2e9", `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 2000000000},
			"attn_layers": {"type": "Decoder", "dim": 32, "depth": 1, "heads": 2}}`, "largest tensor pos_emb.emb.weight [2000000000 32]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Build(cfg, RandomWeights{Seed: 1}, "", Options{})
			var se *SizeError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v\nwant a *SizeError containing %q", err, tt.want)
			}
		})
	}
	cfg, err := ParseConfig([]byte(`{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
		"attn_layers": {"type": "Decoder", "dim": 32, "depth": 2000000000, "heads": 2}}`))
	if err == nil {
		_, err = Build(cfg, RandomWeights{}, "", Options{})
	}
	if err == nil || !strings.Contains(err.Error(), "2000000000 layers is beyond any real model") {
		t.Errorf("depth 2e9: error %v", err)
	}
}

func TestMain(m *testing.M) { os.Exit(m.Run()) }
