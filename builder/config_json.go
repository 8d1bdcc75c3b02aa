package builder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/xt2onnx/xt2onnx/internal/textdist"
)

// The JSON form of a Config (fixtures/xtransformers-1.9.2/*/config.json):
//
//	{"kind": "TransformerWrapper", "wrapper": {...}, "attn_layers": {"type": "Decoder", ...},
//	 "inputs": {"x": {"shape": [2, 17], "dtype": "int64"}}, "output_shape": [2, 17, 64]}
//
// "wrapper" holds the wrapper's keyword arguments (null or absent for
// CrossAttender; for XTransformer all its kwargs, flat, with enc_ and dec_
// prefixes) and "attn_layers" the AttentionLayers ones with the attn_ and ff_
// prefixes (null or absent for XTransformer). Every key is the PyTorch
// keyword argument name.

// ParseConfig decodes and validates the JSON form of a model config.
// Decoding starts from the x-transformers 1.9.2 defaults and is strict:
// unknown keys (with the nearest valid name suggested), wrong JSON types and
// missing required keys are reported together as a *ConfigError, malformed
// JSON as a *ConfigSyntaxError with line and column. A config that decodes
// is then checked with Validate.
func ParseConfig(data []byte) (*Config, error) { return parseConfig(data, "") }

// LoadConfig reads and parses the model config file at path (see
// ParseConfig); errors name the file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("builder: read model config: %w", err)
	}
	return parseConfig(data, path)
}

func parseConfig(data []byte, file string) (*Config, error) {
	root, err := readOrderedJSON(data, file)
	if err != nil {
		return nil, err
	}
	c, probs := decodeConfig(root)
	if len(probs) > 0 {
		return nil, &ConfigError{File: file, Problems: probs}
	}
	if err := c.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			ce.File = file
		}
		return nil, err
	}
	return c, nil
}

// UnmarshalJSON parses and validates data as ParseConfig does.
func (c *Config) UnmarshalJSON(data []byte) error {
	p, err := ParseConfig(data)
	if err != nil {
		return err
	}
	*c = *p
	return nil
}

// MarshalJSON writes the canonical JSON form of c, compact; see JSON.
func (c Config) MarshalJSON() ([]byte, error) {
	o, err := c.encodeJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(o)
}

// JSON writes the canonical JSON form of c, indented by one space: "kind",
// then every required keyword argument and every one whose value differs
// from the 1.9.2 default (exactly the keys NonDefault lists), in the order
// of the PyTorch signatures, then "inputs" and "output_shape" when set.
// Every key written is one PyTorch accepts, so the object can be passed
// back to the PyTorch constructors; parsing it gives a Config equal to c.
// It does not validate c.
func (c *Config) JSON() ([]byte, error) {
	o, err := c.encodeJSON()
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(o, "", " ")
}

// NonDefault lists the keyword arguments of c whose value differs from the
// x-transformers 1.9.2 default, as JSON key paths in the PyTorch signature
// order: "wrapper.<kwarg>" for the wrapper (for XTransformer with the enc_ and
// dec_ prefixes, e.g. "wrapper.enc_attn_talking_heads") and
// "attn_layers.<kwarg>" for the attention layers, with the attn_ and ff_
// prefixes (e.g. "attn_layers.attn_talking_heads"). Required arguments (dim,
// depth, num_tokens, max_seq_len, image_size, patch_size and the layers
// "type") are never listed. The causal, cross_attend and only_cross kwargs
// are listed whenever they are given. These are the paths Validate and
// ParseConfig use in their messages.
func (c *Config) NonDefault() []string {
	secs, _ := c.kwSections()
	var out []string
	for _, s := range secs {
		for i, f := range s.fields {
			if !f.required && !reflect.DeepEqual(f.val.encode(), s.defaults[i].val.encode()) {
				out = append(out, s.path+"."+f.key)
			}
		}
	}
	return out
}

// kwSection is one JSON object of keyword arguments with its defaults.
type kwSection struct {
	path     string
	fields   []kwField
	defaults []kwField
}

// kwSections returns the keyword-argument objects of c; an error when the
// section Kind needs is missing.
func (c *Config) kwSections() ([]kwSection, error) {
	var secs []kwSection
	missing := func(field string) error {
		return fmt.Errorf("builder: config of kind %s has no %s", c.Kind, field)
	}
	switch c.Kind {
	case KindTransformerWrapper:
		if c.Wrapper == nil {
			return nil, missing("Wrapper")
		}
		secs = append(secs, kwSection{"wrapper", c.Wrapper.kwFields(), DefaultTransformerWrapper().kwFields()})
	case KindContinuousTransformerWrapper:
		if c.Continuous == nil {
			return nil, missing("Continuous")
		}
		secs = append(secs, kwSection{"wrapper", c.Continuous.kwFields(), DefaultContinuousWrapper().kwFields()})
	case KindViTransformerWrapper:
		if c.ViT == nil {
			return nil, missing("ViT")
		}
		secs = append(secs, kwSection{"wrapper", c.ViT.kwFields(), DefaultViTWrapper().kwFields()})
	case KindXTransformer:
		if c.XTransformer == nil {
			return nil, missing("XTransformer")
		}
		return []kwSection{{"wrapper", c.XTransformer.kwFields(), DefaultXTransformer().kwFields()}}, nil
	case KindCrossAttender:
	default:
		return nil, fmt.Errorf("builder: unknown config kind %q; use one of %s", c.Kind, strings.Join(allKinds, ", "))
	}
	if c.Layers == nil {
		return secs, missing("Layers")
	}
	secs = append(secs, kwSection{"attn_layers", c.Layers.kwFields(), DefaultAttentionLayers().kwFields()})
	if c.NAR != nil {
		secs = append(secs, kwSection{"nonautoregressive", c.NAR.kwFields(), DefaultNAR().kwFields()})
	}
	return secs, nil
}

