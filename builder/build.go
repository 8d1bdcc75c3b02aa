package builder

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
)

// DefaultOpset is the ONNX opset models are built for unless Options says
// otherwise.
const DefaultOpset = 18

// Metadata keys the builder stores in the model.
const (
	MetaConfig          = "xt2onnx.config"
	MetaXTransformers   = "xt2onnx.x_transformers_version"
	MetaMaxSeqLen       = "xt2onnx.max_seq_len"
	MetaNumMemoryTokens = "xt2onnx.num_memory_tokens"
)

// Value names of the graph inputs and outputs, as the PyTorch forward
// arguments are named.
const (
	InputTokens      = "x"            // TransformerWrapper tokens, Continuous/CrossAttender embeddings
	InputMask        = "mask"         // key-padding mask of x, true = keep
	InputContext     = "context"      // CrossAttender context embeddings
	InputContextMask = "context_mask" // CrossAttender context mask
	InputImage       = "img"          // ViTransformerWrapper images
	InputSource      = "src"          // XTransformer encoder tokens
	InputTarget      = "tgt"          // XTransformer decoder tokens
	InputSourceMask  = "src_mask"     // XTransformer encoder mask
	OutputLogits     = "logits"
	OutputOut        = "out"
	OutputEmbeddings = "embeddings"
)

// MaskMode says whether a built model takes a key-padding mask input.
type MaskMode int

// Mask modes.
const (
	// MaskAuto adds the mask input when the config's "inputs" names it, or
	// for an Encoder when the config lists no inputs.
	MaskAuto MaskMode = iota
	// MaskOn always adds the mask input.
	MaskOn
	// MaskOff never adds it.
	MaskOff
)

// Options tune a build.
type Options struct {
	// Opset is the ONNX opset to build for; 0 means DefaultOpset.
	Opset int64
	// Mask decides whether the model takes a "mask" input.
	Mask MaskMode
	// Name is the graph name; empty means derived from the config kind.
	Name string
	// ReturnEmbeddings makes a TransformerWrapper or
	// ContinuousTransformerWrapper model output the final-norm embeddings
	// ("embeddings") instead of the logits (return_embeddings=True).
	ReturnEmbeddings bool
	// KVCache exports a decoder that also takes the keys and values of
	// earlier positions (past_key_<i>, past_value_<i> for the i-th
	// self-attention layer, and past_shift_<l> for token-shifting layer l)
	// and returns them extended (present_*). One file serves the prompt
	// (empty past) and every following step. TransformerWrapper and
	// ContinuousTransformerWrapper decoders, and the decoder part of an
	// XTransformer.
	KVCache bool
	// KVLayout chooses how a KVCache model takes and returns its
	// self-attention cache (KVLayoutConcat, the zero value, also spelled
	// "concat", or KVLayoutBuffer).
	KVLayout KVLayout
	// Part exports one half of an XTransformer (see Part); the zero value
	// exports the whole model, src and tgt in, logits out.
	Part Part
	// Stream builds a model whose weights are read or generated only when
	// it is written: every large initializer carries a graph.TensorSource
	// (a mapped file's pages are released after each tensor), so
	// exporting a model needs about
	// one tensor of memory, not the whole model. The written bytes are
	// identical to those of a build without Stream. The weights must stay
	// open until the model is written, and the model's tensors must be
	// written by one goroutine at a time (their sources share scratch
	// memory).
	Stream bool
}

// KVLayout is the form of a KV-cache model's self-attention cache.
type KVLayout string

