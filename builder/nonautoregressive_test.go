package builder_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
)

const narFixtures = "../fixtures/corners-1.9.2"

// editedWeights is a Weights without the names in drop and with extra
// zero tensors added.
type editedWeights struct {
	builder.Weights
	drop  string
	extra map[string][]int64
}

func (w editedWeights) Names() []string {
	var out []string
	for _, n := range w.Weights.Names() {
		if n != w.drop {
			out = append(out, n)
		}
	}
	for n := range w.extra {
		out = append(out, n)
	}
	return out
}

func (w editedWeights) Shape(name string) ([]int64, bool) {
	if s, ok := w.extra[name]; ok {
		return s, true
	}
	if name == w.drop {
		return nil, false
	}
	return w.Weights.Shape(name)
}

func (w editedWeights) Float32(name string) ([]float32, error) {
	if s, ok := w.extra[name]; ok {
		n := int64(1)
		for _, d := range s {
			n *= d
		}
		return make([]float32, n), nil
	}
	return w.Weights.Float32(name)
}

// TestNARBuildGraphs checks the graphs of the three NonAutoregressiveWrapper
// corners: the generator's inputs and outputs (self_cond adds the last
// embeddings in and out), the critic part's, and the metadata.
func TestNARBuildGraphs(t *testing.T) {
	for _, tt := range []struct {
		name             string
		genIn, genOut    []string
		critic           bool
		criticConfigPart string
	}{
		{"nar_self_cond", []string{"x", "mask", "self_cond_embed", "self_cond_null"}, []string{"logits", "embeddings"}, false, ""},
		{"nar_token_critic", []string{"x", "mask"}, []string{"logits"}, true, `"token_critic":{"wrapper":{"num_tokens":32,"max_seq_len":12,"logits_dim":1}`},
		{"nar_self_critic", []string{"x", "mask", "self_cond_embed", "self_cond_null"}, []string{"logits", "embeddings"}, true, `"self_token_critic":true`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(narFixtures, tt.name)
			cfg, err := builder.LoadConfig(filepath.Join(dir, "nar.json"))
			if err != nil {
				t.Fatal(err)
			}
			w, err := builder.OpenWeights(filepath.Join(dir, "nar.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			m, err := builder.Build(cfg, w, "nar.safetensors", builder.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var in, out []string
			for _, v := range m.Graph.Inputs {
				in = append(in, v.Name)
			}
			for _, v := range m.Graph.Outputs {
				out = append(out, v.Name)
			}
			if !slices.Equal(in, tt.genIn) || !slices.Equal(out, tt.genOut) {
				t.Errorf("generator: inputs %v outputs %v, want %v %v", in, out, tt.genIn, tt.genOut)
			}
			c, ok := m.MetadataValue(builder.MetaConfig)
			if !ok || !strings.Contains(c, `"nonautoregressive":{"mask_id":31,"steps":6`) && !strings.Contains(c, `"nonautoregressive": {`) {
				t.Errorf("metadata config %q lacks the nonautoregressive kwargs", c)
			}
			cm, err := builder.Build(cfg, w, "nar.safetensors", builder.Options{Part: builder.PartCritic})
			if !tt.critic {
				if err == nil || !strings.Contains(err.Error(), "neither token_critic nor self_token_critic") {
					t.Errorf("critic part without a critic: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(cm.Graph.Inputs) != 1 || cm.Graph.Inputs[0].Name != "x" || len(cm.Graph.Outputs) != 1 || cm.Graph.Outputs[0].Name != builder.OutputCritic {
				t.Errorf("critic: inputs %v outputs %v", cm.Graph.Inputs, cm.Graph.Outputs)
			}
			if p, _ := cm.MetadataValue(builder.MetaPart); p != string(builder.PartCritic) {
				t.Errorf("critic part metadata %q", p)
			}
			j, err := cfg.MarshalJSON()
			if err != nil || !strings.Contains(string(j), tt.criticConfigPart) {
				t.Errorf("config JSON %s lacks %s (%v)", j, tt.criticConfigPart, err)
			}
			back, err := builder.ParseConfig(j)
			if err != nil {
				t.Fatal(err)
			}
			j2, _ := back.MarshalJSON()
			if string(j2) != string(j) {
				t.Errorf("JSON round trip:\n%s\n%s", j, j2)
			}
		})
	}
}

// TestNARWeightsErrors: a NonAutoregressiveWrapper state_dict that lacks a
// tensor, holds an unknown one or a misshapen one is refused with the
// tensor named.
func TestNARWeightsErrors(t *testing.T) {
	for _, tt := range []struct {
		fixture string
		part    builder.Part
		drop    string
		extra   map[string][]int64
		want    string
	}{
		{"nar_self_cond", builder.PartWhole, "to_self_cond.weight", nil, "to_self_cond.weight [32 32]"},
		{"nar_self_cond", builder.PartWhole, "null_embed", nil, "null_embed [32]"},
		{"nar_self_cond", builder.PartWhole, "", map[string][]int64{"to_self_cond.bias": {32}}, "to_self_cond.bias [32]"},
		{"nar_self_cond", builder.PartWhole, "to_self_cond.weight", map[string][]int64{"to_self_cond.weight": {32, 16}}, "to_self_cond.weight"},
		{"nar_self_cond", builder.PartWhole, "", map[string][]int64{"token_critic.to_logits.weight": {1, 32}}, "token_critic.to_logits.weight [1 32]"}, // no critic in the config
		{"nar_token_critic", builder.PartCritic, "token_critic.to_logits.weight", nil, "token_critic.to_logits.weight [1 16]"},
		{"nar_token_critic", builder.PartCritic, "", map[string][]int64{"critic.extra": {2}}, "critic.extra [2]"},
		{"nar_self_critic", builder.PartCritic, "token_critic.to_logits.bias", nil, "token_critic.to_logits.bias [1]"},
		{"nar_self_critic", builder.PartWhole, "net.token_emb.emb.weight", nil, "net.token_emb.emb.weight [32 32]"},
	} {
		dir := filepath.Join(narFixtures, tt.fixture)
		cfg, err := builder.LoadConfig(filepath.Join(dir, "nar.json"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := builder.OpenWeights(filepath.Join(dir, "nar.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = builder.Build(cfg, editedWeights{w, tt.drop, tt.extra}, "nar.safetensors", builder.Options{Part: tt.part})
		w.Close()
		var we *builder.WeightsError
		if !errors.As(err, &we) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s part %q without %q, with %v: error %v, want a WeightsError naming %q", tt.fixture, tt.part, tt.drop, tt.extra, err, tt.want)
		}
	}
}

// TestNARConfigErrors: the nonautoregressive section's keys are 1.9.2's
// keyword arguments, checked as 1.9.2 and generation need them.
func TestNARConfigErrors(t *testing.T) {
	const net = `"kind": "TransformerWrapper", "wrapper": {"num_tokens": 32, "max_seq_len": 12}, "attn_layers": {"type": "Encoder", "dim": 32, "depth": 1, "heads": 2}`
	const critic = `"wrapper": {"num_tokens": 32, "max_seq_len": 12, "logits_dim": 1}, "attn_layers": {"type": "Encoder", "dim": 16, "depth": 1, "heads": 2}`
	for _, tt := range []struct{ nar, want string }{
		{`{"mask_id": 31, "self_condd": true}`, `unknown key "self_condd"; did you mean "self_cond"?`},
		{`{"steps": 6}`, `missing required key "mask_id"`},
		{`{"mask_id": 32}`, "nonautoregressive.mask_id: must be a token of the vocabulary [0, 32), got 32"},
		{`{"mask_id": 31, "schedule": "cosin"}`, `unknown schedule "cosin"; did you mean "cosine"?`},
		{`{"mask_id": 31, "steps": 0}`, "nonautoregressive.steps: must be a positive integer"},
		{`{"mask_id": 31, "self_token_critic": true, "token_critic": {` + critic + `}}`, "cannot be true together with token_critic"},
		{`{"mask_id": 31, "token_critic": {"wrapper": {"num_tokens": 32, "max_seq_len": 12}, "attn_layers": {"type": "Encoder", "dim": 16, "depth": 1, "heads": 2}}}`, "logits_dim: must be 1"},
		{`{"mask_id": 31, "token_critic": {"wrapper": {"num_tokens": 32, "max_seq_len": 8, "logits_dim": 1}, "attn_layers": {"type": "Encoder", "dim": 16, "depth": 1, "heads": 2}}}`, "must be at least the net's max_seq_len 12"},
		{`{"mask_id": 31, "token_critic": {"wrapper": {"num_tokens": 32, "max_seq_len": 12, "logit_dim": 1}, "attn_layers": {"type": "Encoder", "dim": 16, "depth": 1, "heads": 2}}}`, `did you mean "logits_dim"?`},
		{`{"mask_id": 31, "token_critic": {"kind": "XTransformer"}}`, `"kind" must be "TransformerWrapper"`},
		{`{"mask_id": 31, "no_replace_prob": 2}`, "no_replace_prob: must be a probability"},
	} {
		_, err := builder.ParseConfig([]byte(`{` + net + `, "nonautoregressive": ` + tt.nar + `}`))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("nonautoregressive %s: error %v, want one containing %q", tt.nar, err, tt.want)
		}
	}
	_, err := builder.ParseConfig([]byte(`{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 32, "max_seq_len": 12, "emb_dim": 16}, "attn_layers": {"type": "Encoder", "dim": 32, "depth": 1, "heads": 2}, "nonautoregressive": {"mask_id": 1, "self_cond": true}}`))
	if err == nil || !strings.Contains(err.Error(), "self_cond: needs emb_dim (16) equal to attn_layers.dim (32)") {
		t.Errorf("self_cond with emb_dim != dim: %v", err)
	}
	_, err = builder.ParseConfig([]byte(`{"kind": "ContinuousTransformerWrapper", "wrapper": {"max_seq_len": 12}, "attn_layers": {"type": "Encoder", "dim": 32, "depth": 1, "heads": 2}, "nonautoregressive": {"mask_id": 1}}`))
	if err == nil || !strings.Contains(err.Error(), "applies to kind TransformerWrapper only") {
		t.Errorf("nonautoregressive on a ContinuousTransformerWrapper: %v", err)
	}
}
