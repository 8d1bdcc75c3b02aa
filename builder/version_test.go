package builder

import (
	"math"
	"strings"
	"testing"
)

func TestConfigVersion(t *testing.T) {
	const body = `"kind": "TransformerWrapper", "wrapper": {"num_tokens": 16, "max_seq_len": 8},
	 "attn_layers": {"type": "Decoder", "dim": 16, "depth": 1, "heads": 2, "attn_dim_head": 8}`
	tests := []struct {
		name, version string // version: the JSON value, "" for none
		want, wantErr string
	}{
		{"default", "", "1.9.2", ""},
		{"1.9.2", `"1.9.2"`, "1.9.2", ""},
		{"1.9.1", `"1.9.1"`, "1.9.1", ""},
		{"other release", `"1.10.0"`, "", `x_transformers_version: x-transformers "1.10.0" is not supported: xt2onnx reproduces 1.9.1 or 1.9.2`},
		{"number", `1.9`, "", `x_transformers_version: expected a string such as "1.9.2", got 1.9`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js := "{" + body + "}"
			if tt.version != "" {
				js = `{"kind": "TransformerWrapper", "x_transformers_version": ` + tt.version + "," + strings.TrimPrefix(body, `"kind": "TransformerWrapper",`) + "}"
			}
			c, err := ParseConfig([]byte(js))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.XTVersion() != tt.want {
				t.Errorf("XTVersion() = %q, want %q", c.XTVersion(), tt.want)
			}
			// the canonical form keeps the key when given, and parses back
			out, err := c.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(out), `"x_transformers_version"`); got != (tt.version != "") {
				t.Errorf("JSON has x_transformers_version: %v\n%s", got, out)
			}
			back, err := ParseConfig(out)
			if err != nil || back.Version != c.Version {
				t.Errorf("round trip: %v, version %q want %q", err, back.Version, c.Version)
			}
			m, err := Build(c, RandomWeights{Seed: 1}, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := m.MetadataValue(MetaXTransformers); v != tt.want {
				t.Errorf("metadata %s = %q, want %q", MetaXTransformers, v, tt.want)
			}
		})
	}
	c := &Config{Kind: KindCrossAttender, Version: "2.0", Layers: DefaultAttentionLayers()}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "xt2onnx reproduces 1.9.1 or 1.9.2") {
		t.Errorf("Validate with Version 2.0: %v", err)
	}
}

// TestQKNormDimScaleVersions checks what the two releases put in the graph:
// 1.9.1 scales the logits by 1 and starts random gains at √qk_norm_scale,
// 1.9.2 scales by qk_norm_scale with gains at 1.
func TestQKNormDimScaleVersions(t *testing.T) {
	for _, tt := range []struct {
		version     string
		gain, scale float32
	}{{"1.9.1", float32(math.Sqrt(8)), 1}, {"1.9.2", 1, 8}} {
		t.Run(tt.version, func(t *testing.T) {
			c, err := ParseConfig([]byte(`{"kind": "TransformerWrapper", "x_transformers_version": "` + tt.version + `",
			 "wrapper": {"num_tokens": 16, "max_seq_len": 8},
			 "attn_layers": {"type": "Decoder", "dim": 16, "depth": 1, "heads": 2, "attn_dim_head": 8,
			  "attn_qk_norm": true, "attn_qk_norm_dim_scale": true, "attn_qk_norm_scale": 8}}`))
			if err != nil {
				t.Fatal(err)
			}
			m, err := Build(c, RandomWeights{Seed: 1}, "", Options{})
			if err != nil {
				t.Fatal(err)
			}
			var gains []float32
			for _, init := range m.Graph.Initializers {
				if strings.HasSuffix(init.Name, ".qk_norm_q_scale") {
					v, err := init.Float32s()
					if err != nil {
						t.Fatal(err)
					}
					gains = append(gains, v...)
				}
			}
			if len(gains) != 8 || math.Abs(float64(gains[0]-tt.gain)) > 1e-6 {
				t.Errorf("random gains %v, want %d × %g", gains, 8, tt.gain)
			}
			var scales []float32
			for _, n := range m.Graph.Nodes {
				if n.OpType == "CosineSimAttention" || n.OpType == "Attention" {
					for _, a := range n.Attrs {
						if a.Name == "scale" {
							scales = append(scales, a.F)
						}
					}
				}
			}
			if len(scales) != 1 || scales[0] != tt.scale {
				t.Errorf("logit scales %v, want [%g]", scales, tt.scale)
			}
		})
	}
}

// TestRMSNormClampAtOpset23: RMSNormalization puts eps under the root and
// 1.9.2 clamps the norm, so no opset uses it.
func TestRMSNormClampAtOpset23(t *testing.T) {
	c, err := ParseConfig([]byte(`{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 16, "max_seq_len": 8},
	 "attn_layers": {"type": "Decoder", "dim": 16, "depth": 1, "heads": 2, "attn_dim_head": 8, "use_rmsnorm": true}}`))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build(c, RandomWeights{Seed: 1}, "", Options{Opset: 23})
	if err != nil {
		t.Fatal(err)
	}
	maxes := 0
	for _, n := range m.Graph.Nodes {
		if n.OpType == "RMSNormalization" {
			t.Fatalf("node %s is RMSNormalization", n.Name)
		}
		if n.OpType == "Max" && strings.HasSuffix(n.Name, ".clamped") {
			maxes++
		}
	}
	if maxes != 2 {
		t.Errorf("%d clamped RMSNorms, want 2 (the two pre-norms)", maxes)
	}
}