// The KV-cache layouts.
const (
	// KVLayoutConcat takes past_key_<i> and past_value_<i> ([batch, kv
	// heads, past_seq, dim_head]) and returns them extended by the new
	// positions (present_*), the convention of most ONNX decoder exports.
	// The graph's Concat writes the whole cache at every step.
	KVLayoutConcat KVLayout = ""
	// KVLayoutBuffer takes the cache as fixed-capacity buffers the caller
	// owns and returns only the new positions, so a step reads the cache
	// and writes nothing of it: cache_key_<i> holds the keys transposed
	// ([batch, kv heads, dim_head, capacity]), cache_value_<i> the values
	// ([batch, kv heads, capacity, dim_head]), cache_len (int64 [1]) how
	// many leading positions of them are valid (clamped to the capacity;
	// the other slots must hold finite values, which get zero weight);
	// new_key_<i> ([batch, kv heads, dim_head, seq]) and
	// new_value_<i> ([batch, kv heads, seq, dim_head]) are the step's
	// positions, which the caller writes at cache_len before the next
	// step. Token-shift caches keep the concat form.
	KVLayoutBuffer KVLayout = "buffer"
)

// Part names one half of an XTransformer exported as two models, so that
// generation runs the encoder once per source and then only the decoder.
type Part string

// The parts of an XTransformer.
const (
	// PartWhole is the whole XTransformer in one graph.
	PartWhole Part = ""
	// PartEncoder takes src (and src_mask) and returns the encoder's
	// embeddings ("context") and, for the i-th cross-attention layer of the
	// decoder, its keys and values of the context (cross_key_<i>,
	// cross_value_<i>, [batch, heads, src_seq, dim_head]): everything the
	// decoder needs from the source, computed once.
	PartEncoder Part = "encoder"
	// PartDecoder takes the target tokens ("x"), the cross_key_<i> and
	// cross_value_<i> the encoder part returns and src_mask, and returns
	// the logits; with Options.KVCache also the self-attention cache.
	PartDecoder Part = "decoder"
)

// Metadata keys of KV-cache models and of XTransformer parts.
const (
	MetaKVCache     = "xt2onnx.kv_cache"     // "1" when the model takes past_* inputs
	MetaCacheSlides = "xt2onnx.cache_slides" // "1" when the cache may slide (Config.CacheSlides)
	MetaPart        = "xt2onnx.part"         // "encoder" or "decoder" for an XTransformer part
	MetaKVLayout    = "xt2onnx.kv_layout"    // "buffer" for KVLayoutBuffer; absent for concat
)

// Names of the cross-attention inputs of an XTransformer decoder part (and
// outputs of its encoder part), numbered by cross-attention layer.
const (
	CrossKeyPrefix   = "cross_key_"
	CrossValuePrefix = "cross_value_"
	OutputContext    = "context"
)

// UnsupportedError lists the config options a build does not implement.
type UnsupportedError struct {
	Options []string // key paths with the reason, e.g. "attn_layers.x: …"
}

func (e *UnsupportedError) Error() string {
	if len(e.Options) == 1 {
		return fmt.Sprintf("builder: %s is not supported", e.Options[0])
	}
	return fmt.Sprintf("builder: these options are not supported: %s", strings.Join(e.Options, "; "))
}

