package builder

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/xt2onnx/xt2onnx/internal/graph"
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

// Value names of the graph inputs and outputs.
const (
	InputTokens  = "x"
	InputMask    = "mask"
	OutputLogits = "logits"
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
}

// UnsupportedError lists the config options a build does not implement yet.
type UnsupportedError struct {
	Options []string // key paths, e.g. "attn_layers.attn_talking_heads"
}

func (e *UnsupportedError) Error() string {
	if len(e.Options) == 1 {
		return fmt.Sprintf("builder: %s is not supported yet", e.Options[0])
	}
	return fmt.Sprintf("builder: these options are not supported yet: %s", strings.Join(e.Options, ", "))
}

// supportedKeys are the non-default config keys the builder implements.
// Inference-only keys (dropouts, initialisation) are always accepted.
var supportedKeys = map[string]bool{
	"attn_layers.heads":                  true,
	"attn_layers.attn_dim_head":          true,
	"attn_layers.attn_qk_norm":           true,
	"attn_layers.attn_qk_norm_groups":    true,
	"attn_layers.attn_qk_norm_scale":     true,
	"attn_layers.attn_qk_norm_dim_scale": true,
	"attn_layers.ff_mult":                true,
	"wrapper.use_abs_pos_emb":            true,
}

// inferenceOnly are kwargs that change training or initialisation only.
var inferenceOnly = []string{
	"dropout", "emb_dropout", "layer_dropout", "emb_frac_gradient", "cross_attn_tokens_dropout",
	"zero_init_output", "zero_init_branch_output", "max_mem_len", "shift_mem_down", "ignore_index", "pad_value",
}

func isInferenceOnly(key string) bool {
	last := key[strings.LastIndex(key, ".")+1:]
	for _, p := range []string{"attn_", "ff_", "enc_", "dec_"} {
		last = strings.TrimPrefix(last, p)
	}
	for _, k := range inferenceOnly {
		if last == k {
			return true
		}
	}
	return false
}

// Unsupported returns the config options that Build does not implement yet.
func Unsupported(cfg *Config) []string {
	var out []string
	if cfg.Kind != KindTransformerWrapper {
		out = append(out, fmt.Sprintf("kind %s", cfg.Kind))
	}
	if cfg.Layers != nil && cfg.Layers.Type == LayersCrossAttender {
		out = append(out, "attn_layers.type CrossAttender")
	}
	for _, k := range cfg.NonDefault() {
		if !supportedKeys[k] && !isInferenceOnly(k) {
			out = append(out, k)
		}
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
	if u := Unsupported(cfg); len(u) > 0 {
		return nil, &UnsupportedError{Options: u}
	}
	if opts.Opset == 0 {
		opts.Opset = DefaultOpset
	}
	if opts.Opset < 17 {
		return nil, fmt.Errorf("builder: opset %d is too old: LayerNormalization needs opset 17 or newer", opts.Opset)
	}
	lib, err := ops.NewLibrary(opts.Opset)
	if err != nil {
		return nil, err
	}
	if sourceName == "" {
		sourceName = "(weights)"
	}
	mb := &modelBuilder{
		cfg:  cfg,
		opts: opts,
		b:    graph.NewGraphBuilder(opts.Opset),
		lib:  lib,
		p:    newParams(w, sourceName),
	}
	g, err := mb.transformerWrapper()
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
		Doc:       fmt.Sprintf("x-transformers %s %s built by xt2onnx", XTransformersVersion, cfg.Kind),
		Graph:     g,
		Functions: mb.b.Functions(),
	}
	if len(m.Functions) > 0 {
		m.Opsets = append(m.Opsets, graph.OpsetImport{Domain: graph.DomainXT, Version: 1})
	}
	m.SetMetadata(MetaConfig, string(cfgJSON))
	m.SetMetadata(MetaXTransformers, XTransformersVersion)
	if cfg.Wrapper != nil {
		m.SetMetadata(MetaMaxSeqLen, fmt.Sprint(cfg.Wrapper.MaxSeqLen))
	}
	return m, nil
}

