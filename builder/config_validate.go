package builder

import (
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a model config.
type Problem struct {
	// Path is the JSON key path of the offending value, e.g.
	// "attn_layers.attn_qk_norm_groups", "wrapper.enc_heads" or
	// "inputs.x.shape"; the containing object for unknown and missing keys;
	// "" for the top level.
	Path string
	// Message says what is wrong and, where known, how to fix it.
	Message string
}

// String returns "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ConfigError lists every problem found while decoding or validating a
// model config.
type ConfigError struct {
	File     string // the config file, "" when parsed from memory
	Problems []Problem
}

// Error lists the problems, one per line after the first when there are
// several.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("builder: ")
	if e.File != "" {
		b.WriteString(e.File + ": ")
	}
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems in the model config:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t" + p.String())
	}
	return b.String()
}

// ConfigSyntaxError reports a model config that is not valid JSON.
type ConfigSyntaxError struct {
	File   string // the config file, "" when parsed from memory
	Line   int    // 1-based line of the offending byte
	Column int    // 1-based byte column of the offending byte
	Offset int64  // json.SyntaxError.Offset
	Err    error  // the *json.SyntaxError
}

// Error returns "builder: file:line:column: malformed JSON: reason".
func (e *ConfigSyntaxError) Error() string {
	where := fmt.Sprintf("line %d, column %d", e.Line, e.Column)
	if e.File != "" {
		where = fmt.Sprintf("%s:%d:%d", e.File, e.Line, e.Column)
	}
	return fmt.Sprintf("builder: %s: malformed JSON: %v", where, e.Err)
}

// Unwrap returns the *json.SyntaxError.
func (e *ConfigSyntaxError) Unwrap() error { return e.Err }

// Validate repeats every assertion x-transformers 1.9.2 makes while
// constructing (and, where a configuration always fails, running) the
// model, and checks that sizes are positive and the sections match Kind.
// It returns nil or a *ConfigError listing every problem, with JSON key
// paths.
func (c *Config) Validate() error {
	v := &configValidator{}
	v.config(c)
	if len(v.probs) == 0 {
		return nil
	}
	return &ConfigError{Problems: v.probs}
}

// keyPath maps a kwarg name to its JSON key path.
type keyPath func(key string) string

func sectionPath(section string) keyPath {
	return func(key string) string { return section + "." + key }
}

type configValidator struct{ probs []Problem }

func (v *configValidator) add(path, format string, args ...any) {
	p := Problem{path, fmt.Sprintf(format, args...)}
	if !slices.Contains(v.probs, p) {
		v.probs = append(v.probs, p)
	}
}

func (v *configValidator) positive(path string, n int) {
	if n <= 0 {
		v.add(path, "must be a positive integer, got %d", n)
	}
}

func (v *configValidator) optPositive(path string, n *int) {
	if n != nil {
		v.positive(path, *n)
	}
}

func (v *configValidator) nonNegative(path string, n int) {
	if n < 0 {
		v.add(path, "must not be negative, got %d", n)
	}
}

// dropout checks a probability as torch.nn.Dropout does.
func (v *configValidator) dropout(path string, p float64) {
	if !(p >= 0 && p <= 1) {
		v.add(path, "dropout probability must be between 0 and 1, got %g", p)
	}
}

