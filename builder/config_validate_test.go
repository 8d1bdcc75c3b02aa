package builder

import (
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"
)

// validationDoc builds a config document of kind from a valid base, with the
// entries of wrapper and layers set over it (a nil value deletes the key).
func validationDoc(t *testing.T, kind string, wrapper, layers map[string]any) []byte {
	t.Helper()
	baseWrapper := map[string]map[string]any{
		"TransformerWrapper":           {"num_tokens": 64, "max_seq_len": 64},
		"ContinuousTransformerWrapper": {"max_seq_len": 64},
		"ViTransformerWrapper":         {"image_size": 16, "patch_size": 4},
		"XTransformer": {"dim": 32, "enc_num_tokens": 64, "enc_max_seq_len": 64, "enc_depth": 1,
			"dec_num_tokens": 64, "dec_max_seq_len": 64, "dec_depth": 1},
	}
	layersType := map[string]string{"TransformerWrapper": "Decoder", "CrossAttender": "CrossAttender"}[kind]
	if layersType == "" {
		layersType = "Encoder"
	}
	merge := func(base, over map[string]any) map[string]any {
		out := maps.Clone(base)
		for k, v := range over {
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
		}
		return out
	}
	doc := map[string]any{"kind": kind}
	if w, ok := baseWrapper[kind]; ok {
		doc["wrapper"] = merge(w, wrapper)
	}
	if kind != "XTransformer" {
		doc["attn_layers"] = merge(map[string]any{"type": layersType, "dim": 32, "depth": 2, "heads": 4, "attn_dim_head": 8}, layers)
	}
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

type cfgKwargs = map[string]any

func TestValidateAssertions(t *testing.T) {
	const tw, vit, ca, xt, cont = "TransformerWrapper", "ViTransformerWrapper", "CrossAttender", "XTransformer", "ContinuousTransformerWrapper"
	tests := []struct {
		name            string
		kind            string
		wrapper, layers cfgKwargs
		path, msg       string // path "" means the config is valid
	}{
		{"base decoder", tw, nil, nil, "", ""},
		{"qk norm groups divide dim_head", tw, nil, cfgKwargs{"attn_qk_norm": true, "attn_qk_norm_groups": 3},
			"attn_layers.attn_qk_norm_groups", "attn_dim_head 8) must be divisible by the qk norm groups (3)"},
		{"qk norm group too small", tw, nil, cfgKwargs{"attn_qk_norm": true, "attn_qk_norm_groups": 4},
			"attn_layers.attn_qk_norm_groups", "each qk norm group has only 2 dimensions"},
		{"qk norm groups of 4 dims", tw, nil, cfgKwargs{"attn_qk_norm": true, "attn_qk_norm_groups": 2}, "", ""},
		{"qk norm groups zero", tw, nil, cfgKwargs{"attn_qk_norm": true, "attn_qk_norm_groups": 0},
			"attn_layers.attn_qk_norm_groups", "must be a positive integer, got 0"},
		{"qk norm groups ignored without qk norm", tw, nil, cfgKwargs{"attn_qk_norm_groups": 3}, "", ""},
		{"alibi with rel pos bias", tw, nil, cfgKwargs{"alibi_pos_bias": true, "rel_pos_bias": true},
			"attn_layers.alibi_pos_bias", "not both"},
		{"rotary xpos on encoder", "TransformerWrapper", nil, cfgKwargs{"type": "Encoder", "rotary_xpos": true, "attn_dim_head": 32},
			"attn_layers.rotary_xpos", "not compatible with bidirectional attention"},
		{"rotary xpos on decoder", tw, nil, cfgKwargs{"rotary_xpos": true, "attn_dim_head": 32}, "", ""},
		{"rel pos buckets above max distance", tw, nil, cfgKwargs{"rel_pos_num_buckets": 64, "rel_pos_max_distance": 32},
			"attn_layers.rel_pos_num_buckets", "(64) must not exceed rel_pos_max_distance (32)"},
		{"rel pos buckets checked without rel_pos_bias", tw, nil, cfgKwargs{"rel_pos_max_distance": 16},
			"attn_layers.rel_pos_num_buckets", "must not exceed"},
		{"alibi heads above heads", tw, nil, cfgKwargs{"alibi_pos_bias": true, "alibi_num_heads": 8},
			"attn_layers.alibi_num_heads", "the number of ALiBi heads (8) must not exceed heads (4)"},
		{"alibi heads unchecked when dynamic wins", tw, nil, cfgKwargs{"alibi_pos_bias": true, "alibi_num_heads": 8, "dynamic_pos_bias": true}, "", ""},
		{"deepnorm with residual constant", tw, nil, cfgKwargs{"deepnorm": true, "scale_residual_constant": 2},
			"attn_layers.scale_residual_constant", "deepnorm sets the residual scale itself"},
		{"sandwich norm without pre norm", tw, nil, cfgKwargs{"sandwich_norm": true, "pre_norm": false},
			"attn_layers.sandwich_norm", "sandwich norm cannot be used without pre-norm"},
		{"deepnorm turns both off", tw, nil, cfgKwargs{"sandwich_norm": true, "pre_norm": false, "deepnorm": true}, "", ""},
		{"par ratio out of range", tw, nil, cfgKwargs{"par_ratio": 1}, "attn_layers.par_ratio", "par ratio out of range"},
		{"par ratio above par depth", tw, nil, cfgKwargs{"par_ratio": 5}, "attn_layers.par_ratio", "at most depth * block size = 4, got 5"},
		{"par ratio block too large", tw, nil, cfgKwargs{"par_ratio": 2, "cross_attend": true}, "attn_layers.par_ratio", "default block is too large"},
		{"sandwich coef zero", tw, nil, cfgKwargs{"sandwich_coef": 0}, "attn_layers.sandwich_coef", "greater than 0 and at most depth (2), got 0"},
		{"sandwich coef above depth", tw, nil, cfgKwargs{"sandwich_coef": 3}, "attn_layers.sandwich_coef", "got 3"},
		{"sandwich coef ignored with custom layers", tw, nil, cfgKwargs{"sandwich_coef": 3, "custom_layers": "af"}, "", ""},
		{"shared kv value dim", tw, nil, cfgKwargs{"attn_shared_kv": true, "attn_value_dim_head": 16},
			"attn_layers.attn_shared_kv", "key and value head dimensions must be equal"},
		{"shared kv same value dim", tw, nil, cfgKwargs{"attn_shared_kv": true, "attn_value_dim_head": 8}, "", ""},
		{"vit patch size", vit, cfgKwargs{"image_size": 15}, nil, "wrapper.patch_size", "image_size 15 is not a multiple of patch_size 4"},
		{"vit needs encoder", vit, nil, cfgKwargs{"type": "Decoder"}, "attn_layers.type", "needs an Encoder"},
		{"vit channels", vit, cfgKwargs{"channels": 0}, nil, "wrapper.channels", "must be a positive integer, got 0"},
		{"encoder causal", tw, nil, cfgKwargs{"type": "Encoder", "causal": true}, "attn_layers.causal", "cannot set causality on encoder"},
		{"decoder causal false", tw, nil, cfgKwargs{"causal": false}, "attn_layers.causal", "cannot set causality on decoder"},
		{"cross attender causal", ca, nil, cfgKwargs{"causal": true}, "", ""},
		{"cross attender cross_attend", ca, nil, cfgKwargs{"cross_attend": true}, "attn_layers.cross_attend", "CrossAttender sets cross_attend=True itself"},
		{"cross attender only_cross", ca, nil, cfgKwargs{"only_cross": false}, "attn_layers.only_cross", "sets only_cross=True itself"},
		{"cross attender kind needs cross attender", ca, nil, cfgKwargs{"type": "Encoder"}, "attn_layers.type", "needs attention layers of type CrossAttender"},
		{"dynamic pos bias mlp depth", tw, nil, cfgKwargs{"dynamic_pos_bias": true, "dynamic_pos_bias_mlp_depth": 0},
			"attn_layers.dynamic_pos_bias_mlp_depth", "at least 1, got 0"},
		{"dynamic mlp depth unchecked when rel pos wins", tw, nil, cfgKwargs{"dynamic_pos_bias": true, "dynamic_pos_bias_mlp_depth": 0, "rel_pos_bias": true}, "", ""},
		{"scaled sinusoidal odd emb dim", tw, cfgKwargs{"scaled_sinu_pos_emb": true, "emb_dim": 15}, nil,
			"wrapper.scaled_sinu_pos_emb", "needs an even embedding dimension (emb_dim, default dim), got 15"},
		{"scaled sinusoidal unused with rel pos", tw, cfgKwargs{"scaled_sinu_pos_emb": true, "emb_dim": 15}, cfgKwargs{"rel_pos_bias": true}, "", ""},
		{"continuous scaled sinusoidal odd dim", cont, cfgKwargs{"scaled_sinu_pos_emb": true}, cfgKwargs{"dim": 33, "heads": 3},
			"wrapper.scaled_sinu_pos_emb", "needs an even dim, got 33"},
		{"dim positive", tw, nil, cfgKwargs{"dim": 0}, "attn_layers.dim", "must be a positive integer, got 0"},
		{"depth positive", tw, nil, cfgKwargs{"depth": -1}, "attn_layers.depth", "must be a positive integer, got -1"},
		{"heads positive", tw, nil, cfgKwargs{"heads": 0}, "attn_layers.heads", "must be a positive integer"},
		{"dim head positive", tw, nil, cfgKwargs{"attn_dim_head": 0}, "attn_layers.attn_dim_head", "must be a positive integer"},
		{"num tokens positive", tw, cfgKwargs{"num_tokens": 0}, nil, "wrapper.num_tokens", "must be a positive integer"},
		{"max seq len positive", tw, cfgKwargs{"max_seq_len": -5}, nil, "wrapper.max_seq_len", "got -5"},
		{"continuous max seq len", cont, cfgKwargs{"max_seq_len": 0}, nil, "wrapper.max_seq_len", "must be a positive integer"},
		{"continuous dim_out", cont, cfgKwargs{"dim_out": 0}, nil, "wrapper.dim_out", "must be a positive integer"},
		{"shift tokens tuple too short", tw, nil, cfgKwargs{"shift_tokens": []int{1, 1}},
			"attn_layers.shift_tokens", "has 2 entries for 4 layers"},
		{"shift tokens tuple per layer", tw, nil, cfgKwargs{"shift_tokens": []int{1, 0, 1, 0}}, "", ""},
		{"layer dropout tuple too short", tw, nil, cfgKwargs{"layer_dropout": []float64{0.1}}, "attn_layers.layer_dropout", "has 1 entries for 4 layers"},
		{"rotary wider than dim head", tw, nil, cfgKwargs{"rotary_pos_emb": true},
			"attn_layers.attn_dim_head", "the rotary embedding covers 32 dimensions (max(rotary_emb_dim or attn_dim_head // 2, 32)) but attn_dim_head is 8"},
		{"rotary wider than value dim head", tw, nil, cfgKwargs{"rotary_pos_emb": true, "attn_dim_head": 32, "attn_value_dim_head": 16},
			"attn_layers.attn_value_dim_head", "but attn_value_dim_head is 16"},
		{"rotary dim kwarg", tw, nil, cfgKwargs{"rotary_pos_emb": true, "attn_dim_head": 32, "rotary_emb_dim": 40},
			"attn_layers.rotary_emb_dim", "covers 40 dimensions"},
		{"rotary odd dim rounds up", tw, nil, cfgKwargs{"rotary_pos_emb": true, "attn_dim_head": 40, "rotary_emb_dim": 41},
			"attn_layers.rotary_emb_dim", "covers 42 dimensions"},
		{"rotary unused by cross attender", ca, nil, cfgKwargs{"rotary_pos_emb": true}, "", ""},
		{"tie embedding", tw, cfgKwargs{"tie_embedding": true}, nil, "", ""},
		{"tie embedding with emb_dim", tw, cfgKwargs{"tie_embedding": true, "emb_dim": 16}, nil, "wrapper.tie_embedding", "needs emb_dim equal to dim"},
		{"one kv head with mem kv", tw, nil, cfgKwargs{"attn_one_kv_head": true, "attn_num_mem_kv": 2},
			"attn_layers.attn_num_mem_kv", "tensor rank mismatch"},
		{"ff dim out", tw, nil, cfgKwargs{"ff_dim_out": 16}, "attn_layers.ff_dim_out", "must equal dim (32)"},
		{"ff mult too small", tw, nil, cfgKwargs{"ff_mult": 0.01}, "attn_layers.ff_mult", "int(dim * ff_mult) = 0"},
		{"attn dropout range", tw, nil, cfgKwargs{"attn_dropout": 1.5}, "attn_layers.attn_dropout", "between 0 and 1, got 1.5"},
		{"emb frac gradient", tw, cfgKwargs{"emb_frac_gradient": 0}, nil, "wrapper.emb_frac_gradient", "must be greater than 0"},
		{"sparse topk", tw, nil, cfgKwargs{"attn_sparse_topk": 0}, "attn_layers.attn_sparse_topk", "must be a positive integer"},
		{"xtransformer base", xt, nil, nil, "", ""},
		{"xtransformer dim", xt, cfgKwargs{"dim": 0}, nil, "wrapper.dim", "must be a positive integer, got 0"},
		{"xtransformer enc depth", xt, cfgKwargs{"enc_depth": 0}, nil, "wrapper.enc_depth", "must be a positive integer, got 0"},
		{"xtransformer dec causal", xt, cfgKwargs{"dec_causal": true}, nil, "wrapper.dec_causal", "cannot set causality on decoder"},
		{"xtransformer dec cross_attend", xt, cfgKwargs{"dec_cross_attend": true}, nil, "wrapper.dec_cross_attend", "always builds the decoder with cross_attend=True"},
		{"xtransformer enc xpos", xt, cfgKwargs{"enc_rotary_xpos": true, "enc_attn_dim_head": 32}, nil, "wrapper.enc_rotary_xpos", "bidirectional"},
		{"xtransformer deepnorm twice", xt, cfgKwargs{"deepnorm": true, "enc_deepnorm": true}, nil, "wrapper.enc_scale_residual_constant", "deepnorm sets the residual scale itself"},
		{"xtransformer deepnorm twice explained", xt, cfgKwargs{"deepnorm": true, "enc_deepnorm": true}, nil, "wrapper.enc_deepnorm", "cannot be combined with XTransformer's deepnorm"},
		{"xtransformer deepnorm", xt, cfgKwargs{"deepnorm": true}, nil, "", ""},
		{"xtransformer enc num tokens", xt, cfgKwargs{"enc_num_tokens": -1}, nil, "wrapper.enc_num_tokens", "got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := validationDoc(t, tt.kind, tt.wrapper, tt.layers)
			c, err := ParseConfig(doc)
			if tt.path == "" {
				if err != nil {
					t.Fatalf("valid config rejected: %v\n%s", err, doc)
				}
				if err := c.Validate(); err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error %v (%T) is not a *ConfigError\n%s", err, err, doc)
			}
			for _, p := range ce.Problems {
				if p.Path == tt.path && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Errorf("no problem %s: ...%s...; got:\n%v", tt.path, tt.msg, err)
		})
	}
}

func TestValidateCollectsAllProblems(t *testing.T) {
	doc := validationDoc(t, "TransformerWrapper", cfgKwargs{"num_tokens": 0}, cfgKwargs{"heads": 0, "attn_qk_norm": true, "attn_qk_norm_groups": 3, "sandwich_coef": 9})
	_, err := ParseConfig(doc)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v", err)
	}
	var paths []string
	for _, p := range ce.Problems {
		paths = append(paths, p.Path)
	}
	want := []string{"wrapper.num_tokens", "attn_layers.heads", "attn_layers.sandwich_coef", "attn_layers.attn_qk_norm_groups"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("problem paths = %q, want %q", paths, want)
	}
	if !strings.HasPrefix(err.Error(), "builder: 4 problems in the model config:\n\twrapper.num_tokens: must be a positive integer, got 0\n") {
		t.Errorf("message = %q", err)
	}
}

