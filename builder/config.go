package builder

import (
	"fmt"
	"math"
	"math/big"
)

// XTransformersVersion is the default x-transformers release whose constructor keyword
// arguments, defaults, assertions and forward pass Config reproduces (a config
// without "x_transformers_version").
const XTransformersVersion = "1.9.2"

// XTransformersVersions lists the x-transformers releases a config may name in
// "x_transformers_version", oldest first. They differ only in qk-norm with a
// learned dim scale: 1.9.1 initialises the gains at √qk_norm_scale and scales
// the logits by 1; 1.9.2 initialises them at 1 and scales the logits by
// qk_norm_scale.
var XTransformersVersions = []string{"1.9.1", "1.9.2"}

// defaultDimHead is x-transformers' DEFAULT_DIM_HEAD.
const defaultDimHead = 64

// Kind names the top-level x-transformers class a Config describes.
type Kind string

// The classes a Config can describe.
const (
	KindTransformerWrapper           Kind = "TransformerWrapper"
	KindContinuousTransformerWrapper Kind = "ContinuousTransformerWrapper"
	KindViTransformerWrapper         Kind = "ViTransformerWrapper"
	KindXTransformer                 Kind = "XTransformer"
	// KindCrossAttender is a bare CrossAttender: attention layers with no
	// wrapper, run as model(x, context=...).
	KindCrossAttender Kind = "CrossAttender"
)

var allKinds = []string{
	string(KindTransformerWrapper), string(KindContinuousTransformerWrapper),
	string(KindViTransformerWrapper), string(KindXTransformer), string(KindCrossAttender),
}

// LayersType names the AttentionLayers subclass ("type" in the JSON form).
type LayersType string

// The AttentionLayers subclasses.
const (
	LayersEncoder       LayersType = "Encoder"       // causal=False
	LayersDecoder       LayersType = "Decoder"       // causal=True
	LayersCrossAttender LayersType = "CrossAttender" // cross_attend=True, only_cross=True
)

var allLayersTypes = []string{string(LayersEncoder), string(LayersDecoder), string(LayersCrossAttender)}

// LayerType is one entry of AttentionLayers.layer_types: 'a', 'c' or 'f'.
type LayerType byte

// The layer types of x-transformers.
const (
	LayerSelfAttention  LayerType = 'a'
	LayerCrossAttention LayerType = 'c'
	LayerFeedForward    LayerType = 'f'
)

// String returns the one-letter PyTorch spelling.
func (t LayerType) String() string { return string(rune(t)) }

func (t LayerType) valid() bool {
	return t == LayerSelfAttention || t == LayerCrossAttention || t == LayerFeedForward
}

// IOSpec is fixture metadata for one model input: its name, shape and dtype
// as written in the config's "inputs" object. It is kept, not interpreted.
type IOSpec struct {
	Name  string
	Shape []int64
	DType string
}

// Config describes one x-transformers 1.9.2 model exactly as its PyTorch
// constructor keyword arguments do.
//
// Exactly one of Wrapper, Continuous, ViT and XTransformer is set, matching
// Kind (none for KindCrossAttender). Layers holds the attn_layers argument and
// is nil for KindXTransformer, whose layers live in XTransformer.Enc/Dec.
type Config struct {
	Kind Kind
	// Version is "x_transformers_version": the x-transformers release the
	// model was made with, one of XTransformersVersions; "" means the default
	// XTransformersVersion. See XTVersion.
	Version      string
	Wrapper      *TransformerWrapperConfig // KindTransformerWrapper
	Continuous   *ContinuousWrapperConfig  // KindContinuousTransformerWrapper
	ViT          *ViTWrapperConfig         // KindViTransformerWrapper
	XTransformer *XTransformerConfig       // KindXTransformer
	Layers       *AttentionLayers          // all kinds except KindXTransformer
	// NAR, for a TransformerWrapper, makes the config that of a
	// NonAutoregressiveWrapper around it ("nonautoregressive" in the JSON
	// form; see NARConfig); nil otherwise.
	NAR *NARConfig

	// Inputs is the fixture's "inputs" object in document order (the order
	// of the model's inputs); nil when absent.
	Inputs []IOSpec
	// OutputShape is the fixture's "output_shape"; nil when absent.
	OutputShape []int64
}