func (c *Config) encodeJSON() (orderedObject, error) {
	secs, err := c.kwSections()
	if err != nil {
		return nil, err
	}
	o := orderedObject{{"kind", string(c.Kind)}}
	if c.Version != "" {
		o = append(o, jsonMember{"x_transformers_version", c.Version})
	}
	for _, s := range secs {
		sec := orderedObject{}
		for i, f := range s.fields {
			v := f.val.encode()
			if f.required || !reflect.DeepEqual(v, s.defaults[i].val.encode()) {
				sec = append(sec, jsonMember{f.key, v})
			}
		}
		o = append(o, jsonMember{s.path, sec})
	}
	if c.Inputs != nil {
		ins := orderedObject{}
		for _, in := range c.Inputs {
			ins = append(ins, jsonMember{in.Name, orderedObject{{"shape", in.Shape}, {"dtype", in.DType}}})
		}
		o = append(o, jsonMember{"inputs", ins})
	}
	if c.OutputShape != nil {
		o = append(o, jsonMember{"output_shape", c.OutputShape})
	}
	return o, nil
}

// ---- keyword-argument tables ----

// kwField maps one JSON key (a PyTorch keyword argument) to a Config field.
type kwField struct {
	key      string
	required bool
	val      kwValue
}

// kwValue decodes one JSON value into a field and encodes it back.
type kwValue interface {
	// decode stores raw (an ordered-JSON value); it returns "" or what is
	// wrong ("expected an integer, got ...").
	decode(raw any) string
	// encode returns the field as a plain Go value for encoding/json;
	// untyped nil for None.
	encode() any
}

func kwReq(key string, v kwValue) kwField { return kwField{key, true, v} }
func kwOpt(key string, v kwValue) kwField { return kwField{key, false, v} }

func (w *TransformerWrapperConfig) kwFields() []kwField {
	return []kwField{
		kwReq("num_tokens", intKw{&w.NumTokens}),
		kwReq("max_seq_len", intKw{&w.MaxSeqLen}),
		kwOpt("emb_dim", optIntKw{&w.EmbDim}),
		kwOpt("max_mem_len", intKw{&w.MaxMemLen}),
		kwOpt("shift_mem_down", intKw{&w.ShiftMemDown}),
		kwOpt("emb_dropout", floatKw{&w.EmbDropout}),
		kwOpt("post_emb_norm", boolKw{&w.PostEmbNorm}),
		kwOpt("num_memory_tokens", optIntKw{&w.NumMemoryTokens}),
		kwOpt("tie_embedding", boolKw{&w.TieEmbedding}),
		kwOpt("logits_dim", optIntKw{&w.LogitsDim}),
		kwOpt("use_abs_pos_emb", boolKw{&w.UseAbsPosEmb}),
		kwOpt("scaled_sinu_pos_emb", boolKw{&w.ScaledSinuPosEmb}),
		kwOpt("l2norm_embed", boolKw{&w.L2NormEmbed}),
		kwOpt("emb_frac_gradient", floatKw{&w.EmbFracGradient}),
	}
}

func (w *ContinuousWrapperConfig) kwFields() []kwField {
	return []kwField{
		kwReq("max_seq_len", intKw{&w.MaxSeqLen}),
		kwOpt("dim_in", optIntKw{&w.DimIn}),
		kwOpt("dim_out", optIntKw{&w.DimOut}),
		kwOpt("emb_dim", optIntKw{&w.EmbDim}),
		kwOpt("post_emb_norm", boolKw{&w.PostEmbNorm}),
		kwOpt("emb_dropout", floatKw{&w.EmbDropout}),
		kwOpt("use_abs_pos_emb", boolKw{&w.UseAbsPosEmb}),
		kwOpt("scaled_sinu_pos_emb", boolKw{&w.ScaledSinuPosEmb}),
	}
}