func (v *configValidator) config(c *Config) {
	sections := []struct {
		set  bool
		kind Kind
		name string
	}{
		{c.Wrapper != nil, KindTransformerWrapper, "Wrapper"},
		{c.Continuous != nil, KindContinuousTransformerWrapper, "Continuous"},
		{c.ViT != nil, KindViTransformerWrapper, "ViT"},
		{c.XTransformer != nil, KindXTransformer, "XTransformer"},
	}
	for _, s := range sections {
		if s.set && s.kind != c.Kind {
			v.add("wrapper", "Config.%s is set but kind is %q; set only the section of the kind", s.name, c.Kind)
		}
	}
	if c.NAR != nil {
		defer v.nar(c)
	}
	if c.Version != "" && !slices.Contains(XTransformersVersions, c.Version) {
		v.add("x_transformers_version", "%s", unsupportedVersionMessage(c.Version))
	}
	if c.Kind == KindXTransformer {
		if c.Layers != nil {
			v.add("attn_layers", `must be empty for kind XTransformer; the encoder and decoder layers are XTransformer.Enc and .Dec ("enc_"/"dec_" keys)`)
		}
		if c.XTransformer == nil {
			v.add("wrapper", "missing; kind XTransformer needs its keyword arguments")
			return
		}
		v.xtransformer(c.XTransformer)
		return
	}
	switch c.Kind {
	case KindTransformerWrapper, KindContinuousTransformerWrapper, KindViTransformerWrapper, KindCrossAttender:
	case "":
		v.add("kind", "missing; use one of %s", strings.Join(allKinds, ", "))
		return
	default:
		v.add("kind", "%s", unknownValueMessage("kind", string(c.Kind), allKinds))
		return
	}
	l := c.Layers
	if l == nil {
		v.add("attn_layers", "missing; kind %s needs attention layers", c.Kind)
		return
	}
	wp, lp := sectionPath("wrapper"), sectionPath("attn_layers")
	switch c.Kind {
	case KindTransformerWrapper:
		if c.Wrapper == nil {
			v.add("wrapper", "missing; kind %s needs its keyword arguments", c.Kind)
		} else {
			v.transformerWrapper(c.Wrapper, l, wp)
		}
	case KindContinuousTransformerWrapper:
		if c.Continuous == nil {
			v.add("wrapper", "missing; kind %s needs its keyword arguments", c.Kind)
		} else {
			v.continuousWrapper(c.Continuous, l, wp)
		}
	case KindViTransformerWrapper:
		if c.ViT == nil {
			v.add("wrapper", "missing; kind %s needs its keyword arguments", c.Kind)
		} else {
			v.vitWrapper(c.ViT, wp)
		}
		if l.Type != LayersEncoder && l.Type != "" {
			v.add(lp("type"), "ViTransformerWrapper needs an Encoder (x-transformers: attention layers must be an Encoder), got %q", l.Type)
		}
	case KindCrossAttender:
		if l.Type != LayersCrossAttender && l.Type != "" {
			v.add(lp("type"), "kind CrossAttender needs attention layers of type CrossAttender, got %q", l.Type)
		}
	}
	v.layers(l, lp)
}

func (v *configValidator) transformerWrapper(w *TransformerWrapperConfig, l *AttentionLayers, p keyPath) {
	v.positive(p("num_tokens"), w.NumTokens)
	v.positive(p("max_seq_len"), w.MaxSeqLen)
	v.optPositive(p("emb_dim"), w.EmbDim)
	v.optPositive(p("logits_dim"), w.LogitsDim)
	if w.NumMemoryTokens != nil {
		v.nonNegative(p("num_memory_tokens"), *w.NumMemoryTokens)
	}
	v.nonNegative(p("max_mem_len"), w.MaxMemLen)
	v.nonNegative(p("shift_mem_down"), w.ShiftMemDown)
	v.dropout(p("emb_dropout"), w.EmbDropout)
	if !(w.EmbFracGradient > 0) {
		v.add(p("emb_frac_gradient"), "must be greater than 0 (x-transformers asserts it in the forward pass), got %g", w.EmbFracGradient)
	}
	if w.TieEmbedding && derefOr(w.EmbDim, l.Dim) != l.Dim {
		v.add(p("tie_embedding"), "tie_embedding=true needs emb_dim equal to dim (the logits are x · token_emb.emb.weightᵀ); x-transformers 1.9.2 itself fails on tie_embedding, xt2onnx does what it means")
	}
	if w.UseAbsPosEmb && !l.HasPosEmb() && w.ScaledSinuPosEmb {
		if d := derefOr(w.EmbDim, l.Dim); d%2 != 0 {
			v.add(p("scaled_sinu_pos_emb"), "the scaled sinusoidal embedding needs an even embedding dimension (emb_dim, default dim), got %d", d)
		}
	}
}