// TransformerWrapperConfig holds the keyword arguments of TransformerWrapper
// except attn_layers. NumTokens and MaxSeqLen are required.
type TransformerWrapperConfig struct {
	NumTokens        int     // num_tokens (required)
	MaxSeqLen        int     // max_seq_len (required)
	EmbDim           *int    // emb_dim, default dim
	MaxMemLen        int     // max_mem_len (inference: unused)
	ShiftMemDown     int     // shift_mem_down (inference: unused)
	EmbDropout       float64 // emb_dropout (inference: unused)
	PostEmbNorm      bool    // post_emb_norm
	NumMemoryTokens  *int    // num_memory_tokens, default 0
	TieEmbedding     bool    // tie_embedding (fails in 1.9.2, see Validate)
	LogitsDim        *int    // logits_dim, default num_tokens
	UseAbsPosEmb     bool    // use_abs_pos_emb, default true
	ScaledSinuPosEmb bool    // scaled_sinu_pos_emb
	L2NormEmbed      bool    // l2norm_embed
	EmbFracGradient  float64 // emb_frac_gradient, default 1 (training only)
}

// DefaultTransformerWrapper returns the TransformerWrapper defaults of
// x-transformers 1.9.2 (the required NumTokens and MaxSeqLen are zero).
func DefaultTransformerWrapper() *TransformerWrapperConfig {
	return &TransformerWrapperConfig{UseAbsPosEmb: true, EmbFracGradient: 1}
}

// ContinuousWrapperConfig holds the keyword arguments of
// ContinuousTransformerWrapper except attn_layers. MaxSeqLen is required.
type ContinuousWrapperConfig struct {
	MaxSeqLen        int     // max_seq_len (required)
	DimIn            *int    // dim_in: input projection when set
	DimOut           *int    // dim_out: output projection when set
	EmbDim           *int    // emb_dim: accepted but unused by 1.9.2
	PostEmbNorm      bool    // post_emb_norm
	EmbDropout       float64 // emb_dropout (inference: unused)
	UseAbsPosEmb     bool    // use_abs_pos_emb, default true
	ScaledSinuPosEmb bool    // scaled_sinu_pos_emb
}

// DefaultContinuousWrapper returns the ContinuousTransformerWrapper defaults
// of x-transformers 1.9.2 (the required MaxSeqLen is zero).
func DefaultContinuousWrapper() *ContinuousWrapperConfig {
	return &ContinuousWrapperConfig{UseAbsPosEmb: true}
}

// ViTWrapperConfig holds the keyword arguments of ViTransformerWrapper except
// attn_layers (which must be an Encoder). ImageSize and PatchSize are
// required.
type ViTWrapperConfig struct {
	ImageSize   int     // image_size (required)
	PatchSize   int     // patch_size (required)
	Channels    int     // channels, default 3
	NumClasses  *int    // num_classes: classification head when set
	Dropout     float64 // dropout: accepted but unused by 1.9.2
	PostEmbNorm bool    // post_emb_norm
	EmbDropout  float64 // emb_dropout (inference: unused)
}

// DefaultViTWrapper returns the ViTransformerWrapper defaults of
// x-transformers 1.9.2 (the required ImageSize and PatchSize are zero).
func DefaultViTWrapper() *ViTWrapperConfig {
	return &ViTWrapperConfig{Channels: 3}
}

// XTransformerConfig holds the keyword arguments of XTransformer. In the JSON
// form they are all flat in "wrapper"; the enc_ and dec_ ones are split into
// Enc and Dec exactly as XTransformer.__init__ splits them. Dim is required.
//
// Build the two halves from EncoderConfig and DecoderConfig, which apply
// what XTransformer.__init__ adds (dim, Encoder/Decoder, cross_attend and
// the deepnorm residual constants).
type XTransformerConfig struct {
	Dim                    int     // dim (required)
	TieTokenEmb            bool    // tie_token_emb
	IgnoreIndex            int     // ignore_index, default -100 (training only)
	PadValue               int     // pad_value (generation only)
	Deepnorm               bool    // deepnorm
	CrossAttnTokensDropout float64 // cross_attn_tokens_dropout (training only)
	Enc                    XTransformerSide
	Dec                    XTransformerSide
}

// XTransformerSide is one half of an XTransformer: the enc_ or dec_ keyword
// arguments with the prefix removed. The TransformerWrapper ones
// XTransformer forwards are fields; the rest go to Layers.
//
// Layers.Type and Layers.Dim are ignored (XTransformer sets them); Layers.Dim
// must be 0 or equal to XTransformerConfig.Dim.
type XTransformerSide struct {
	NumTokens        int     // num_tokens (required)
	MaxSeqLen        int     // max_seq_len (required)
	EmbDropout       float64 // emb_dropout (inference: unused)
	NumMemoryTokens  *int    // num_memory_tokens: encoder only in 1.9.2
	ScaledSinuPosEmb bool    // scaled_sinu_pos_emb
	UseAbsPosEmb     bool    // use_abs_pos_emb, default true
	Layers           AttentionLayers
}