func (w *ViTWrapperConfig) kwFields() []kwField {
	return []kwField{
		kwReq("image_size", intKw{&w.ImageSize}),
		kwReq("patch_size", intKw{&w.PatchSize}),
		kwOpt("channels", intKw{&w.Channels}),
		kwOpt("num_classes", optIntKw{&w.NumClasses}),
		kwOpt("dropout", floatKw{&w.Dropout}),
		kwOpt("post_emb_norm", boolKw{&w.PostEmbNorm}),
		kwOpt("emb_dropout", floatKw{&w.EmbDropout}),
	}
}

func (x *XTransformerConfig) kwFields() []kwField {
	f := []kwField{
		kwReq("dim", intKw{&x.Dim}),
		kwOpt("tie_token_emb", boolKw{&x.TieTokenEmb}),
		kwOpt("ignore_index", intKw{&x.IgnoreIndex}),
		kwOpt("pad_value", intKw{&x.PadValue}),
		kwOpt("deepnorm", boolKw{&x.Deepnorm}),
		kwOpt("cross_attn_tokens_dropout", floatKw{&x.CrossAttnTokensDropout}),
	}
	f = append(f, x.Enc.kwFields("enc_", true)...)
	return append(f, x.Dec.kwFields("dec_", false)...)
}

// kwFields lists the kwargs of one XTransformer half with their prefix, in
// the order XTransformer.__init__ picks them.
func (s *XTransformerSide) kwFields(prefix string, encoder bool) []kwField {
	f := []kwField{
		kwReq(prefix+"num_tokens", intKw{&s.NumTokens}),
		kwReq(prefix+"max_seq_len", intKw{&s.MaxSeqLen}),
		kwOpt(prefix+"emb_dropout", floatKw{&s.EmbDropout}),
	}
	if encoder {
		f = append(f, kwOpt(prefix+"num_memory_tokens", optIntKw{&s.NumMemoryTokens}))
	}
	f = append(f,
		kwOpt(prefix+"scaled_sinu_pos_emb", boolKw{&s.ScaledSinuPosEmb}),
		kwOpt(prefix+"use_abs_pos_emb", boolKw{&s.UseAbsPosEmb}))
	for _, lf := range s.Layers.kwFields() {
		if lf.key != "type" && lf.key != "dim" {
			lf.key = prefix + lf.key
			f = append(f, lf)
		}
	}
	return f
}