// Unsupported returns the options of cfg that Build cannot export, with the
// reason; empty when the whole config is supported.
func Unsupported(cfg *Config, opts Options) []string {
	var out []string
	check := func(prefix string, l *AttentionLayers) {
		if l == nil {
			return
		}
		if l.RelPos() == RelPosDynamic && l.Attn.NumMemKV > 0 {
			out = append(out, prefix+"dynamic_pos_bias together with attn_num_mem_kv (x-transformers 1.9.2 adds an n×n bias to n×(n+mem) logits and fails)")
		}
		if l.Attn.NumMemKV > 0 && l.ValueDimHead() != l.DimHead() {
			out = append(out, prefix+"attn_num_mem_kv with attn_value_dim_head != attn_dim_head (x-transformers 1.9.2 makes memory values dim_head wide and fails to concatenate them)")
		}
		if l.RelPos() == RelPosLearnedAlibi && l.AlibiHeads() < l.Heads {
			out = append(out, prefix+"alibi_learned with alibi_num_heads < heads (x-transformers 1.9.2 pads the learned slopes along the wrong axis and fails)")
		}
	}
	check("attn_layers.", cfg.Layers)
	if x := cfg.XTransformer; x != nil {
		check("wrapper.enc_", x.EncoderConfig().Layers)
		check("wrapper.dec_", x.DecoderConfig().Layers)
	}
	if cfg.NAR != nil || opts.Part == PartCritic {
		out = append(out, narUnsupported(cfg, opts)...)
	} else if opts.Part != PartWhole {
		switch {
		case cfg.Kind != KindXTransformer:
			out = append(out, fmt.Sprintf("part %q of kind %s (only an XTransformer has an encoder and a decoder part)", opts.Part, cfg.Kind))
		case opts.Part != PartEncoder && opts.Part != PartDecoder:
			out = append(out, fmt.Sprintf("part %q (want %q or %q; %q for a NonAutoregressiveWrapper)", opts.Part, PartEncoder, PartDecoder, PartCritic))
		case opts.Part == PartEncoder && opts.KVCache:
			out = append(out, "KV cache for the encoder part (the decoder part has it)")
		}
	}
	if opts.KVCache && cfg.Kind == KindXTransformer && opts.Part == PartDecoder {
		// The decoder part's cache: checked as its TransformerWrapper.
		dec := cfg.XTransformer.DecoderConfig()
		cfg = dec
	}
	if opts.KVCache && cfg.NAR == nil {
		switch {
		case cfg.Kind == KindXTransformer:
			out = append(out, "KV cache for a whole XTransformer (export its decoder part with the cache: Options.Part = PartDecoder)")
		case cfg.Kind != KindTransformerWrapper && cfg.Kind != KindContinuousTransformerWrapper:
			out = append(out, fmt.Sprintf("KV cache for kind %s (TransformerWrapper and ContinuousTransformerWrapper decoders, and XTransformer decoder parts)", cfg.Kind))
		case cfg.Layers != nil && !cfg.Layers.Causal():
			out = append(out, "KV cache for a non-causal (Encoder) model")
		case cfg.Layers != nil && cfg.Layers.NumAttnLayers() == 0:
			out = append(out, "KV cache for a model without self-attention layers")
		case cfg.Layers != nil && cfg.Layers.RotaryXPos:
			out = append(out, "KV cache with attn_layers.rotary_xpos (x-transformers 1.9.2 scales the values by a power centred on n//2 of the whole sequence, so every earlier hidden state changes as the sequence grows; generate without the cache)")
		case cfg.Layers != nil && cfg.Layers.Attn.MaxAttendPast != nil && slices.Contains(cfg.Layers.LayerTypes(), LayerCrossAttention):
			out = append(out, "KV cache with attn_layers.attn_max_attend_past on cross-attention layers (x-transformers 1.9.2 places the queries at the end of the context, counted over the whole sequence, so every earlier hidden state changes as the sequence grows; generate without the cache)")
		}
		if opts.Mask == MaskOn {
			out = append(out, "KV cache together with a mask input (generation needs none)")
		}
	}
	if opts.KVLayout != KVLayoutConcat && opts.KVLayout != "concat" && opts.KVLayout != KVLayoutBuffer {
		out = append(out, fmt.Sprintf("KV layout %q (want KVLayoutConcat, the zero value, or %q)", opts.KVLayout, KVLayoutBuffer))
	} else if opts.KVLayout == KVLayoutBuffer && !opts.KVCache {
		out = append(out, "KV layout buffer without the KV cache (Options.KVCache)")
	}
	if opts.Opset != 0 && opts.Opset < 17 {
		out = append(out, fmt.Sprintf("opset %d (LayerNormalization needs opset 17 or newer)", opts.Opset))
	}
	return out
}