// DefaultXTransformer returns the XTransformer defaults of x-transformers
// 1.9.2 (the required Dim, num_tokens, max_seq_len and depth are zero).
func DefaultXTransformer() *XTransformerConfig {
	enc, dec := DefaultAttentionLayers(), DefaultAttentionLayers()
	enc.Type, dec.Type = LayersEncoder, LayersDecoder
	return &XTransformerConfig{
		IgnoreIndex: -100,
		Enc:         XTransformerSide{UseAbsPosEmb: true, Layers: *enc},
		Dec:         XTransformerSide{UseAbsPosEmb: true, Layers: *dec},
	}
}

// EncoderConfig returns the TransformerWrapper(attn_layers=Encoder(...))
// that XTransformer builds as its encoder: the forwarded enc_ wrapper
// arguments, dim, and with deepnorm scale_residual=True and
// scale_residual_constant = 0.81 * (enc_depth**4 * dec_depth)**0.0625.
// The result shares nothing with x.
func (x *XTransformerConfig) EncoderConfig() *Config {
	l := x.Enc.Layers.clone()
	l.Type, l.Dim = LayersEncoder, x.Dim
	if x.Deepnorm {
		l.ScaleResidual = true
		e, d := float64(x.Enc.Layers.Depth), float64(x.Dec.Layers.Depth)
		l.ScaleResidualConstant = 0.81 * root2k(e*e*e*e*d, 4)
	}
	return &Config{Kind: KindTransformerWrapper, Wrapper: x.Enc.wrapper(), Layers: l}
}

// DecoderConfig returns the TransformerWrapper(attn_layers=Decoder(
// cross_attend=True, ...)) that XTransformer builds as its decoder, with
// deepnorm scale_residual=True and scale_residual_constant =
// (3 * dec_depth)**0.25. Dec.NumMemoryTokens is not forwarded (1.9.2 drops
// it). The result shares nothing with x.
func (x *XTransformerConfig) DecoderConfig() *Config {
	l := x.Dec.Layers.clone()
	l.Type, l.Dim = LayersDecoder, x.Dim
	l.CrossAttendArg = new(true)
	if x.Deepnorm {
		l.ScaleResidual = true
		l.ScaleResidualConstant = root2k(3*float64(x.Dec.Layers.Depth), 2)
	}
	w := x.Dec.wrapper()
	w.NumMemoryTokens = nil
	return &Config{Kind: KindTransformerWrapper, Wrapper: w, Layers: l}
}

func (s *XTransformerSide) wrapper() *TransformerWrapperConfig {
	w := DefaultTransformerWrapper()
	w.NumTokens, w.MaxSeqLen, w.EmbDropout = s.NumTokens, s.MaxSeqLen, s.EmbDropout
	w.NumMemoryTokens = cloneInt(s.NumMemoryTokens)
	w.ScaledSinuPosEmb, w.UseAbsPosEmb = s.ScaledSinuPosEmb, s.UseAbsPosEmb
	return w
}

// AttentionConfig holds the Attention keyword arguments that AttentionLayers
// forwards with the attn_ prefix (attn_dim_head, attn_qk_norm, ...).
type AttentionConfig struct {
	DimHead        int     // dim_head, default 64
	TalkingHeads   bool    // talking_heads
	HeadScale      bool    // head_scale
	SparseTopK     *int    // sparse_topk
	NumMemKV       int     // num_mem_kv
	Dropout        float64 // dropout (inference: unused)
	OnAttn         bool    // on_attn
	GateValues     bool    // gate_values
	ZeroInitOutput bool    // zero_init_output (initialisation only)
	MaxAttendPast  *int    // max_attend_past
	QKNorm         bool    // qk_norm
	QKNormGroups   int     // qk_norm_groups, default 1
	QKNormScale    float64 // qk_norm_scale, default 10
	QKNormDimScale bool    // qk_norm_dim_scale
	OneKVHead      bool    // one_kv_head
	SharedKV       bool    // shared_kv
	ValueDimHead   *int    // value_dim_head, default dim_head
	TensorProduct  bool    // tensor_product
}

// DefaultAttention returns the Attention defaults of x-transformers 1.9.2.
func DefaultAttention() *AttentionConfig {
	return &AttentionConfig{DimHead: defaultDimHead, QKNormGroups: 1, QKNormScale: 10}
}

// FeedForwardConfig holds the FeedForward keyword arguments that
// AttentionLayers forwards with the ff_ prefix.
type FeedForwardConfig struct {
	DimOut         *int    // dim_out, default dim
	Mult           float64 // mult, default 4
	GLU            bool    // glu
	Swish          bool    // swish
	ReluSquared    bool    // relu_squared
	PostActLN      bool    // post_act_ln
	Dropout        float64 // dropout (inference: unused)
	NoBias         bool    // no_bias
	ZeroInitOutput bool    // zero_init_output (initialisation only)
}