func (l *AttentionLayers) kwFields() []kwField {
	f := []kwField{
		kwReq("type", layersTypeKw{&l.Type}),
		kwReq("dim", intKw{&l.Dim}),
		kwReq("depth", intKw{&l.Depth}),
		kwOpt("heads", intKw{&l.Heads}),
		kwOpt("causal", optBoolKw{&l.CausalArg}),
		kwOpt("cross_attend", optBoolKw{&l.CrossAttendArg}),
		kwOpt("only_cross", optBoolKw{&l.OnlyCrossArg}),
		kwOpt("use_scalenorm", boolKw{&l.UseScalenorm}),
		kwOpt("use_rmsnorm", boolKw{&l.UseRMSNorm}),
		kwOpt("alibi_pos_bias", boolKw{&l.AlibiPosBias}),
		kwOpt("alibi_num_heads", optIntKw{&l.AlibiNumHeads}),
		kwOpt("alibi_learned", boolKw{&l.AlibiLearned}),
		kwOpt("rel_pos_bias", boolKw{&l.RelPosBias}),
		kwOpt("rel_pos_num_buckets", intKw{&l.RelPosNumBuckets}),
		kwOpt("rel_pos_max_distance", intKw{&l.RelPosMaxDistance}),
		kwOpt("dynamic_pos_bias", boolKw{&l.DynamicPosBias}),
		kwOpt("dynamic_pos_bias_log_distance", boolKw{&l.DynamicPosBiasLogDistance}),
		kwOpt("dynamic_pos_bias_mlp_depth", intKw{&l.DynamicPosBiasMLPDepth}),
		kwOpt("dynamic_pos_bias_norm", boolKw{&l.DynamicPosBiasNorm}),
		kwOpt("rotary_pos_emb", boolKw{&l.RotaryPosEmb}),
		kwOpt("rotary_emb_dim", optIntKw{&l.RotaryEmbDimArg}),
		kwOpt("rotary_xpos", boolKw{&l.RotaryXPos}),
		kwOpt("rotary_xpos_scale_base", floatKw{&l.RotaryXPosScaleBase}),
		kwOpt("custom_layers", layerListKw{&l.CustomLayers}),
		kwOpt("sandwich_coef", optIntKw{&l.SandwichCoef}),
		kwOpt("par_ratio", optIntKw{&l.ParRatio}),
		kwOpt("residual_attn", boolKw{&l.ResidualAttn}),
		kwOpt("cross_residual_attn", boolKw{&l.CrossResidualAttn}),
		kwOpt("macaron", boolKw{&l.Macaron}),
		kwOpt("pre_norm", boolKw{&l.PreNorm}),
		kwOpt("gate_residual", boolKw{&l.GateResidual}),
		kwOpt("scale_residual", boolKw{&l.ScaleResidual}),
		kwOpt("scale_residual_constant", floatKw{&l.ScaleResidualConstant}),
		kwOpt("deepnorm", boolKw{&l.Deepnorm}),
		kwOpt("shift_tokens", intTupleKw{&l.ShiftTokens}),
		kwOpt("sandwich_norm", boolKw{&l.SandwichNorm}),
		kwOpt("zero_init_branch_output", boolKw{&l.ZeroInitBranchOutput}),
		kwOpt("layer_dropout", floatTupleKw{&l.LayerDropout}),
		kwOpt("cross_attn_tokens_dropout", floatKw{&l.CrossAttnTokensDropout}),
	}
	a := &l.Attn
	f = append(f,
		kwOpt("attn_dim_head", intKw{&a.DimHead}),
		kwOpt("attn_talking_heads", boolKw{&a.TalkingHeads}),
		kwOpt("attn_head_scale", boolKw{&a.HeadScale}),
		kwOpt("attn_sparse_topk", optIntKw{&a.SparseTopK}),
		kwOpt("attn_num_mem_kv", intKw{&a.NumMemKV}),
		kwOpt("attn_dropout", floatKw{&a.Dropout}),
		kwOpt("attn_on_attn", boolKw{&a.OnAttn}),
		kwOpt("attn_gate_values", boolKw{&a.GateValues}),
		kwOpt("attn_zero_init_output", boolKw{&a.ZeroInitOutput}),
		kwOpt("attn_max_attend_past", optIntKw{&a.MaxAttendPast}),
		kwOpt("attn_qk_norm", boolKw{&a.QKNorm}),
		kwOpt("attn_qk_norm_groups", intKw{&a.QKNormGroups}),
		kwOpt("attn_qk_norm_scale", floatKw{&a.QKNormScale}),
		kwOpt("attn_qk_norm_dim_scale", boolKw{&a.QKNormDimScale}),
		kwOpt("attn_one_kv_head", boolKw{&a.OneKVHead}),
		kwOpt("attn_shared_kv", boolKw{&a.SharedKV}),
		kwOpt("attn_value_dim_head", optIntKw{&a.ValueDimHead}),
		kwOpt("attn_tensor_product", boolKw{&a.TensorProduct}),
	)
	ff := &l.FF
	return append(f,
		kwOpt("ff_dim_out", optIntKw{&ff.DimOut}),
		kwOpt("ff_mult", floatKw{&ff.Mult}),
		kwOpt("ff_glu", boolKw{&ff.GLU}),
		kwOpt("ff_swish", boolKw{&ff.Swish}),
		kwOpt("ff_relu_squared", boolKw{&ff.ReluSquared}),
		kwOpt("ff_post_act_ln", boolKw{&ff.PostActLN}),
		kwOpt("ff_dropout", floatKw{&ff.Dropout}),
		kwOpt("ff_no_bias", boolKw{&ff.NoBias}),
		kwOpt("ff_zero_init_output", boolKw{&ff.ZeroInitOutput}),
	)
}

func fieldKeys(fs []kwField) []string {
	keys := make([]string, len(fs))
	for i, f := range fs {
		keys[i] = f.key
	}
	return keys
}

// ---- decoding ----

var topLevelKeys = []string{"kind", "x_transformers_version", "wrapper", "attn_layers", "nonautoregressive", "inputs", "output_shape"}