func (v *configValidator) continuousWrapper(w *ContinuousWrapperConfig, l *AttentionLayers, p keyPath) {
	v.positive(p("max_seq_len"), w.MaxSeqLen)
	v.optPositive(p("dim_in"), w.DimIn)
	v.optPositive(p("dim_out"), w.DimOut)
	v.optPositive(p("emb_dim"), w.EmbDim)
	v.dropout(p("emb_dropout"), w.EmbDropout)
	if w.UseAbsPosEmb && !l.HasPosEmb() && w.ScaledSinuPosEmb && l.Dim%2 != 0 {
		v.add(p("scaled_sinu_pos_emb"), "the scaled sinusoidal embedding needs an even dim, got %d", l.Dim)
	}
}

func (v *configValidator) vitWrapper(w *ViTWrapperConfig, p keyPath) {
	v.positive(p("image_size"), w.ImageSize)
	v.positive(p("patch_size"), w.PatchSize)
	v.positive(p("channels"), w.Channels)
	v.optPositive(p("num_classes"), w.NumClasses)
	if w.ImageSize > 0 && w.PatchSize > 0 && w.ImageSize%w.PatchSize != 0 {
		v.add(p("patch_size"), "image dimensions must be divisible by the patch size: image_size %d is not a multiple of patch_size %d", w.ImageSize, w.PatchSize)
	}
	v.dropout(p("dropout"), w.Dropout)
	v.dropout(p("emb_dropout"), w.EmbDropout)
}

func (v *configValidator) xtransformer(x *XTransformerConfig) {
	v.positive("wrapper.dim", x.Dim)
	sides := []struct {
		prefix string
		side   *XTransformerSide
		cfg    *Config
	}{{"enc_", &x.Enc, x.EncoderConfig()}, {"dec_", &x.Dec, x.DecoderConfig()}}
	for _, s := range sides {
		prefix := s.prefix
		p := func(key string) string {
			if key == "dim" {
				return "wrapper.dim"
			}
			return "wrapper." + prefix + key
		}
		if d := s.side.Layers.Dim; d != 0 && d != x.Dim {
			v.add("wrapper."+prefix+"dim", "XTransformer sets the dimension of encoder and decoder with dim (%d); leave Layers.Dim unset (it is %d)", x.Dim, d)
		}
		if x.Deepnorm && s.side.Layers.Deepnorm {
			v.add(p("deepnorm"), "cannot be combined with XTransformer's deepnorm, which sets %s (the layers' deepnorm then fails its assertion); remove one", p("scale_residual_constant"))
		}
		v.transformerWrapper(s.cfg.Wrapper, s.cfg.Layers, p)
		v.layers(s.cfg.Layers, p)
	}
	if x.Dec.NumMemoryTokens != nil {
		v.add("wrapper.dec_num_memory_tokens", "x-transformers 1.9.2 passes num_memory_tokens to the encoder only (it would be silently ignored); remove it")
	}
	if x.Dec.Layers.CrossAttendArg != nil {
		v.add("wrapper.dec_cross_attend", "XTransformer always builds the decoder with cross_attend=True (PyTorch raises TypeError: multiple values for cross_attend); remove it")
	}
	v.dropout("wrapper.cross_attn_tokens_dropout", x.CrossAttnTokensDropout)
}

// maxDepth bounds depth: the deepest published transformers have a few
// hundred layers, and every layer costs graph nodes before any weight is
// read.
const maxDepth = 10_000