// DefaultFeedForward returns the FeedForward defaults of x-transformers 1.9.2.
func DefaultFeedForward() *FeedForwardConfig {
	return &FeedForwardConfig{Mult: 4}
}

// Activation names a FeedForward activation.
type Activation string

// The FeedForward activations.
const (
	ActivationGELU        Activation = "gelu"
	ActivationSiLU        Activation = "silu"
	ActivationReluSquared Activation = "relu_squared"
)

// Activation returns the activation FeedForward uses: relu_squared wins over
// swish (SiLU), otherwise GELU. With glu it gates a GLU projection.
func (f *FeedForwardConfig) Activation() Activation {
	switch {
	case f.ReluSquared:
		return ActivationReluSquared
	case f.Swish:
		return ActivationSiLU
	}
	return ActivationGELU
}

// InnerDim returns int(dim * mult), the hidden width of the FeedForward.
func (f *FeedForwardConfig) InnerDim(dim int) int { return int(float64(dim) * f.Mult) }

// OutDim returns dim_out, defaulting to dim.
func (f *FeedForwardConfig) OutDim(dim int) int { return derefOr(f.DimOut, dim) }

// AttentionLayers holds the keyword arguments of an AttentionLayers subclass
// (Type) including the attn_ (Attn) and ff_ (FF) ones. Dim and Depth are
// required.
//
// Fields hold the arguments as given. Where x-transformers derives another
// value from them, a method returns what 1.9.2 really uses; the four fields
// whose names such a method takes end in Arg (CausalArg, CrossAttendArg,
// OnlyCrossArg, RotaryEmbDimArg).
type AttentionLayers struct {
	Type  LayersType // the subclass; required
	Dim   int        // dim (required)
	Depth int        // depth (required)
	Heads int        // heads, default 8

	// CausalArg is the causal kwarg if given (nil: not passed). Encoder and
	// Decoder reject it; see Causal.
	CausalArg *bool
	// CrossAttendArg is the cross_attend kwarg if given; CrossAttender
	// rejects it; see CrossAttend.
	CrossAttendArg *bool
	// OnlyCrossArg is the only_cross kwarg if given; CrossAttender rejects
	// it; see OnlyCross.
	OnlyCrossArg *bool

	UseScalenorm bool // use_scalenorm
	UseRMSNorm   bool // use_rmsnorm (wins over use_scalenorm)

	AlibiPosBias  bool // alibi_pos_bias
	AlibiNumHeads *int // alibi_num_heads, default heads
	AlibiLearned  bool // alibi_learned

	RelPosBias        bool // rel_pos_bias (T5)
	RelPosNumBuckets  int  // rel_pos_num_buckets, default 32
	RelPosMaxDistance int  // rel_pos_max_distance, default 128

	DynamicPosBias            bool // dynamic_pos_bias
	DynamicPosBiasLogDistance bool // dynamic_pos_bias_log_distance
	DynamicPosBiasMLPDepth    int  // dynamic_pos_bias_mlp_depth, default 2
	DynamicPosBiasNorm        bool // dynamic_pos_bias_norm

	RotaryPosEmb        bool    // rotary_pos_emb
	RotaryEmbDimArg     *int    // rotary_emb_dim; see RotaryEmbDim
	RotaryXPos          bool    // rotary_xpos (turns rotary on)
	RotaryXPosScaleBase float64 // rotary_xpos_scale_base, default 512

	CustomLayers []LayerType // custom_layers; nil: None
	SandwichCoef *int        // sandwich_coef
	ParRatio     *int        // par_ratio

	ResidualAttn          bool    // residual_attn
	CrossResidualAttn     bool    // cross_residual_attn
	Macaron               bool    // macaron
	PreNorm               bool    // pre_norm, default true
	GateResidual          bool    // gate_residual (GRU gating)
	ScaleResidual         bool    // scale_residual
	ScaleResidualConstant float64 // scale_residual_constant, default 1
	Deepnorm              bool    // deepnorm
	ShiftTokens           IntOrTuple
	SandwichNorm          bool // sandwich_norm
	ZeroInitBranchOutput  bool // zero_init_branch_output (initialisation only)
	LayerDropout          FloatOrTuple
	// CrossAttnTokensDropout is cross_attn_tokens_dropout (training only).
	CrossAttnTokensDropout float64

	Attn AttentionConfig   // attn_* kwargs
	FF   FeedForwardConfig // ff_* kwargs
}