// decodeConfig turns the ordered JSON tree into a Config, collecting every
// problem.
func decodeConfig(root any) (*Config, []Problem) {
	var probs []Problem
	add := func(path, msg string) { probs = append(probs, Problem{path, msg}) }
	obj, ok := root.(*jsonObject)
	if !ok {
		add("", `expected a JSON object with "kind", "wrapper" and "attn_layers", got `+describeJSON(root))
		return nil, probs
	}
	kindName, _ := obj.vals["kind"].(string)
	for _, k := range obj.keys {
		if !slices.Contains(topLevelKeys, k) {
			add("", unknownKeyMessage(k, topLevelKeys, func(key string) string { return flatKeyHint(Kind(kindName), key) }))
		}
	}
	for _, k := range obj.dups {
		add(k, "duplicate key; give it once")
	}
	c := &Config{}
	switch raw, has := obj.vals["kind"]; {
	case !has || raw == nil:
		add("kind", "missing; use one of "+strings.Join(allKinds, ", "))
	default:
		s, ok := raw.(string)
		switch {
		case !ok:
			add("kind", "expected a string, got "+describeJSON(raw))
		case !slices.Contains(allKinds, s):
			add("kind", unknownValueMessage("kind", s, allKinds))
		default:
			c.Kind = Kind(s)
		}
	}
	if raw, has := obj.vals["x_transformers_version"]; has {
		s, ok := raw.(string)
		switch {
		case !ok:
			add("x_transformers_version", `expected a string such as "1.9.2", got `+describeJSON(raw))
		case !slices.Contains(XTransformersVersions, s):
			add("x_transformers_version", unsupportedVersionMessage(s))
		default:
			c.Version = s
		}
	}
	wrapper, layers := obj.vals["wrapper"], obj.vals["attn_layers"]
	layerKeys := fieldKeys(DefaultAttentionLayers().kwFields())
	section := func(path string, raw any, fields []kwField, otherPath string, otherKeys []string) {
		if raw == nil {
			add(path, fmt.Sprintf("missing; kind %s needs it", c.Kind))
			return
		}
		hint := func(key string) string {
			if slices.Contains(otherKeys, key) {
				return fmt.Sprintf("it belongs in %q", otherPath)
			}
			return ""
		}
		decodeKwargs(raw, path, fields, hint, add)
	}
	var wrapperFields []kwField
	switch c.Kind {
	case KindTransformerWrapper:
		c.Wrapper = DefaultTransformerWrapper()
		wrapperFields = c.Wrapper.kwFields()
	case KindContinuousTransformerWrapper:
		c.Continuous = DefaultContinuousWrapper()
		wrapperFields = c.Continuous.kwFields()
	case KindViTransformerWrapper:
		c.ViT = DefaultViTWrapper()
		wrapperFields = c.ViT.kwFields()
	case KindXTransformer:
		c.XTransformer = DefaultXTransformer()
		if wrapper == nil {
			add("wrapper", "missing; kind XTransformer needs all its keyword arguments (dim, enc_*, dec_*) here")
		} else {
			decodeKwargs(wrapper, "wrapper", c.XTransformer.kwFields(), xtransformerHint, add)
		}
		if layers != nil {
			add("attn_layers", `must be null or absent for kind XTransformer; give the encoder and decoder options in "wrapper" with the enc_ and dec_ prefixes`)
		}
	case KindCrossAttender:
		if wrapper != nil {
			add("wrapper", "must be null or absent for kind CrossAttender (the model is the bare attention layers)")
		}
	}
	if wrapperFields != nil {
		section("wrapper", wrapper, wrapperFields, "attn_layers", layerKeys)
	}
	if c.Kind != "" && c.Kind != KindXTransformer {
		c.Layers = DefaultAttentionLayers()
		section("attn_layers", layers, c.Layers.kwFields(), "wrapper", fieldKeys(wrapperFields))
	}
	if raw, has := obj.vals["nonautoregressive"]; has && raw != nil {
		c.NAR = DefaultNAR()
		decodeKwargs(raw, "nonautoregressive", c.NAR.kwFields(), nil, add)
	}
	c.Inputs = decodeInputs(obj.vals["inputs"], add)
	if raw := obj.vals["output_shape"]; raw != nil {
		shape, msg := decodeShape(raw)
		if msg != "" {
			add("output_shape", msg)
		}
		c.OutputShape = shape
	}
	return c, probs
}

// flatKeyHint says where a keyword argument given at the top level of a
// config belongs, as in a flat PyTorch-style config
// ({"num_tokens": 256, "dim": 512, …}): under "wrapper" for the wrapper's
// own arguments (all of them for an XTransformer), under "attn_layers" for
// the attention layers'. kind is the config's kind; an unknown or missing
// one is taken as TransformerWrapper, the common case. "" when key is
// neither.
func flatKeyHint(kind Kind, key string) string {
	layerKeys := fieldKeys(DefaultAttentionLayers().kwFields())
	var wrapperKeys []string
	switch kind {
	case KindContinuousTransformerWrapper:
		wrapperKeys = fieldKeys(DefaultContinuousWrapper().kwFields())
	case KindViTransformerWrapper:
		wrapperKeys = fieldKeys(DefaultViTWrapper().kwFields())
	case KindXTransformer:
		if slices.Contains(fieldKeys(DefaultXTransformer().kwFields()), key) {
			return fmt.Sprintf(`it belongs in "wrapper" (an XTransformer keyword argument: {"wrapper": {%q: …}})`, key)
		}
		if slices.Contains(layerKeys, key) {
			return fmt.Sprintf(`XTransformer takes the attention-layer options under "wrapper" with a prefix: "enc_%s" and/or "dec_%s"`, key, key)
		}
		return ""
	case KindCrossAttender:
	default:
		kind = KindTransformerWrapper
		wrapperKeys = fieldKeys(DefaultTransformerWrapper().kwFields())
	}
	switch {
	case slices.Contains(wrapperKeys, key):
		return fmt.Sprintf(`it belongs in "wrapper" (a %s keyword argument: {"wrapper": {%q: …}})`, kind, key)
	case slices.Contains(layerKeys, key):
		return fmt.Sprintf(`it belongs in "attn_layers" (a keyword argument of the attention layers: {"attn_layers": {%q: …}})`, key)
	}
	// A misspelt keyword argument: name the section with the suggestion,
	// unless the key is nearer a top-level key (then that is suggested).
	if suggestKey(key, topLevelKeys) != "" {
		return ""
	}
	if s := suggestKey(key, layerKeys); s != "" {
		return fmt.Sprintf(`did you mean %q, under "attn_layers"?`, s)
	}
	if s := suggestKey(key, wrapperKeys); s != "" {
		return fmt.Sprintf(`did you mean %q, under "wrapper"?`, s)
	}
	return ""
}