func (v *configValidator) layers(l *AttentionLayers, p keyPath) {
	switch l.Type {
	case LayersEncoder, LayersDecoder, LayersCrossAttender:
	case "":
		v.add(p("type"), `missing; use "Encoder", "Decoder" or "CrossAttender"`)
	default:
		v.add(p("type"), "%s", unknownValueMessage("attention layers type", string(l.Type), allLayersTypes))
	}
	v.positive(p("dim"), l.Dim)
	v.positive(p("depth"), l.Depth)
	if l.Depth > maxDepth {
		v.add(p("depth"), "%d layers is beyond any real model (at most %d here); the graph would have billions of nodes", l.Depth, maxDepth)
	}
	v.positive(p("heads"), l.Heads)
	switch l.Type {
	case LayersEncoder, LayersDecoder:
		if l.CausalArg != nil {
			v.add(p("causal"), "cannot set causality on %s: the %s sets causal=%v itself; remove the key", strings.ToLower(string(l.Type)), l.Type, l.Type == LayersDecoder)
		}
	case LayersCrossAttender:
		if l.CrossAttendArg != nil {
			v.add(p("cross_attend"), "CrossAttender sets cross_attend=True itself (PyTorch raises TypeError: multiple values); remove the key")
		}
		if l.OnlyCrossArg != nil {
			v.add(p("only_cross"), "CrossAttender sets only_cross=True itself (PyTorch raises TypeError: multiple values); remove the key")
		}
	}

	// Position embeddings and biases.
	if l.AlibiPosBias && l.RelPosBias {
		v.add(p("alibi_pos_bias"), "you can only choose ALiBi (alibi_pos_bias) or T5 relative position bias (rel_pos_bias), not both")
	}
	if l.RelPosNumBuckets > l.RelPosMaxDistance {
		v.add(p("rel_pos_num_buckets"), "the number of relative position buckets (%d) must not exceed rel_pos_max_distance (%d)", l.RelPosNumBuckets, l.RelPosMaxDistance)
	}
	switch l.RelPos() {
	case RelPosT5:
		v.positive(p("rel_pos_num_buckets"), l.RelPosNumBuckets)
	case RelPosDynamic:
		if l.DynamicPosBiasMLPDepth < 1 {
			v.add(p("dynamic_pos_bias_mlp_depth"), "the dynamic position bias MLP needs a depth of at least 1, got %d", l.DynamicPosBiasMLPDepth)
		}
	case RelPosAlibi, RelPosLearnedAlibi:
		if h := l.AlibiHeads(); h <= 0 {
			v.add(p("alibi_num_heads"), "must be a positive integer, got %d", h)
		} else if h > l.Heads {
			v.add(p("alibi_num_heads"), "the number of ALiBi heads (%d) must not exceed heads (%d)", h, l.Heads)
		}
	}
	if l.RotaryXPos && !l.Causal() {
		v.add(p("rotary_xpos"), "rotary xpos is not compatible with bidirectional attention: it needs causal attention (a Decoder)")
	}
	v.optPositive(p("rotary_emb_dim"), l.RotaryEmbDimArg)

	// Norms and residuals.
	if l.Deepnorm && l.ScaleResidualConstant != 1 {
		v.add(p("scale_residual_constant"), "deepnorm sets the residual scale itself; leave scale_residual_constant at 1 (got %g)", l.ScaleResidualConstant)
	}
	if !l.EffectivePreNorm() && l.EffectiveSandwichNorm() {
		v.add(p("sandwich_norm"), "sandwich norm cannot be used without pre-norm: set pre_norm to true or sandwich_norm to false")
	}

	// Layer layout and per-layer tuples.
	types, key, msg := l.layerTypes()
	if msg != "" {
		v.add(p(key), "%s", msg)
	} else {
		n := len(types)
		if t := l.ShiftTokens.Tuple; t != nil && len(t) < n {
			v.add(p("shift_tokens"), "has %d entries for %d layers; x-transformers 1.9.2 would silently build only the first %d layers: give one value per layer or a single integer", len(t), n, len(t))
		}
		if t := l.LayerDropout.Tuple; t != nil && len(t) < n {
			v.add(p("layer_dropout"), "has %d entries for %d layers; x-transformers 1.9.2 would silently skip the last layers: give one value per layer or a single number", len(t), n)
		}
		if l.UsesRotary() && slices.Contains(types, LayerSelfAttention) {
			r := l.RotaryEmbDim()
			width := r + r%2
			at := p("attn_dim_head")
			if l.RotaryEmbDimArg != nil {
				at = p("rotary_emb_dim")
			}
			switch {
			case width > l.DimHead() && l.DimHead() > 0:
				v.add(at, "the rotary embedding covers %d dimensions (max(rotary_emb_dim or attn_dim_head // 2, 32)) but attn_dim_head is %d; x-transformers 1.9.2 fails in the forward pass", width, l.DimHead())
			case width > l.ValueDimHead() && l.ValueDimHead() > 0:
				v.add(p("attn_value_dim_head"), "the rotary embedding covers %d dimensions (it is applied to the values too) but attn_value_dim_head is %d; x-transformers 1.9.2 fails in the forward pass", width, l.ValueDimHead())
			}
		}
	}

	v.attention(&l.Attn, p)
	v.feedForward(&l.FF, l.Dim, p)
}