// DefaultAttentionLayers returns the AttentionLayers defaults of
// x-transformers 1.9.2. Type, Dim and Depth are left empty: set them.
func DefaultAttentionLayers() *AttentionLayers {
	return &AttentionLayers{
		Heads:                  8,
		RelPosNumBuckets:       32,
		RelPosMaxDistance:      128,
		DynamicPosBiasMLPDepth: 2,
		RotaryXPosScaleBase:    512,
		PreNorm:                true,
		ScaleResidualConstant:  1,
		Attn:                   *DefaultAttention(),
		FF:                     *DefaultFeedForward(),
	}
}

// IntOrTuple is a kwarg that x-transformers passes through cast_tuple: one
// int for every layer, or a tuple (a JSON list) with one entry per layer.
type IntOrTuple struct {
	Int   int   // used when Tuple is nil
	Tuple []int // non-nil when a tuple was given
}

// PerLayer returns the value for each of n layers, as cast_tuple and zip do.
// A tuple shorter than n yields fewer entries (Validate rejects that).
func (v IntOrTuple) PerLayer(n int) []int {
	out := make([]int, 0, max(n, 0))
	for i := range n {
		switch {
		case v.Tuple == nil:
			out = append(out, v.Int)
		case i < len(v.Tuple):
			out = append(out, v.Tuple[i])
		}
	}
	return out
}

// FloatOrTuple is IntOrTuple for float kwargs (layer_dropout).
type FloatOrTuple struct {
	Float float64   // used when Tuple is nil
	Tuple []float64 // non-nil when a tuple was given
}

// Causal reports whether self-attention is causal: true for a Decoder, false
// for an Encoder, the causal kwarg (default false) for a CrossAttender.
func (l *AttentionLayers) Causal() bool {
	switch l.Type {
	case LayersDecoder:
		return true
	case LayersEncoder:
		return false
	}
	return derefOr(l.CausalArg, false)
}

// CrossAttend reports whether the layers cross-attend to a context: true for
// a CrossAttender, else the cross_attend kwarg (default false).
func (l *AttentionLayers) CrossAttend() bool {
	return l.Type == LayersCrossAttender || derefOr(l.CrossAttendArg, false)
}

// OnlyCross reports whether the blocks hold cross-attention only (no
// self-attention): true for a CrossAttender; otherwise only_cross, which
// has an effect only together with cross_attend.
func (l *AttentionLayers) OnlyCross() bool {
	if l.Type == LayersCrossAttender {
		return true
	}
	return l.CrossAttend() && derefOr(l.OnlyCrossArg, false)
}

// DimHead returns attn_dim_head (default 64).
func (l *AttentionLayers) DimHead() int { return l.Attn.DimHead }

// ValueDimHead returns attn_value_dim_head, defaulting to attn_dim_head.
func (l *AttentionLayers) ValueDimHead() int { return derefOr(l.Attn.ValueDimHead, l.Attn.DimHead) }

// UsesRotary reports whether rotary embeddings are on: rotary_pos_emb or
// rotary_xpos.
func (l *AttentionLayers) UsesRotary() bool { return l.RotaryPosEmb || l.RotaryXPos }

// RotaryEmbDim returns the rotary embedding dimension 1.9.2 uses:
// max(rotary_emb_dim or attn_dim_head // 2, 32). It is computed even when
// rotary embeddings are off.
func (l *AttentionLayers) RotaryEmbDim() int {
	return max(derefOr(l.RotaryEmbDimArg, floorDiv(l.Attn.DimHead, 2)), 32)
}

// HasPosEmb is AttentionLayers.has_pos_emb: rel_pos_bias or rotary. ALiBi and
// dynamic position bias do not count, so wrappers keep their absolute
// position embedding with them.
func (l *AttentionLayers) HasPosEmb() bool { return l.RelPosBias || l.UsesRotary() }

// RelPosKind names the attention bias AttentionLayers.rel_pos holds.
type RelPosKind string

// The attention position biases.
const (
	RelPosNone         RelPosKind = ""
	RelPosT5           RelPosKind = "t5"            // RelativePositionBias
	RelPosDynamic      RelPosKind = "dynamic"       // DynamicPositionBias
	RelPosAlibi        RelPosKind = "alibi"         // AlibiPositionalBias
	RelPosLearnedAlibi RelPosKind = "learned_alibi" // LearnedAlibiPositionalBias
)

// RelPos returns the attention bias in 1.9.2's order of precedence:
// rel_pos_bias, then dynamic_pos_bias, then alibi_pos_bias (learned with
// alibi_learned).
func (l *AttentionLayers) RelPos() RelPosKind {
	switch {
	case l.RelPosBias:
		return RelPosT5
	case l.DynamicPosBias:
		return RelPosDynamic
	case l.AlibiPosBias && l.AlibiLearned:
		return RelPosLearnedAlibi
	case l.AlibiPosBias:
		return RelPosAlibi
	}
	return RelPosNone
}