// unsupportedVersionMessage explains an x_transformers_version xt2onnx does
// not implement.
func unsupportedVersionMessage(v string) string {
	return fmt.Sprintf("x-transformers %q is not supported: xt2onnx reproduces %s (they differ in qk-norm with attn_qk_norm_dim_scale; see docs/options.md); name the release the model was made with",
		v, orListStrings(XTransformersVersions))
}

// orListStrings renders ["a", "b", "c"] as "a, b or c".
func orListStrings(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}

// xtransformerHint explains XTransformer keys that PyTorch rejects or
// silently ignores.
func xtransformerHint(key string) string {
	wrapperKeys := fieldKeys(DefaultTransformerWrapper().kwFields())
	for _, side := range []struct{ prefix, name string }{{"enc_", "encoder"}, {"dec_", "decoder"}} {
		rest, ok := strings.CutPrefix(key, side.prefix)
		if !ok {
			continue
		}
		switch {
		case rest == "dim":
			return `XTransformer sets the dimension of both encoder and decoder with "dim" (x-transformers asserts that enc_dim and dec_dim are not given)`
		case rest == "type":
			return "XTransformer always builds an Encoder and a Decoder"
		case rest == "num_memory_tokens":
			return "x-transformers 1.9.2 passes num_memory_tokens to the encoder only (dec_num_memory_tokens would be silently ignored); remove it"
		case slices.Contains(wrapperKeys, rest):
			return fmt.Sprintf("XTransformer in x-transformers 1.9.2 does not pass %q to the %s's TransformerWrapper (it would be silently ignored); remove it", rest, side.name)
		}
		return ""
	}
	if slices.Contains(wrapperKeys, key) || slices.Contains(fieldKeys(DefaultAttentionLayers().kwFields()), key) {
		return fmt.Sprintf("XTransformer takes encoder and decoder options with a prefix: use %q and/or %q", "enc_"+key, "dec_"+key)
	}
	return ""
}

// decodeKwargs decodes the object raw at path into fields, reporting
// unknown, duplicate, ill-typed and missing required keys.
func decodeKwargs(raw any, path string, fields []kwField, hint func(string) string, add func(path, msg string)) {
	obj, ok := raw.(*jsonObject)
	if !ok {
		add(path, "expected an object of keyword arguments, got "+describeJSON(raw))
		return
	}
	keys := fieldKeys(fields)
	byKey := make(map[string]kwField, len(fields))
	for _, f := range fields {
		byKey[f.key] = f
	}
	for _, k := range obj.keys {
		f, ok := byKey[k]
		if !ok {
			add(path, unknownKeyMessage(k, keys, hint))
			continue
		}
		if msg := f.val.decode(obj.vals[k]); msg != "" {
			add(path+"."+k, msg)
		}
	}
	for _, k := range obj.dups {
		add(path+"."+k, "duplicate key; give it once")
	}
	for _, f := range fields {
		if _, has := obj.vals[f.key]; f.required && !has {
			msg := fmt.Sprintf("missing required key %q", f.key)
			if f.key == "type" {
				msg += ` ("Encoder", "Decoder" or "CrossAttender")`
			}
			add(path, msg)
		}
	}
}

func decodeInputs(raw any, add func(path, msg string)) []IOSpec {
	if raw == nil {
		return nil
	}
	obj, ok := raw.(*jsonObject)
	if !ok {
		add("inputs", `expected an object mapping input names to {"shape", "dtype"}, got `+describeJSON(raw))
		return nil
	}
	for _, k := range obj.dups {
		add("inputs."+k, "duplicate key; give it once")
	}
	out := make([]IOSpec, 0, len(obj.keys))
	for _, name := range obj.keys {
		path := "inputs." + name
		spec := IOSpec{Name: name}
		o, ok := obj.vals[name].(*jsonObject)
		if !ok {
			add(path, `expected an object with "shape" and "dtype", got `+describeJSON(obj.vals[name]))
			continue
		}
		for _, k := range o.keys {
			switch v := o.vals[k]; k {
			case "shape":
				shape, msg := decodeShape(v)
				if msg != "" {
					add(path+".shape", msg)
				}
				spec.Shape = shape
			case "dtype":
				s, ok := v.(string)
				if !ok {
					add(path+".dtype", "expected a string, got "+describeJSON(v))
				}
				spec.DType = s
			default:
				add(path, unknownKeyMessage(k, []string{"shape", "dtype"}, nil))
			}
		}
		for _, k := range o.dups {
			add(path+"."+k, "duplicate key; give it once")
		}
		out = append(out, spec)
	}
	return out
}