func (v *configValidator) attention(a *AttentionConfig, p keyPath) {
	v.positive(p("attn_dim_head"), a.DimHead)
	v.optPositive(p("attn_value_dim_head"), a.ValueDimHead)
	if a.SharedKV && a.ValueDimHead != nil && *a.ValueDimHead != a.DimHead {
		v.add(p("attn_shared_kv"), "key and value head dimensions must be equal for shared key/values: attn_value_dim_head is %d, attn_dim_head %d", *a.ValueDimHead, a.DimHead)
	}
	if a.QKNorm {
		g := a.QKNormGroups
		switch {
		case g <= 0:
			v.add(p("attn_qk_norm_groups"), "must be a positive integer, got %d", g)
		case a.DimHead <= 0:
		case a.DimHead%g != 0:
			v.add(p("attn_qk_norm_groups"), "the dimension per attention head (attn_dim_head %d) must be divisible by the qk norm groups (%d)", a.DimHead, g)
		case a.DimHead/g <= 2:
			v.add(p("attn_qk_norm_groups"), "each qk norm group has only %d dimensions (attn_dim_head %d / attn_qk_norm_groups %d); x-transformers requires more than 2", a.DimHead/g, a.DimHead, g)
		}
	}
	v.nonNegative(p("attn_num_mem_kv"), a.NumMemKV)
	v.optPositive(p("attn_sparse_topk"), a.SparseTopK)
	if a.OneKVHead && a.NumMemKV > 0 {
		v.add(p("attn_num_mem_kv"), "memory key/values together with attn_one_kv_head fail in the x-transformers 1.9.2 forward pass (tensor rank mismatch); use one of them")
	}
	v.dropout(p("attn_dropout"), a.Dropout)
}

func (v *configValidator) feedForward(f *FeedForwardConfig, dim int, p keyPath) {
	if inner := f.InnerDim(dim); dim > 0 && inner <= 0 {
		v.add(p("ff_mult"), "gives a feedforward width int(dim * ff_mult) = %d; it must be positive", inner)
	}
	if f.DimOut != nil {
		if *f.DimOut <= 0 {
			v.positive(p("ff_dim_out"), *f.DimOut)
		} else if *f.DimOut != dim {
			v.add(p("ff_dim_out"), "must equal dim (%d) or be unset: the feedforward output is added to the residual stream, so x-transformers 1.9.2 fails in the forward pass with %d", dim, *f.DimOut)
		}
	}
	v.dropout(p("ff_dropout"), f.Dropout)
}