// Build turns a config and its weights into an ONNX model graph. Every
// weight the config needs is read from w (or generated, for RandomWeights);
// missing, misshapen and unused tensors are reported together in one
// *WeightsError. sourceName names w in errors (usually its file path).
func Build(cfg *Config, w Weights, sourceName string, opts Options) (*graph.Model, error) {
	if cfg == nil {
		return nil, errors.New("builder: nil config")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if u := Unsupported(cfg, opts); len(u) > 0 {
		return nil, &UnsupportedError{Options: u}
	}
	if opts.Opset == 0 {
		opts.Opset = DefaultOpset
	}
	if _, random := w.(RandomWeights); random || isRandomPtr(w) {
		// Random weights are generated in memory (streamed: one tensor at
		// a time): refuse a config whose weights cannot fit before
		// generating any.
		check := checkSize
		if opts.Stream {
			check = checkLargest
		}
		if err := check(cfg, opts); err != nil {
			return nil, err
		}
	}
	if sourceName == "" {
		sourceName = "(weights)"
	}
	p := newParams(w, sourceName)
	p.stream = opts.Stream
	mb, g, err := build(cfg, opts, p, false)
	if err != nil {
		return nil, err
	}
	if err := mb.p.finish(); err != nil {
		return nil, err
	}
	cfgJSON, err := cfg.JSON()
	if err != nil {
		return nil, err
	}
	m := &graph.Model{
		Opsets:    []graph.OpsetImport{{Domain: graph.DomainONNX, Version: opts.Opset}},
		Doc:       fmt.Sprintf("x-transformers %s %s built by xt2onnx", cfg.XTVersion(), cfg.Kind),
		Graph:     g,
		Functions: mb.b.Functions(),
	}
	if len(m.Functions) > 0 {
		m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: graph.DomainXT, Version: 1})
	}
	m.SetMetadata(MetaConfig, string(cfgJSON))
	if opts.KVCache {
		m.SetMetadata(MetaKVCache, "1")
		if opts.KVLayout == KVLayoutBuffer {
			m.SetMetadata(MetaKVLayout, string(KVLayoutBuffer))
		}
		if cfg.CacheSlides() {
			m.SetMetadata(MetaCacheSlides, "1")
		}
	}
	if opts.Part != PartWhole {
		m.SetMetadata(MetaPart, string(opts.Part))
	}
	m.SetMetadata(MetaXTransformers, cfg.XTVersion())
	if n := cfg.maxSeqLen(); n > 0 {
		m.SetMetadata(MetaMaxSeqLen, fmt.Sprint(n))
	}
	return m, nil
}

// build runs one build with params p; dry builds record parameter shapes
// without data.
func build(cfg *Config, opts Options, p *params, dry bool) (*modelBuilder, *graph.Graph, error) {
	lib, err := ops.NewLibrary(opts.Opset)
	if err != nil {
		return nil, nil, err
	}
	mb := &modelBuilder{
		cfg:  cfg,
		opts: opts,
		b:    graph.NewGraphBuilder(opts.Opset),
		lib:  lib,
		p:    p,
	}
	if dry {
		p.dry = true
		mb.b.SetDataless(true)
	}
	g, err := mb.model()
	if err != nil {
		return nil, nil, err
	}
	return mb, g, nil
}

func isRandomPtr(w Weights) bool {
	_, ok := w.(*RandomWeights)
	return ok
}

// modelBuilder carries the state of one Build.
type modelBuilder struct {
	cfg  *Config
	opts Options
	b    *graph.Builder
	lib  *ops.Library
	p    *params

	inputs, outputs []graph.ValueInfo

	// kv is set while building a KV-cache decoder.
	kv *kvState
	// crossKV holds the cross_key_<i>, cross_value_<i> inputs of an
	// XTransformer decoder part, taken in order by its cross-attention
	// layers; nil otherwise.
	crossKV *crossInputs
	// sumEmbeds, when set, is added to the token and position embeddings
	// of the next transformerWrapper (1.9.2's sum_embeds); embeddings,
	// when set, receives its final-norm embeddings (return_logits_and_
	// embeddings). NonAutoregressiveWrapper's self-conditioning uses both.
	sumEmbeds  string
	embeddings *string
}

// weight adds parameter name (PyTorch shape) as an initializer and returns
// its value name. A missing or misshapen weight is recorded and a zero
// placeholder returned, so that one build reports every problem.
func (mb *modelBuilder) weight(name string, init initKind, shape ...int64) string {
	return mb.param(paramSpec{name: name, shape: shape, init: init})
}