func decodeShape(raw any) ([]int64, string) {
	if raw == nil {
		return nil, ""
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, "expected a list of integers, got " + describeJSON(raw)
	}
	shape := make([]int64, 0, len(list))
	for i, v := range list {
		n, msg := jsonInt(v, "an integer")
		if msg != "" {
			return nil, fmt.Sprintf("entry %d: %s", i, msg)
		}
		shape = append(shape, int64(n))
	}
	return shape, ""
}

// ---- kwarg value kinds ----

type intKw struct{ p *int }

func (k intKw) decode(raw any) string {
	n, msg := jsonInt(raw, "an integer")
	if msg == "" {
		*k.p = n
	}
	return msg
}
func (k intKw) encode() any { return *k.p }

type optIntKw struct{ p **int }

func (k optIntKw) decode(raw any) string {
	if raw == nil {
		*k.p = nil
		return ""
	}
	n, msg := jsonInt(raw, "an integer or null")
	if msg == "" {
		*k.p = new(n)
	}
	return msg
}

func (k optIntKw) encode() any {
	if *k.p == nil {
		return nil
	}
	return **k.p
}

type boolKw struct{ p *bool }

func (k boolKw) decode(raw any) string {
	b, ok := raw.(bool)
	if !ok {
		return "expected a boolean (true or false), got " + describeJSON(raw)
	}
	*k.p = b
	return ""
}
func (k boolKw) encode() any { return *k.p }

// optBoolKw is a bool kwarg whose presence matters (causal, cross_attend,
// only_cross): nil when not given.
type optBoolKw struct{ p **bool }

func (k optBoolKw) decode(raw any) string {
	b, ok := raw.(bool)
	if !ok {
		return "expected a boolean (true or false), got " + describeJSON(raw)
	}
	*k.p = new(b)
	return ""
}

func (k optBoolKw) encode() any {
	if *k.p == nil {
		return nil
	}
	return **k.p
}

type floatKw struct{ p *float64 }

func (k floatKw) decode(raw any) string {
	f, msg := jsonFloat(raw, "a number")
	if msg == "" {
		*k.p = f
	}
	return msg
}
func (k floatKw) encode() any { return *k.p }

type layersTypeKw struct{ p *LayersType }

func (k layersTypeKw) decode(raw any) string {
	s, ok := raw.(string)
	if !ok {
		return `expected a string ("Encoder", "Decoder" or "CrossAttender"), got ` + describeJSON(raw)
	}
	if !slices.Contains(allLayersTypes, s) {
		return unknownValueMessage("attention layers type", s, allLayersTypes)
	}
	*k.p = LayersType(s)
	return ""
}
func (k layersTypeKw) encode() any { return string(*k.p) }

type intTupleKw struct{ p *IntOrTuple }

func (k intTupleKw) decode(raw any) string {
	if list, ok := raw.([]any); ok {
		t := make([]int, 0, len(list))
		for i, v := range list {
			n, msg := jsonInt(v, "an integer")
			if msg != "" {
				return fmt.Sprintf("entry %d: %s", i, msg)
			}
			t = append(t, n)
		}
		*k.p = IntOrTuple{Tuple: t}
		return ""
	}
	n, msg := jsonInt(raw, "an integer or a list of integers")
	if msg == "" {
		*k.p = IntOrTuple{Int: n}
	}
	return msg
}

func (k intTupleKw) encode() any {
	if k.p.Tuple != nil {
		return append([]int{}, k.p.Tuple...)
	}
	return k.p.Int
}

type floatTupleKw struct{ p *FloatOrTuple }

func (k floatTupleKw) decode(raw any) string {
	if list, ok := raw.([]any); ok {
		t := make([]float64, 0, len(list))
		for i, v := range list {
			f, msg := jsonFloat(v, "a number")
			if msg != "" {
				return fmt.Sprintf("entry %d: %s", i, msg)
			}
			t = append(t, f)
		}
		*k.p = FloatOrTuple{Tuple: t}
		return ""
	}
	f, msg := jsonFloat(raw, "a number or a list of numbers")
	if msg == "" {
		*k.p = FloatOrTuple{Float: f}
	}
	return msg
}

func (k floatTupleKw) encode() any {
	if k.p.Tuple != nil {
		return append([]float64{}, k.p.Tuple...)
	}
	return k.p.Float
}

// layerListKw is custom_layers: null, a list of "a"/"c"/"f", or (as Python
// also iterates it) a string such as "aaf".
type layerListKw struct{ p *[]LayerType }

func (k layerListKw) decode(raw any) string {
	const want = `expected null or a list of "a", "c" and "f"`
	var letters []string
	switch v := raw.(type) {
	case nil:
		*k.p = nil
		return ""
	case string:
		for _, r := range v {
			letters = append(letters, string(r))
		}
	case []any:
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Sprintf("entry %d: %s, got %s", i, want, describeJSON(e))
			}
			letters = append(letters, s)
		}
	default:
		return want + ", got " + describeJSON(raw)
	}
	types := make([]LayerType, 0, len(letters))
	for i, s := range letters {
		if len(s) != 1 || !LayerType(s[0]).valid() {
			return fmt.Sprintf(`entry %d: invalid layer type %q; use "a" (self-attention), "c" (cross-attention) or "f" (feedforward)`, i, s)
		}
		types = append(types, LayerType(s[0]))
	}
	*k.p = types
	return ""
}

