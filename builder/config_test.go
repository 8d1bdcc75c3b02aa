package builder

import (
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const configFixtureDir = "../fixtures/xtransformers-1.9.2"

func loadConfigFixture(t *testing.T, name string) *Config {
	t.Helper()
	c, err := LoadConfig(filepath.Join(configFixtureDir, name, "config.json"))
	if err != nil {
		t.Fatalf("LoadConfig(%s): %v", name, err)
	}
	return c
}

func layerTypesString(types []LayerType) string {
	var b strings.Builder
	for _, t := range types {
		b.WriteString(t.String())
	}
	return b.String()
}

func TestDefaults(t *testing.T) {
	l := DefaultAttentionLayers()
	w := DefaultTransformerWrapper()
	x := DefaultXTransformer()
	tests := []struct {
		name      string
		got, want any
	}{
		{"heads", l.Heads, 8},
		{"attn_dim_head", l.Attn.DimHead, 64},
		{"attn_qk_norm_scale", l.Attn.QKNormScale, 10.0},
		{"attn_qk_norm_groups", l.Attn.QKNormGroups, 1},
		{"attn_value_dim_head", l.Attn.ValueDimHead, (*int)(nil)},
		{"ff_mult", l.FF.Mult, 4.0},
		{"ff_dim_out", l.FF.DimOut, (*int)(nil)},
		{"rel_pos_num_buckets", l.RelPosNumBuckets, 32},
		{"rel_pos_max_distance", l.RelPosMaxDistance, 128},
		{"dynamic_pos_bias_mlp_depth", l.DynamicPosBiasMLPDepth, 2},
		{"rotary_xpos_scale_base", l.RotaryXPosScaleBase, 512.0},
		{"rotary_emb_dim", l.RotaryEmbDimArg, (*int)(nil)},
		{"pre_norm", l.PreNorm, true},
		{"scale_residual_constant", l.ScaleResidualConstant, 1.0},
		{"shift_tokens", l.ShiftTokens, IntOrTuple{}},
		{"custom_layers", l.CustomLayers, []LayerType(nil)},
		{"causal", l.CausalArg, (*bool)(nil)},
		{"wrapper.use_abs_pos_emb", w.UseAbsPosEmb, true},
		{"wrapper.emb_frac_gradient", w.EmbFracGradient, 1.0},
		{"wrapper.emb_dim", w.EmbDim, (*int)(nil)},
		{"wrapper.max_mem_len", w.MaxMemLen, 0},
		{"continuous.use_abs_pos_emb", DefaultContinuousWrapper().UseAbsPosEmb, true},
		{"vit.channels", DefaultViTWrapper().Channels, 3},
		{"vit.num_classes", DefaultViTWrapper().NumClasses, (*int)(nil)},
		{"xt.ignore_index", x.IgnoreIndex, -100},
		{"xt.pad_value", x.PadValue, 0},
		{"xt.enc_use_abs_pos_emb", x.Enc.UseAbsPosEmb, true},
		{"xt.enc type", x.Enc.Layers.Type, LayersEncoder},
		{"xt.dec heads", x.Dec.Layers.Heads, 8},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestResolvedLayerValues(t *testing.T) {
	mk := func(typ LayersType, edit func(*AttentionLayers)) *AttentionLayers {
		l := DefaultAttentionLayers()
		l.Type, l.Dim, l.Depth = typ, 32, 2
		if edit != nil {
			edit(l)
		}
		return l
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"decoder causal", mk(LayersDecoder, nil).Causal(), true},
		{"encoder causal", mk(LayersEncoder, nil).Causal(), false},
		{"cross attender causal default", mk(LayersCrossAttender, nil).Causal(), false},
		{"cross attender causal kwarg", mk(LayersCrossAttender, func(l *AttentionLayers) { l.CausalArg = new(true) }).Causal(), true},
		{"cross attender cross_attend", mk(LayersCrossAttender, nil).CrossAttend(), true},
		{"cross attender only_cross", mk(LayersCrossAttender, nil).OnlyCross(), true},
		{"decoder cross_attend kwarg", mk(LayersDecoder, func(l *AttentionLayers) { l.CrossAttendArg = new(true) }).CrossAttend(), true},
		{"only_cross without cross_attend", mk(LayersEncoder, func(l *AttentionLayers) { l.OnlyCrossArg = new(true) }).OnlyCross(), false},
		{"dim head default", mk(LayersDecoder, nil).DimHead(), 64},
		{"value dim head default", mk(LayersDecoder, nil).ValueDimHead(), 64},
		{"value dim head set", mk(LayersDecoder, func(l *AttentionLayers) { l.Attn.ValueDimHead = new(16) }).ValueDimHead(), 16},
		{"rotary dim default 64/2", mk(LayersDecoder, nil).RotaryEmbDim(), 32},
		{"rotary dim floor 32", mk(LayersDecoder, func(l *AttentionLayers) { l.Attn.DimHead = 48 }).RotaryEmbDim(), 32},
		{"rotary dim head 128", mk(LayersDecoder, func(l *AttentionLayers) { l.Attn.DimHead = 128 }).RotaryEmbDim(), 64},
		{"rotary dim kwarg", mk(LayersDecoder, func(l *AttentionLayers) { l.RotaryEmbDimArg = new(40) }).RotaryEmbDim(), 40},
		{"rotary dim kwarg below 32", mk(LayersDecoder, func(l *AttentionLayers) { l.RotaryEmbDimArg = new(16) }).RotaryEmbDim(), 32},
		{"xpos turns rotary on", mk(LayersDecoder, func(l *AttentionLayers) { l.RotaryXPos = true }).UsesRotary(), true},
		{"rotary has pos emb", mk(LayersDecoder, func(l *AttentionLayers) { l.RotaryPosEmb = true }).HasPosEmb(), true},
		{"rel pos has pos emb", mk(LayersDecoder, func(l *AttentionLayers) { l.RelPosBias = true }).HasPosEmb(), true},
		{"alibi no pos emb", mk(LayersDecoder, func(l *AttentionLayers) { l.AlibiPosBias = true }).HasPosEmb(), false},
		{"dynamic no pos emb", mk(LayersDecoder, func(l *AttentionLayers) { l.DynamicPosBias = true }).HasPosEmb(), false},
		{"rel pos wins over dynamic", mk(LayersDecoder, func(l *AttentionLayers) { l.RelPosBias, l.DynamicPosBias = true, true }).RelPos(), RelPosT5},
		{"dynamic wins over alibi", mk(LayersDecoder, func(l *AttentionLayers) { l.AlibiPosBias, l.DynamicPosBias = true, true }).RelPos(), RelPosDynamic},
		{"learned alibi", mk(LayersDecoder, func(l *AttentionLayers) { l.AlibiPosBias, l.AlibiLearned = true, true }).RelPos(), RelPosLearnedAlibi},
		{"alibi heads default", mk(LayersDecoder, nil).AlibiHeads(), 8},
		{"rmsnorm wins", mk(LayersDecoder, func(l *AttentionLayers) { l.UseRMSNorm, l.UseScalenorm = true, true }).NormKind(), NormRMSNorm},
		{"scalenorm", mk(LayersDecoder, func(l *AttentionLayers) { l.UseScalenorm = true }).NormKind(), NormScaleNorm},
		{"deepnorm pre_norm", mk(LayersDecoder, func(l *AttentionLayers) { l.Deepnorm = true }).EffectivePreNorm(), false},
		{"deepnorm sandwich", mk(LayersDecoder, func(l *AttentionLayers) { l.Deepnorm, l.SandwichNorm = true, true }).EffectiveSandwichNorm(), false},
		{"deepnorm scale_residual", mk(LayersDecoder, func(l *AttentionLayers) { l.Deepnorm = true }).EffectiveScaleResidual(), true},
		{"deepnorm constant depth 2", mk(LayersDecoder, func(l *AttentionLayers) { l.Deepnorm = true }).EffectiveScaleResidualConstant(), 1.4142135623730951},
		{"constant without deepnorm", mk(LayersDecoder, func(l *AttentionLayers) { l.ScaleResidualConstant = 0.5 }).EffectiveScaleResidualConstant(), 0.5},
		{"num attn layers", mk(LayersDecoder, nil).NumAttnLayers(), 2},
		{"shift tokens per layer", mk(LayersDecoder, func(l *AttentionLayers) { l.ShiftTokens.Int = 1 }).ShiftTokensPerLayer(), []int{1, 1, 1, 1}},
		{"shift tokens tuple", mk(LayersDecoder, func(l *AttentionLayers) { l.ShiftTokens.Tuple = []int{1, 0, 2, 0} }).ShiftTokensPerLayer(), []int{1, 0, 2, 0}},
		{"token shifts causal", mk(LayersDecoder, func(l *AttentionLayers) { l.ShiftTokens.Int = 1 }).TokenShifts(0), []int{0, 1}},
		{"token shifts bidirectional", mk(LayersEncoder, func(l *AttentionLayers) { l.ShiftTokens.Tuple = []int{1, 0, 2, 0} }).TokenShifts(2), []int{-2, -1, 0, 1, 2}},
		{"token shifts zero", mk(LayersEncoder, func(l *AttentionLayers) { l.ShiftTokens.Tuple = []int{1, 0, 2, 0} }).TokenShifts(1), []int(nil)},
		{"token shifts out of range", mk(LayersEncoder, func(l *AttentionLayers) { l.ShiftTokens.Int = 1 }).TokenShifts(9), []int(nil)},
		{"ff activation default", DefaultFeedForward().Activation(), ActivationGELU},
		{"ff activation relu2 wins", (&FeedForwardConfig{Swish: true, ReluSquared: true}).Activation(), ActivationReluSquared},
		{"ff activation swish", (&FeedForwardConfig{Swish: true}).Activation(), ActivationSiLU},
		{"ff inner dim", (&FeedForwardConfig{Mult: 2.5}).InnerDim(30), 75},
		{"ff inner dim truncates", (&FeedForwardConfig{Mult: 1.3}).InnerDim(10), 13},
		{"ff out dim", DefaultFeedForward().OutDim(32), 32},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestLayerTypes(t *testing.T) {
	tests := []struct {
		name string
		typ  LayersType
		edit func(*AttentionLayers)
		want string // "" means LayerTypes returns nil (invalid)
	}{
		{"default decoder", LayersDecoder, nil, "afaf"},
		{"default encoder depth 3", LayersEncoder, func(l *AttentionLayers) { l.Depth = 3 }, "afafaf"},
		{"macaron", LayersDecoder, func(l *AttentionLayers) { l.Macaron = true }, "faffaf"},
		{"cross", LayersDecoder, func(l *AttentionLayers) { l.CrossAttendArg = new(true) }, "acfacf"},
		{"cross only_cross", LayersEncoder, func(l *AttentionLayers) { l.CrossAttendArg, l.OnlyCrossArg = new(true), new(true) }, "cfcf"},
		{"only_cross alone has no effect", LayersEncoder, func(l *AttentionLayers) { l.OnlyCrossArg = new(true) }, "afaf"},
		{"cross attender", LayersCrossAttender, nil, "cfcf"},
		{"cross attender macaron depth 1", LayersCrossAttender, func(l *AttentionLayers) { l.Macaron, l.Depth = true, 1 }, "fcf"},
		{"custom", LayersDecoder, func(l *AttentionLayers) { l.CustomLayers = []LayerType{'a', 'a', 'f'} }, "aaf"},
		{"custom wins over par_ratio", LayersDecoder, func(l *AttentionLayers) {
			l.CustomLayers, l.ParRatio = []LayerType{'f', 'a'}, new(99)
		}, "fa"},
		// par_depth 12, par_attn 3, depth_cut 8, par_width (8+2)//3 = 3.
		{"par_ratio 4 depth 6", LayersDecoder, func(l *AttentionLayers) { l.Depth, l.ParRatio = 6, new(4) }, "affaffafffff"},
		// par_depth 6, par_attn 3, depth_cut 4, par_width 5//3 = 1.
		{"par_ratio 2 depth 3", LayersDecoder, func(l *AttentionLayers) { l.Depth, l.ParRatio = 3, new(2) }, "aaafff"},
		// macaron block (f,a,f): par_depth 6, par_attn 2, depth_cut 4, par_width 3.
		{"par_ratio macaron", LayersDecoder, func(l *AttentionLayers) { l.Macaron, l.ParRatio = true, new(3) }, "affaff"},
		// block (a,c,f), depth 1: par_depth 3, par_attn 1, par_width 4: the head is longer than par_depth.
		{"par_ratio head longer than depth", LayersDecoder, func(l *AttentionLayers) {
			l.Depth, l.CrossAttendArg, l.ParRatio = 1, new(true), new(2)
		}, "acff"},
		{"par_ratio wins over sandwich", LayersDecoder, func(l *AttentionLayers) {
			l.Depth, l.ParRatio, l.SandwichCoef = 3, new(2), new(99)
		}, "aaafff"},
		{"par_ratio 1 out of range", LayersDecoder, func(l *AttentionLayers) { l.ParRatio = new(1) }, ""},
		{"par_ratio above par depth", LayersDecoder, func(l *AttentionLayers) { l.ParRatio = new(5) }, ""},
		// block (a,c,f) depth 2: par_attn 3, par_width (4+1)//3 = 1 < 2 attention layers.
		{"par_ratio block too large", LayersDecoder, func(l *AttentionLayers) { l.CrossAttendArg, l.ParRatio = new(true), new(2) }, ""},
		{"sandwich 1 depth 3", LayersDecoder, func(l *AttentionLayers) { l.Depth, l.SandwichCoef = 3, new(1) }, "aafaff"},
		{"sandwich = depth", LayersDecoder, func(l *AttentionLayers) { l.Depth, l.SandwichCoef = 3, new(3) }, "aaafff"},
		{"sandwich cross", LayersDecoder, func(l *AttentionLayers) { l.CrossAttendArg, l.SandwichCoef = new(true), new(1) }, "aacff"},
		{"sandwich 0", LayersDecoder, func(l *AttentionLayers) { l.SandwichCoef = new(0) }, ""},
		{"sandwich above depth", LayersDecoder, func(l *AttentionLayers) { l.SandwichCoef = new(3) }, ""},
		{"custom invalid letter", LayersDecoder, func(l *AttentionLayers) { l.CustomLayers = []LayerType{'a', 'x'} }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := DefaultAttentionLayers()
			l.Type, l.Dim, l.Depth = tt.typ, 32, 2
			if tt.edit != nil {
				tt.edit(l)
			}
			got := l.LayerTypes()
			if tt.want == "" {
				if got != nil {
					t.Fatalf("LayerTypes = %q, want nil", layerTypesString(got))
				}
				if _, key, msg := l.layerTypes(); key == "" || msg == "" {
					t.Fatalf("layerTypes gave no reason")
				}
				return
			}
			if s := layerTypesString(got); s != tt.want {
				t.Fatalf("LayerTypes = %q, want %q", s, tt.want)
			}
		})
	}
}

func TestFixturesParseAndValidate(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(configFixtureDir, "*", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 25 {
		t.Fatalf("found %d fixture configs, want 25", len(paths))
	}
	for _, p := range paths {
		c, err := LoadConfig(p)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", p, err)
		}
		if len(c.Inputs) == 0 || len(c.OutputShape) == 0 {
			t.Errorf("%s: inputs/output_shape not kept: %+v %v", p, c.Inputs, c.OutputShape)
		}
	}
}

func TestFixtureValues(t *testing.T) {
	get := func(name string) *Config { return loadConfigFixture(t, name) }
	encDec := get("enc_dec")
	enc, dec := encDec.XTransformer.EncoderConfig(), encDec.XTransformer.DecoderConfig()
	tests := []struct {
		name      string
		got, want any
	}{
		{"dec_basic layer types", layerTypesString(get("dec_basic").Layers.LayerTypes()), "afaf"},
		{"dec_basic pos emb", get("dec_basic").PosEmb(), PosEmbAbsolute},
		{"dec_basic output dim", get("dec_basic").OutputDim(), 64},
		{"dec_basic emb dim", get("dec_basic").EmbDim(), 32},
		{"dec_alibi alibi heads", get("dec_alibi").Layers.AlibiHeads(), 2},
		{"dec_alibi keeps abs pos emb", get("dec_alibi").PosEmb(), PosEmbAbsolute},
		{"dec_alibi rel pos", get("dec_alibi").Layers.RelPos(), RelPosAlibi},
		{"dec_rotary rotary dim", get("dec_rotary").Layers.RotaryEmbDim(), 32},
		{"dec_rotary no abs pos emb", get("dec_rotary").PosEmb(), PosEmbNone},
		{"dec_rotary_xpos rotary", get("dec_rotary_xpos").Layers.UsesRotary(), true},
		{"enc_relpos rel pos", get("enc_relpos_mask").Layers.RelPos(), RelPosT5},
		{"enc_relpos no abs pos emb", get("enc_relpos_mask").PosEmb(), PosEmbNone},
		{"dec_dynpos keeps abs pos emb", get("dec_dynpos").PosEmb(), PosEmbAbsolute},
		{"dec_embed_variants emb dim", get("dec_embed_variants").EmbDim(), 16},
		{"dec_embed_variants memory tokens", get("dec_embed_variants").NumMemoryTokens(), 2},
		{"dec_embed_variants pos emb", get("dec_embed_variants").PosEmb(), PosEmbScaledSinusoidal},
		{"dec_ff_variants layer types", layerTypesString(get("dec_ff_variants").Layers.LayerTypes()), "faffaf"},
		{"dec_ff_variants activation", get("dec_ff_variants").Layers.FF.Activation(), ActivationReluSquared},
		{"dec_deepnorm constant", get("dec_deepnorm").Layers.EffectiveScaleResidualConstant(), 1.4142135623730951},
		{"dec_deepnorm pre_norm", get("dec_deepnorm").Layers.EffectivePreNorm(), false},
		{"dec_shift_topk shifts", get("dec_shift_topk").Layers.TokenShifts(3), []int{0, 1}},
		{"dec_shift_topk topk", *get("dec_shift_topk").Layers.Attn.SparseTopK, 4},
		{"dec_qknorm_groups scale", get("dec_qknorm_groups").Layers.Attn.QKNormScale, 8.0},
		{"cross_attender layer types", layerTypesString(get("cross_attender").Layers.LayerTypes()), "cfcf"},
		{"cross_attender output dim", get("cross_attender").OutputDim(), 32},
		{"vit output dim", get("vit").OutputDim(), 10},
		{"vit pos emb", get("vit").PosEmb(), PosEmbPatch},
		{"continuous output dim", get("continuous_enc").OutputDim(), 5},
		{"continuous dim_in", *get("continuous_enc").Continuous.DimIn, 8},
		{"continuous input order", get("continuous_enc").Inputs[1].Name, "mask"},
		{"enc_dec dim", encDec.Dim(), 32},
		{"enc_dec enc num tokens", encDec.XTransformer.Enc.NumTokens, 64},
		{"enc_dec enc heads", encDec.XTransformer.Enc.Layers.Heads, 4},
		{"enc_dec dec dim head", encDec.XTransformer.Dec.Layers.Attn.DimHead, 8},
		{"enc_dec input order", []string{encDec.Inputs[0].Name, encDec.Inputs[1].Name, encDec.Inputs[2].Name}, []string{"src", "tgt", "src_mask"}},
		{"encoder kind", enc.Kind, KindTransformerWrapper},
		{"encoder type", enc.Layers.Type, LayersEncoder},
		{"encoder dim", enc.Layers.Dim, 32},
		{"encoder causal", enc.Layers.Causal(), false},
		{"encoder layer types", layerTypesString(enc.Layers.LayerTypes()), "af"},
		{"encoder max_seq_len", enc.Wrapper.MaxSeqLen, 64},
		{"decoder type", dec.Layers.Type, LayersDecoder},
		{"decoder causal", dec.Layers.Causal(), true},
		{"decoder cross attend", dec.Layers.CrossAttend(), true},
		{"decoder layer types", layerTypesString(dec.Layers.LayerTypes()), "acf"},
		{"enc_dec output dim", encDec.OutputDim(), 64},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
}

func TestXTransformerSplit(t *testing.T) {
	c, err := ParseConfig([]byte(`{"kind": "XTransformer", "wrapper": {
		"dim": 64, "deepnorm": true, "tie_token_emb": true, "pad_value": 3,
		"enc_num_tokens": 100, "enc_max_seq_len": 50, "enc_depth": 2, "enc_num_memory_tokens": 4,
		"enc_emb_dropout": 0.1, "enc_use_abs_pos_emb": false, "enc_rel_pos_bias": true, "enc_ff_glu": true,
		"dec_num_tokens": 200, "dec_max_seq_len": 70, "dec_depth": 3, "dec_scaled_sinu_pos_emb": true,
		"dec_attn_dim_head": 48, "dec_rotary_pos_emb": true, "dec_rotary_emb_dim": 16}}`))
	if err != nil {
		t.Fatal(err)
	}
	x := c.XTransformer
	enc, dec := x.EncoderConfig(), x.DecoderConfig()
	tests := []struct {
		name      string
		got, want any
	}{
		{"enc num tokens", enc.Wrapper.NumTokens, 100},
		{"enc max seq len", enc.Wrapper.MaxSeqLen, 50},
		{"enc memory tokens", enc.NumMemoryTokens(), 4},
		{"enc emb dropout", enc.Wrapper.EmbDropout, 0.1},
		{"enc use abs pos emb", enc.Wrapper.UseAbsPosEmb, false},
		{"enc rel pos", enc.Layers.RelPosBias, true},
		{"enc ff glu", enc.Layers.FF.GLU, true},
		{"enc depth", enc.Layers.Depth, 2},
		{"enc scale residual", enc.Layers.EffectiveScaleResidual(), true},
		{"enc constant", enc.Layers.EffectiveScaleResidualConstant(), 1.0317217739919822},
		{"enc pre_norm kept", enc.Layers.EffectivePreNorm(), true},
		{"dec constant", dec.Layers.EffectiveScaleResidualConstant(), 1.7320508075688772},
		{"dec num tokens", dec.Wrapper.NumTokens, 200},
		{"dec scaled sinu", dec.Wrapper.ScaledSinuPosEmb, true},
		{"dec pos emb (rotary disables it)", dec.PosEmb(), PosEmbNone},
		{"dec rotary dim", dec.Layers.RotaryEmbDim(), 32},
		{"dec memory tokens", dec.NumMemoryTokens(), 0},
		{"dec dim head", dec.Layers.DimHead(), 48},
		{"dec heads default", dec.Layers.Heads, 8},
		{"dec layer types", layerTypesString(dec.Layers.LayerTypes()), "acfacfacf"},
		{"tie", x.TieTokenEmb, true},
		{"pad value", x.PadValue, 3},
		{"raw side untouched", x.Enc.Layers.ScaleResidual, false},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, tt.got, tt.want)
		}
	}
	// The derived configs are independent copies.
	dec.Layers.RotaryEmbDimArg = new(99)
	if *x.Dec.Layers.RotaryEmbDimArg != 16 {
		t.Errorf("DecoderConfig shares rotary_emb_dim with the XTransformer")
	}
	if d := math.Abs(enc.Layers.EffectiveScaleResidualConstant() - 0.81*math.Pow(16*3, 0.0625)); d > 1e-15 {
		t.Errorf("encoder deepnorm constant off by %g", d)
	}
}

func TestNonDefault(t *testing.T) {
	tests := []struct {
		fixture string
		want    []string
	}{
		{"dec_basic", []string{"attn_layers.heads", "attn_layers.attn_dim_head"}},
		{"dec_attn_variants", []string{"attn_layers.heads", "attn_layers.attn_dim_head", "attn_layers.attn_talking_heads",
			"attn_layers.attn_head_scale", "attn_layers.attn_on_attn", "attn_layers.attn_gate_values"}},
		{"dec_embed_variants", []string{"wrapper.emb_dim", "wrapper.post_emb_norm", "wrapper.num_memory_tokens",
			"wrapper.scaled_sinu_pos_emb", "attn_layers.heads", "attn_layers.attn_dim_head"}},
		{"enc_dec", []string{"wrapper.enc_heads", "wrapper.enc_attn_dim_head", "wrapper.dec_heads", "wrapper.dec_attn_dim_head"}},
		{"vit", []string{"wrapper.num_classes", "attn_layers.heads", "attn_layers.attn_dim_head"}},
		{"dec_shift_topk", []string{"attn_layers.heads", "attn_layers.shift_tokens", "attn_layers.attn_dim_head", "attn_layers.attn_sparse_topk"}},
	}
	for _, tt := range tests {
		if got := loadConfigFixture(t, tt.fixture).NonDefault(); !slices.Equal(got, tt.want) {
			t.Errorf("%s: NonDefault = %q, want %q", tt.fixture, got, tt.want)
		}
	}
	c, err := ParseConfig([]byte(`{"kind": "CrossAttender", "attn_layers": {"type": "CrossAttender", "dim": 8, "depth": 1, "causal": false}}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.NonDefault(); !slices.Equal(got, []string{"attn_layers.causal"}) {
		t.Errorf("explicit causal=false: NonDefault = %q", got)
	}
}