// weightValue is weight for a parameter that RandomWeights sets to v
// (x-transformers initialises it to a constant).
func (mb *modelBuilder) weightValue(name string, v float32, shape ...int64) string {
	return mb.param(paramSpec{name: name, shape: shape, init: initConst, value: v})
}

// buffer adds a persistent PyTorch buffer (for example RotaryEmbedding's
// inv_freq): taken from the weights when they hold it, else computed
// (values) as x-transformers computes it.
func (mb *modelBuilder) buffer(name string, values []float32, shape ...int64) string {
	if mb.p.dry {
		return mb.param(paramSpec{name: name, shape: shape, init: initValues, values: values})
	}
	if !mb.p.random {
		if _, ok := mb.p.src.Shape(name); ok {
			return mb.param(paramSpec{name: name, shape: shape, init: initValues, values: values})
		}
	}
	v, err := mb.b.Initializer(graph.FloatTensor(name, shape, values))
	if err != nil {
		mb.p.err.Other = append(mb.p.err.Other, err.Error())
	}
	return v
}

func (mb *modelBuilder) param(spec paramSpec) string {
	name, shape := spec.name, spec.shape
	if mb.p.stream && !mb.p.dry && graph.NumElements(shape) >= streamMinElements {
		src, raw := mb.p.source(spec, false)
		v, err := mb.b.Initializer(&graph.Tensor{Name: name, DType: graph.Float, Dims: shape, Raw: raw, Source: src})
		if err != nil {
			mb.p.err.Other = append(mb.p.err.Other, err.Error())
		}
		return v
	}
	raw := mb.p.get(spec)
	if raw == nil && !mb.p.dry {
		raw = make([]byte, 4*graph.NumElements(shape))
	}
	v, err := mb.b.Initializer(&graph.Tensor{Name: name, DType: graph.Float, Dims: shape, Raw: raw})
	if err != nil {
		mb.p.err.Other = append(mb.p.err.Other, err.Error())
	}
	return v
}

// linearWeight adds an nn.Linear weight (PyTorch [out, in]) transposed to
// [in, out] for MatMul, named name + "_t".
func (mb *modelBuilder) linearWeight(name string, out, in int64) string {
	if mb.p.stream && !mb.p.dry {
		src, _ := mb.p.source(paramSpec{name: name, shape: []int64{out, in}, init: initLinear}, true)
		t := &graph.Tensor{Name: name + "_t", DType: graph.Float, Dims: []int64{in, out}, Source: src,
			Doc: "transpose of " + name + " ([out, in] in PyTorch) to [in, out]"}
		v, err := mb.b.Initializer(t)
		if err != nil {
			mb.p.err.Other = append(mb.p.err.Other, err.Error())
		}
		return v
	}
	raw := mb.p.get(paramSpec{name: name, shape: []int64{out, in}, init: initLinear})
	switch {
	case mb.p.dry:
	case raw == nil:
		raw = make([]byte, 4*out*in)
	default:
		raw = transpose2D(raw, out, in)
	}
	t := &graph.Tensor{Name: name + "_t", DType: graph.Float, Dims: []int64{in, out}, Raw: raw,
		Doc: "transpose of " + name + " ([out, in] in PyTorch) to [in, out]"}
	v, err := mb.b.Initializer(t)
	if err != nil {
		mb.p.err.Other = append(mb.p.err.Other, err.Error())
	}
	return v
}

// linear emits an nn.Linear named name (its PyTorch module path).
func (mb *modelBuilder) linear(name, x string, in, out int64, bias bool) string {
	w := mb.linearWeight(name+".weight", out, in)
	bv := ""
	if bias {
		bv = mb.weight(name+".bias", initZeros, out)
	}
	return ops.Linear(mb.b, name, x, w, bv)
}

// layerNorm emits an nn.LayerNorm with weight and bias at module path name.
func (mb *modelBuilder) layerNorm(name, x string, dim int64) string {
	g := mb.weight(name+".weight", initOnes, dim)
	bias := mb.weight(name+".bias", initZeros, dim)
	return ops.LayerNorm(mb.b, name, x, g, bias, 1e-5)
}