func TestValidateGoConfigs(t *testing.T) {
	decoder := func() *AttentionLayers {
		l := DefaultAttentionLayers()
		l.Type, l.Dim, l.Depth = LayersDecoder, 32, 1
		return l
	}
	wrapper := func() *TransformerWrapperConfig {
		w := DefaultTransformerWrapper()
		w.NumTokens, w.MaxSeqLen = 10, 10
		return w
	}
	xtransformer := func() *XTransformerConfig {
		x := DefaultXTransformer()
		x.Dim = 32
		for _, s := range []*XTransformerSide{&x.Enc, &x.Dec} {
			s.NumTokens, s.MaxSeqLen, s.Layers.Depth = 10, 10, 1
		}
		return x
	}
	tests := []struct {
		name      string
		cfg       *Config
		path, msg string
	}{
		{"valid", &Config{Kind: KindTransformerWrapper, Wrapper: wrapper(), Layers: decoder()}, "", ""},
		{"valid xtransformer", &Config{Kind: KindXTransformer, XTransformer: xtransformer()}, "", ""},
		{"no kind", &Config{}, "kind", "missing"},
		{"unknown kind", &Config{Kind: "Foo"}, "kind", `unknown kind "Foo"`},
		{"no layers", &Config{Kind: KindTransformerWrapper, Wrapper: wrapper()}, "attn_layers", "missing"},
		{"no wrapper", &Config{Kind: KindTransformerWrapper, Layers: decoder()}, "wrapper", "missing"},
		{"no type", &Config{Kind: KindTransformerWrapper, Wrapper: wrapper(), Layers: DefaultAttentionLayers()}, "attn_layers.type", "missing"},
		{"stray section", &Config{Kind: KindTransformerWrapper, Wrapper: wrapper(), ViT: DefaultViTWrapper(), Layers: decoder()},
			"wrapper", `Config.ViT is set but kind is "TransformerWrapper"`},
		{"xtransformer with layers", &Config{Kind: KindXTransformer, XTransformer: xtransformer(), Layers: decoder()}, "attn_layers", "must be empty"},
		{"xtransformer layers dim", func() *Config {
			x := xtransformer()
			x.Enc.Layers.Dim = 16
			return &Config{Kind: KindXTransformer, XTransformer: x}
		}(), "wrapper.enc_dim", "leave Layers.Dim unset"},
		{"xtransformer dec memory tokens", func() *Config {
			x := xtransformer()
			x.Dec.NumMemoryTokens = new(2)
			return &Config{Kind: KindXTransformer, XTransformer: x}
		}(), "wrapper.dec_num_memory_tokens", "encoder only"},
		{"custom layer letter", func() *Config {
			l := decoder()
			l.CustomLayers = []LayerType{'a', 'q'}
			return &Config{Kind: KindTransformerWrapper, Wrapper: wrapper(), Layers: l}
		}(), "attn_layers.custom_layers", `entry 1 is "q"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.path == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v", err)
			}
			for _, p := range ce.Problems {
				if p.Path == tt.path && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Errorf("no problem %s: ...%s...; got:\n%v", tt.path, tt.msg, err)
		})
	}
}