// modelBuilder carries the state of one Build.
type modelBuilder struct {
	cfg  *Config
	opts Options
	b    *graph.Builder
	lib  *ops.Library
	p    *params
}

// weight adds parameter name (PyTorch shape) as an initializer and returns
// its value name. A missing or misshapen weight is recorded and a zero
// placeholder returned, so that one build reports every problem.
func (mb *modelBuilder) weight(name string, init initKind, shape ...int64) string {
	raw := mb.p.get(paramSpec{name: name, shape: shape, init: init})
	if raw == nil {
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
	raw := mb.p.get(paramSpec{name: name, shape: []int64{out, in}, init: initLinear})
	if raw == nil {
		raw = make([]byte, 4*out*in)
	} else {
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

// transformerWrapper emits TransformerWrapper.forward(x, mask).
func (mb *modelBuilder) transformerWrapper() (*graph.Graph, error) {
	cfg, b := mb.cfg, mb.b
	w, layers := cfg.Wrapper, cfg.Layers
	dim, emb := int64(cfg.Dim()), int64(cfg.EmbDim())

	withMask := false
	switch mb.opts.Mask {
	case MaskOn:
		withMask = true
	case MaskAuto:
		if cfg.Inputs != nil {
			for _, in := range cfg.Inputs {
				withMask = withMask || in.Name == InputMask
			}
		} else {
			withMask = layers.Type == LayersEncoder
		}
	}
	inputs := []graph.ValueInfo{{Name: InputTokens, DType: graph.Int64, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq")},
		Doc: fmt.Sprintf("token ids in [0, %d), int64 [batch, seq], seq ≤ %d", w.NumTokens, w.MaxSeqLen)}}
	b.Reserve(InputTokens)
	mask := ""
	if withMask {
		mask = InputMask
		b.Reserve(mask)
		inputs = append(inputs, graph.ValueInfo{Name: InputMask, DType: graph.Bool, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq")},
			Doc: "key-padding mask, true = keep"})
	}

	tokEmb := mb.weight("token_emb.emb.weight", initNormal, int64(w.NumTokens), emb)
	x := b.Op("Gather", "token_emb", []string{tokEmb, InputTokens}, graph.AInt("axis", 0))

	seqLen := b.Op("Shape", "seq_len", []string{InputTokens}, graph.AInt("start", 1), graph.AInt("end", 2))
	switch cfg.PosEmb() {
	case PosEmbAbsolute:
		posW := mb.weight("pos_emb.emb.weight", initNormal, int64(w.MaxSeqLen), emb)
		pos := b.Op("Slice", "pos_emb", []string{posW, b.Ints1D("const.zero_1d", 0), seqLen, b.Ints1D("const.zero_1d", 0)})
		pos = b.Op("Mul", "pos_emb.scale", []string{pos, b.ConstFloat("const.pos_scale", nil, float32(math.Pow(float64(emb), -0.5)))})
		x = b.Op("Add", "embed", []string{x, pos})
	case PosEmbNone:
	default:
		return nil, &UnsupportedError{Options: []string{"position embedding " + string(cfg.PosEmb())}}
	}
	if emb != dim {
		return nil, &UnsupportedError{Options: []string{"wrapper.emb_dim"}}
	}

	x = mb.attentionLayers(x, mask, seqLen)
	x = mb.layerNorm("norm", x, dim)
	logits := mb.linear("to_logits", x, dim, int64(cfg.OutputDim()), true)
	logits = b.Op("Identity", OutputLogits, []string{logits})

	name := mb.opts.Name
	if name == "" {
		name = fmt.Sprintf("%s(%s)", cfg.Kind, layers.Type)
	}
	return &graph.Graph{
		Name:         name,
		Inputs:       inputs,
		Outputs:      []graph.ValueInfo{{Name: logits, DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), graph.Sym("seq"), graph.Fixed(int64(cfg.OutputDim()))}}},
		Initializers: b.Initializers(),
		Nodes:        b.Nodes(),
	}, nil
}
