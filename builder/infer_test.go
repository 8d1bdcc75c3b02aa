package builder

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
)

// flatKwargs returns a config's keyword arguments as "section.key" →
// JSON value, with every default filled in, plus x_transformers_version.
func flatKwargs(t *testing.T, c *Config) map[string]string {
	t.Helper()
	secs, err := c.kwSections()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{"x_transformers_version": c.XTVersion()}
	for _, s := range secs {
		for _, f := range s.fields {
			b, err := json.Marshal(f.val.encode())
			if err != nil {
				t.Fatal(err)
			}
			out[s.path+"."+f.key] = string(b)
		}
	}
	return out
}

// TestInferConfigFixtures infers the config of every reference fixture from
// its model.safetensors alone: every keyword argument must equal the
// fixture's, except those the inference marks unknown.
func TestInferConfigFixtures(t *testing.T) {
	var dirs []string
	for _, set := range []string{"xtransformers-1.9.2", "xtransformers-1.9.1", "corners-1.9.2", "oracle-1.9.2"} {
		d, _ := filepath.Glob(filepath.Join("..", "fixtures", set, "*", "model.safetensors"))
		dirs = append(dirs, d...)
	}
	if len(dirs) < 60 {
		t.Fatalf("found %d fixtures", len(dirs))
	}
	unknownCounts := map[string]int{}
	for _, wpath := range dirs {
		dir := filepath.Dir(wpath)
		t.Run(filepath.Base(filepath.Dir(dir))+"/"+filepath.Base(dir), func(t *testing.T) {
			want, err := LoadConfig(filepath.Join(dir, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			w, err := OpenWeights(wpath)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			inf, err := InferConfig(w)
			if err != nil {
				t.Fatal(err)
			}
			if inf.Config.Kind != want.Kind {
				t.Fatalf("kind %s, want %s", inf.Config.Kind, want.Kind)
			}
			unknown := inf.UnknownKeys()
			got, exp := flatKwargs(t, inf.Config), flatKwargs(t, want)
			for k, v := range exp {
				if got[k] != v && !slices.Contains(unknown, k) {
					t.Errorf("%s = %s, want %s (not marked unknown)", k, got[k], v)
				}
			}
			for k := range got {
				if _, ok := exp[k]; !ok {
					t.Errorf("inferred key %s that the fixture's kind does not have", k)
				}
				if got[k] != exp[k] && slices.Contains(unknown, k) {
					unknownCounts[k]++
				}
			}
		})
	}
	t.Logf("unknown keys that differed from the fixture, with counts: %v", unknownCounts)
}

func TestInferConfigKnown(t *testing.T) {
	// A decoder whose heads show in its memory key/values and whose
	// options all own parameters.
	cfg := mustParse(t, `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 50, "max_seq_len": 40, "emb_dim": 16, "post_emb_norm": true, "num_memory_tokens": 3, "logits_dim": 7},
	 "attn_layers": {"type": "Decoder", "dim": 24, "depth": 3, "heads": 3, "attn_dim_head": 12, "attn_num_mem_kv": 2, "use_rmsnorm": true, "sandwich_norm": true,
	  "gate_residual": true, "macaron": true, "attn_gate_values": true, "attn_on_attn": true, "attn_qk_norm": true, "attn_qk_norm_dim_scale": true,
	  "ff_glu": true, "ff_mult": 2, "ff_post_act_ln": true, "ff_no_bias": true}}`)
	inf := inferFromRandom(t, cfg)
	for _, k := range []string{"attn_layers.heads", "attn_layers.attn_dim_head", "wrapper.max_seq_len"} {
		if slices.Contains(inf.UnknownKeys(), k) {
			t.Errorf("%s marked unknown: %v", k, inf.Unknown)
		}
	}
	got, want := flatKwargs(t, inf.Config), flatKwargs(t, cfg)
	for k, v := range want {
		if got[k] != v && !slices.Contains(inf.UnknownKeys(), k) {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
	if !strings.Contains(strings.Join(inf.UnknownKeys(), " "), "attn_layers.type") {
		t.Errorf("Encoder vs Decoder should be unknown: %v", inf.UnknownKeys())
	}
}

func TestInferConfigGuessesHeads(t *testing.T) {
	cfg := mustParse(t, `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 32},
	 "attn_layers": {"type": "Encoder", "dim": 32, "depth": 2, "heads": 2, "attn_dim_head": 16}}`)
	inf := inferFromRandom(t, cfg)
	l := inf.Config.Layers
	if l.Heads*l.Attn.DimHead != 32 || !slices.Contains(inf.UnknownKeys(), "attn_layers.heads") {
		t.Errorf("heads %d × dim_head %d, unknown %v", l.Heads, l.Attn.DimHead, inf.UnknownKeys())
	}
	if l.Depth != 2 || l.Dim != 32 || inf.Config.Wrapper.MaxSeqLen != 32 {
		t.Errorf("depth %d dim %d max_seq_len %d", l.Depth, l.Dim, inf.Config.Wrapper.MaxSeqLen)
	}
}

func TestInferConfigErrors(t *testing.T) {
	_, err := InferConfig(mapWeights{"foo.weight": {2, 2}})
	if err == nil || !strings.Contains(err.Error(), "cannot tell the model kind") {
		t.Errorf("unknown names: %v", err)
	}
	_, err = InferConfig(mapWeights{})
	if err == nil || !strings.Contains(err.Error(), "no tensors") {
		t.Errorf("empty: %v", err)
	}
}

// mapWeights holds shapes only (values are zeros).
type mapWeights map[string][]int64

func (m mapWeights) Names() []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func (m mapWeights) Shape(n string) ([]int64, bool) { s, ok := m[n]; return s, ok }

func (m mapWeights) Float32(n string) ([]float32, error) {
	size := int64(1)
	for _, d := range m[n] {
		size *= d
	}
	return make([]float32, size), nil
}

// inferFromRandom lists the parameters Build asks for cfg and infers a
// config from those names and shapes.
func inferFromRandom(t *testing.T, cfg *Config) *Inference {
	t.Helper()
	w := recordShapes(t, cfg)
	inf, err := InferConfig(w)
	if err != nil {
		t.Fatal(err)
	}
	return inf
}

// recordShapes builds cfg with random weights and returns the names and
// PyTorch shapes of the parameters and persistent buffers it asked for: the
// state_dict of the model.
func recordShapes(t *testing.T, cfg *Config) mapWeights {
	t.Helper()
	lib, err := ops.NewLibrary(DefaultOpset)
	if err != nil {
		t.Fatal(err)
	}
	mb := &modelBuilder{cfg: cfg, opts: Options{Opset: DefaultOpset}, b: graph.NewGraphBuilder(DefaultOpset), lib: lib, p: newParams(RandomWeights{}, "random")}
	g, err := mb.model()
	if err != nil {
		t.Fatal(err)
	}
	w := mapWeights{}
	for _, s := range mb.p.specs {
		w[s.name] = s.shape
	}
	for _, init := range g.Initializers {
		if strings.Contains(init.Name, "rotary_pos_emb.") {
			w[init.Name] = init.Dims
		}
	}
	return w
}

func mustParse(t *testing.T, s string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