func (k layerListKw) encode() any {
	if *k.p == nil {
		return nil
	}
	out := make([]string, len(*k.p))
	for i, t := range *k.p {
		out[i] = t.String()
	}
	return out
}

func jsonInt(raw any, want string) (int, string) {
	n, ok := raw.(json.Number)
	if !ok {
		return 0, "expected " + want + ", got " + describeJSON(raw)
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, "integer out of range: " + string(n)
	}
	if err != nil {
		return 0, "expected " + want + ", got " + string(n)
	}
	return int(i), ""
}

func jsonFloat(raw any, want string) (float64, string) {
	n, ok := raw.(json.Number)
	if !ok {
		return 0, "expected " + want + ", got " + describeJSON(raw)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return 0, "number out of range: " + string(n)
	}
	return f, ""
}

// describeJSON renders a decoded JSON value for an error message.
func describeJSON(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(t)
	case json.Number:
		return string(t)
	case string:
		return strconv.Quote(t)
	case *jsonObject:
		return "an object"
	case []any:
		return "a list"
	}
	return fmt.Sprint(v)
}

// ---- suggestions ----

// unknownKeyMessage explains an unknown key: hint's explanation if it has
// one, else the nearest valid key.
func unknownKeyMessage(key string, valid []string, hint func(string) string) string {
	msg := fmt.Sprintf("unknown key %q", key)
	if hint != nil {
		if h := hint(key); h != "" {
			return msg + "; " + h
		}
	}
	if s := suggestKey(key, valid); s != "" {
		return msg + fmt.Sprintf("; did you mean %q?", s)
	}
	return msg
}

func unknownValueMessage(what, value string, valid []string) string {
	msg := fmt.Sprintf("unknown %s %q", what, value)
	if s := suggestKey(value, valid); s != "" {
		return msg + fmt.Sprintf("; did you mean %q?", s)
	}
	return msg + "; use one of " + strings.Join(valid, ", ")
}

// suggestKey returns the valid name nearest to name: the same name with or
// without an attn_/ff_ prefix, else the one at the smallest edit distance
// (textdist.Nearest: first in table order on a tie, at most
// max(2, len(name)/3) away), else one with the same words plus or minus
// some (textdist.NearestWords: "rotary_emb" → "rotary_pos_emb"); "" if none
// is close.
func suggestKey(name string, valid []string) string {
	for _, p := range []string{"attn_", "ff_"} {
		if slices.Contains(valid, p+name) {
			return p + name
		}
		if rest, ok := strings.CutPrefix(name, p); ok && slices.Contains(valid, rest) {
			return rest
		}
	}
	if s := textdist.Nearest(name, valid); s != "" {
		return s
	}
	return textdist.NearestWords(name, valid, "_")
}

// ---- ordered JSON ----

// jsonObject is a decoded JSON object that keeps its key order.
type jsonObject struct {
	keys []string       // first occurrence order
	vals map[string]any // last value wins, as in Python's json
	dups []string       // keys given more than once
}

// readOrderedJSON decodes data into *jsonObject, []any, json.Number, string,
// bool and nil values.
func readOrderedJSON(data []byte, file string) (any, error) {
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := lineColumn(data, se.Offset)
			return nil, &ConfigSyntaxError{File: file, Line: line, Column: col, Offset: se.Offset, Err: se}
		}
		return nil, fmt.Errorf("builder: model config %s: %w", file, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readJSONValue(dec)
	if err != nil {
		return nil, fmt.Errorf("builder: model config %s: %w", file, err)
	}
	return v, nil
}

func readJSONValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	switch d {
	case '{':
		obj := &jsonObject{vals: map[string]any{}}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			v, err := readJSONValue(dec)
			if err != nil {
				return nil, err
			}
			if _, dup := obj.vals[k]; dup {
				obj.dups = append(obj.dups, k)
			} else {
				obj.keys = append(obj.keys, k)
			}
			obj.vals[k] = v
		}
		_, err := dec.Token()
		return obj, err
	case '[':
		list := []any{}
		for dec.More() {
			v, err := readJSONValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	}
	return nil, fmt.Errorf("unexpected %v", d)
}

// lineColumn converts the offset of a json.SyntaxError (bytes read, the
// offending byte included) to a 1-based line and byte column.
func lineColumn(data []byte, offset int64) (line, col int) {
	i := int(min(max(offset-1, 0), int64(len(data))))
	before := data[:i]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = i - bytes.LastIndexByte(before, '\n')
	return line, col
}

// orderedObject is a JSON object written in member order.
type orderedObject []jsonMember

type jsonMember struct {
	key string
	val any
}

// MarshalJSON writes the members in order.
func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.val)
		if err != nil {
			return nil, fmt.Errorf("builder: write model config key %q: %w", m.key, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