// AlibiHeads returns alibi_num_heads, defaulting to heads.
func (l *AttentionLayers) AlibiHeads() int { return derefOr(l.AlibiNumHeads, l.Heads) }

// NormKind names the normalisation class of the layers.
type NormKind string

// The normalisation classes.
const (
	NormLayerNorm NormKind = "LayerNorm"
	NormScaleNorm NormKind = "ScaleNorm"
	NormRMSNorm   NormKind = "RMSNorm"
)

// NormKind returns the norm used around the blocks: RMSNorm if use_rmsnorm,
// else ScaleNorm if use_scalenorm, else LayerNorm. (The final norm of the
// wrappers is always a LayerNorm.)
func (l *AttentionLayers) NormKind() NormKind {
	switch {
	case l.UseRMSNorm:
		return NormRMSNorm
	case l.UseScalenorm:
		return NormScaleNorm
	}
	return NormLayerNorm
}

// EffectivePreNorm returns pre_norm after deepnorm (which turns it off).
func (l *AttentionLayers) EffectivePreNorm() bool { return l.PreNorm && !l.Deepnorm }

// EffectiveSandwichNorm returns sandwich_norm after deepnorm (which turns it
// off).
func (l *AttentionLayers) EffectiveSandwichNorm() bool { return l.SandwichNorm && !l.Deepnorm }

// EffectiveScaleResidual returns scale_residual after deepnorm (which turns
// it on).
func (l *AttentionLayers) EffectiveScaleResidual() bool { return l.ScaleResidual || l.Deepnorm }

// EffectiveScaleResidualConstant returns scale_residual_constant after
// deepnorm, which sets it to (2 * depth)**0.25.
func (l *AttentionLayers) EffectiveScaleResidualConstant() float64 {
	if l.Deepnorm {
		return root2k(2*float64(l.Depth), 2)
	}
	return l.ScaleResidualConstant
}

// defaultBlock returns AttentionLayers' default_block.
func (l *AttentionLayers) defaultBlock() []LayerType {
	var b []LayerType
	switch {
	case l.CrossAttend() && !l.OnlyCross():
		b = []LayerType{LayerSelfAttention, LayerCrossAttention, LayerFeedForward}
	case l.CrossAttend():
		b = []LayerType{LayerCrossAttention, LayerFeedForward}
	default:
		b = []LayerType{LayerSelfAttention, LayerFeedForward}
	}
	if l.Macaron {
		b = append([]LayerType{LayerFeedForward}, b...)
	}
	return b
}

// LayerTypes returns AttentionLayers.layer_types: custom_layers if given,
// else the par_ratio layout, else the sandwich_coef layout, else the default
// block (self-attention, cross-attention when cross-attending, feedforward,
// with a leading feedforward for macaron) repeated depth times. It returns
// nil when those kwargs are invalid (Validate says why).
func (l *AttentionLayers) LayerTypes() []LayerType {
	t, _, _ := l.layerTypes()
	return t
}

// layerTypes is LayerTypes that also returns the kwarg and message of the
// x-transformers assertion that fails, if any.
func (l *AttentionLayers) layerTypes() (types []LayerType, key, msg string) {
	if l.Depth > maxDepth {
		return nil, "depth", fmt.Sprintf("%d layers is beyond any real model (at most %d here)", l.Depth, maxDepth)
	}
	block := l.defaultBlock()
	switch {
	case l.CustomLayers != nil:
		for i, t := range l.CustomLayers {
			if !t.valid() {
				return nil, "custom_layers", fmt.Sprintf(`entry %d is %q; x-transformers raises "invalid layer type": use "a" (self-attention), "c" (cross-attention) or "f" (feedforward)`, i, string(rune(t)))
			}
		}
		return append([]LayerType{}, l.CustomLayers...), "", ""
	case l.ParRatio != nil:
		parDepth := l.Depth * len(block)
		r := *l.ParRatio
		if r <= 1 || r > parDepth {
			return nil, "par_ratio", fmt.Sprintf("par ratio out of range: must be greater than 1 and at most depth * block size = %d, got %d", parDepth, r)
		}
		var attn []LayerType
		for _, t := range block {
			if t != LayerFeedForward {
				attn = append(attn, t)
			}
		}
		parAttn := parDepth / r
		depthCut := parDepth * 2 / 3
		parWidth := (depthCut + depthCut/parAttn) / parAttn
		if len(attn) > parWidth {
			return nil, "par_ratio", fmt.Sprintf("the default block is too large for par_ratio %d: its %d attention layers exceed the par width %d", r, len(attn), parWidth)
		}
		parBlock := append(attn, repeatLayer(LayerFeedForward, parWidth-len(attn))...)
		for range parAttn {
			types = append(types, parBlock...)
		}
		return append(types, repeatLayer(LayerFeedForward, parDepth-len(types))...), "", ""
	case l.SandwichCoef != nil:
		c := *l.SandwichCoef
		if c <= 0 || c > l.Depth {
			return nil, "sandwich_coef", fmt.Sprintf("sandwich coefficient must be greater than 0 and at most depth (%d), got %d", l.Depth, c)
		}
		types = repeatLayer(LayerSelfAttention, c)
		for range l.Depth - c {
			types = append(types, block...)
		}
		return append(types, repeatLayer(LayerFeedForward, c)...), "", ""
	}
	for range max(l.Depth, 0) {
		types = append(types, block...)
	}
	return types, "", ""
}

// NumAttnLayers counts the self-attention layers ('a'), as num_attn_layers.
func (l *AttentionLayers) NumAttnLayers() int {
	n := 0
	for _, t := range l.LayerTypes() {
		if t == LayerSelfAttention {
			n++
		}
	}
	return n
}

// ShiftTokensPerLayer returns shift_tokens for each layer of LayerTypes
// (cast_tuple semantics). A layer shifts tokens only when its value is > 0.
func (l *AttentionLayers) ShiftTokensPerLayer() []int {
	return l.ShiftTokens.PerLayer(len(l.LayerTypes()))
}

// TokenShifts returns the shift amounts ShiftTokens applies to the feature
// segments of layer i: range(-s, s+1), or range(0, s+1) when causal, for
// s = ShiftTokensPerLayer()[i] > 0; nil when the layer does not shift.
func (l *AttentionLayers) TokenShifts(i int) []int {
	per := l.ShiftTokensPerLayer()
	if i < 0 || i >= len(per) || per[i] <= 0 {
		return nil
	}
	lo := -per[i]
	if l.Causal() {
		lo = 0
	}
	var out []int
	for s := lo; s <= per[i]; s++ {
		out = append(out, s)
	}
	return out
}

// clone returns a deep copy of l.
func (l *AttentionLayers) clone() *AttentionLayers {
	c := *l
	c.CausalArg, c.CrossAttendArg, c.OnlyCrossArg = cloneBool(l.CausalArg), cloneBool(l.CrossAttendArg), cloneBool(l.OnlyCrossArg)
	c.AlibiNumHeads, c.RotaryEmbDimArg = cloneInt(l.AlibiNumHeads), cloneInt(l.RotaryEmbDimArg)
	c.SandwichCoef, c.ParRatio = cloneInt(l.SandwichCoef), cloneInt(l.ParRatio)
	if l.CustomLayers != nil {
		c.CustomLayers = append([]LayerType{}, l.CustomLayers...)
	}
	if l.ShiftTokens.Tuple != nil {
		c.ShiftTokens.Tuple = append([]int{}, l.ShiftTokens.Tuple...)
	}
	if l.LayerDropout.Tuple != nil {
		c.LayerDropout.Tuple = append([]float64{}, l.LayerDropout.Tuple...)
	}
	c.Attn.SparseTopK, c.Attn.MaxAttendPast = cloneInt(l.Attn.SparseTopK), cloneInt(l.Attn.MaxAttendPast)
	c.Attn.ValueDimHead, c.FF.DimOut = cloneInt(l.Attn.ValueDimHead), cloneInt(l.FF.DimOut)
	return &c
}

// PosEmbKind names the position embedding a wrapper adds to its input.
type PosEmbKind string

// The wrapper position embeddings.
const (
	PosEmbNone             PosEmbKind = ""
	PosEmbAbsolute         PosEmbKind = "absolute"          // AbsolutePositionalEmbedding
	PosEmbScaledSinusoidal PosEmbKind = "scaled_sinusoidal" // ScaledSinusoidalEmbedding
	PosEmbPatch            PosEmbKind = "patch"             // ViT's learned pos_embedding
)

// XTVersion returns the x-transformers release whose semantics the model
// follows: Version, or XTransformersVersion when it is empty.
func (c *Config) XTVersion() string {
	if c.Version == "" {
		return XTransformersVersion
	}
	return c.Version
}

// QKNormDimScaleLogitsUnscaled reports whether qk-norm with a learned dim
// scale multiplies the logits by 1 instead of qk_norm_scale: x-transformers
// 1.9.1, whose gains start at √qk_norm_scale and so carry the scale.
func (c *Config) QKNormDimScaleLogitsUnscaled() bool { return c.XTVersion() == "1.9.1" }

// Dim returns the model dimension: attn_layers' dim, or XTransformer's dim.
func (c *Config) Dim() int {
	if c.Kind == KindXTransformer && c.XTransformer != nil {
		return c.XTransformer.Dim
	}
	if c.Layers == nil {
		return 0
	}
	return c.Layers.Dim
}

// EmbDim returns the token embedding width: TransformerWrapper's emb_dim,
// defaulting to dim; dim for the other kinds (ContinuousTransformerWrapper
// ignores its emb_dim). For KindXTransformer, as for the other resolved
// Config methods, it describes the decoder; use EncoderConfig for the
// encoder.
func (c *Config) EmbDim() int {
	switch c.Kind {
	case KindTransformerWrapper:
		if c.Wrapper != nil {
			return derefOr(c.Wrapper.EmbDim, c.Dim())
		}
	case KindXTransformer:
		if c.XTransformer != nil {
			return c.XTransformer.DecoderConfig().EmbDim()
		}
	}
	return c.Dim()
}

// OutputDim returns the size of the model output's last axis: logits_dim
// (default num_tokens) for TransformerWrapper and XTransformer's decoder,
// dim_out (default dim) for ContinuousTransformerWrapper, num_classes
// (default dim) for ViTransformerWrapper, dim for CrossAttender.
func (c *Config) OutputDim() int {
	switch {
	case c.Kind == KindTransformerWrapper && c.Wrapper != nil:
		return derefOr(c.Wrapper.LogitsDim, c.Wrapper.NumTokens)
	case c.Kind == KindContinuousTransformerWrapper && c.Continuous != nil:
		return derefOr(c.Continuous.DimOut, c.Dim())
	case c.Kind == KindViTransformerWrapper && c.ViT != nil:
		return derefOr(c.ViT.NumClasses, c.Dim())
	case c.Kind == KindXTransformer && c.XTransformer != nil:
		return c.XTransformer.DecoderConfig().OutputDim()
	}
	return c.Dim()
}

// PosEmb returns the position embedding the wrapper adds. For
// TransformerWrapper and ContinuousTransformerWrapper it is used only when
// use_abs_pos_emb and not attn_layers.has_pos_emb (ALiBi and dynamic
// position bias do not switch it off), and is then ScaledSinusoidal with
// scaled_sinu_pos_emb, else Absolute. ViT always has PosEmbPatch;
// CrossAttender none; XTransformer: the decoder's.
func (c *Config) PosEmb() PosEmbKind {
	var use, scaled bool
	switch {
	case c.Kind == KindTransformerWrapper && c.Wrapper != nil:
		use, scaled = c.Wrapper.UseAbsPosEmb, c.Wrapper.ScaledSinuPosEmb
	case c.Kind == KindContinuousTransformerWrapper && c.Continuous != nil:
		use, scaled = c.Continuous.UseAbsPosEmb, c.Continuous.ScaledSinuPosEmb
	case c.Kind == KindViTransformerWrapper:
		return PosEmbPatch
	case c.Kind == KindXTransformer && c.XTransformer != nil:
		return c.XTransformer.DecoderConfig().PosEmb()
	default:
		return PosEmbNone
	}
	if !use || c.Layers == nil || c.Layers.HasPosEmb() {
		return PosEmbNone
	}
	if scaled {
		return PosEmbScaledSinusoidal
	}
	return PosEmbAbsolute
}

// NumMemoryTokens returns TransformerWrapper's num_memory_tokens (default 0);
// 0 for the other kinds and for XTransformer's decoder.
func (c *Config) NumMemoryTokens() int {
	if c.Kind == KindTransformerWrapper && c.Wrapper != nil {
		return derefOr(c.Wrapper.NumMemoryTokens, 0)
	}
	return 0
}

func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func cloneInt(p *int) *int {
	if p == nil {
		return nil
	}
	return new(*p)
}

func cloneBool(p *bool) *bool {
	if p == nil {
		return nil
	}
	return new(*p)
}

// root2k returns x**(1/2**k) correctly rounded, as Python's x ** 0.25 and
// x ** 0.0625 give it (math.Pow can be one ulp off); NaN for x < 0.
func root2k(x float64, k int) float64 {
	if x < 0 {
		return math.NaN()
	}
	f := new(big.Float).SetPrec(256).SetFloat64(x)
	for range k {
		f.Sqrt(f)
	}
	r, _ := f.Float64()
	return r
}

// floorDiv is Python's // for ints.
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func repeatLayer(t LayerType, n int) []LayerType {
	out := []LayerType{}
	for range max(n, 0) {
		out = append(out, t)
	}
	return out
}
