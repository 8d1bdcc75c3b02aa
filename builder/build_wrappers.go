package builder

import (
	"fmt"
	"math"
	"strings"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
)

// maxSeqLen returns the longest sequence the model accepts (the absolute
// position table's length), or 0 when it has no such limit.
func (c *Config) maxSeqLen() int {
	switch c.Kind {
	case KindTransformerWrapper:
		if c.Wrapper != nil {
			return c.Wrapper.MaxSeqLen
		}
	case KindContinuousTransformerWrapper:
		if c.Continuous != nil {
			return c.Continuous.MaxSeqLen
		}
	case KindXTransformer:
		if c.XTransformer != nil {
			return min(c.XTransformer.Enc.MaxSeqLen, c.XTransformer.Dec.MaxSeqLen)
		}
	}
	return 0
}

// model emits the whole graph for the config's kind.
func (mb *modelBuilder) model() (*graph.Graph, error) {
	cfg := mb.cfg
	switch cfg.Kind {
	case KindTransformerWrapper:
		if cfg.NAR != nil {
			mb.nonAutoregressive()
			break
		}
		x := mb.input(InputTokens, graph.Int64, graph.Sym("batch"), graph.Sym("seq"))
		if mb.opts.KVCache {
			mb.kv = mb.cacheInputs(cfg)
		}
		mask := ""
		if mb.kv == nil && mb.wantMask(InputMask, cfg.Layers.Type == LayersEncoder) {
			mask = mb.input(InputMask, graph.Bool, graph.Sym("batch"), graph.Sym("seq"))
		}
		out := mb.transformerWrapper("", cfg, x, mask, mb.contextInputs(cfg.Layers), mb.opts.ReturnEmbeddings)
		name := OutputLogits
		if mb.opts.ReturnEmbeddings {
			name = OutputEmbeddings
		}
		mb.output(name, out, graph.Sym("batch"), graph.Sym("seq"), graph.Fixed(mb.lastDim(cfg, mb.opts.ReturnEmbeddings)))
		if mb.kv != nil {
			mb.cacheOutputs()
		}
	case KindContinuousTransformerWrapper:
		c := cfg.Continuous
		x := mb.input(InputTokens, graph.Float, graph.Sym("batch"), graph.Sym("seq"), graph.Fixed(int64(derefOr(c.DimIn, cfg.Dim()))))
		if mb.opts.KVCache {
			mb.kv = mb.cacheInputs(cfg)
		}
		mask := ""
		if mb.kv == nil && mb.wantMask(InputMask, true) {
			mask = mb.input(InputMask, graph.Bool, graph.Sym("batch"), graph.Sym("seq"))
		}
		out := mb.continuousWrapper(x, mask)
		name := OutputOut
		if mb.opts.ReturnEmbeddings {
			name = OutputEmbeddings
		}
		mb.output(name, out, graph.Sym("batch"), graph.Sym("seq"), graph.Fixed(mb.lastDim(cfg, mb.opts.ReturnEmbeddings)))
		if mb.kv != nil {
			mb.cacheOutputs()
		}
	case KindViTransformerWrapper:
		v := cfg.ViT
		img := mb.input(InputImage, graph.Float, graph.Sym("batch"), graph.Fixed(int64(v.Channels)), graph.Fixed(int64(v.ImageSize)), graph.Fixed(int64(v.ImageSize)))
		out := mb.vit(img)
		mb.output(OutputLogits, out, graph.Sym("batch"), graph.Fixed(int64(cfg.OutputDim())))
	case KindXTransformer:
		if mb.opts.Part != PartWhole {
			mb.xtransformerPart()
			break
		}
		src := mb.input(InputSource, graph.Int64, graph.Sym("batch"), graph.Sym("src_seq"))
		tgt := mb.input(InputTarget, graph.Int64, graph.Sym("batch"), graph.Sym("tgt_seq"))
		mask := ""
		if mb.wantMask(InputSourceMask, true) {
			mask = mb.input(InputSourceMask, graph.Bool, graph.Sym("batch"), graph.Sym("src_seq"))
		}
		enc := mb.transformerWrapper("encoder.", cfg.XTransformer.EncoderConfig(), src, mask, layerContext{}, true)
		dcfg := cfg.XTransformer.DecoderConfig()
		out := mb.transformerWrapper("decoder.net.", dcfg, tgt, "", layerContext{context: enc, contextMask: mask}, false)
		mb.output(OutputLogits, out, graph.Sym("batch"), graph.Sym("tgt_seq"), graph.Fixed(int64(dcfg.OutputDim())))
	case KindCrossAttender:
		dim := graph.Fixed(int64(cfg.Dim()))
		x := mb.input(InputTokens, graph.Float, graph.Sym("batch"), graph.Sym("seq"), dim)
		mask := ""
		if mb.wantMask(InputMask, false) {
			mask = mb.input(InputMask, graph.Bool, graph.Sym("batch"), graph.Sym("seq"))
		}
		out := mb.attentionLayers("", cfg.Layers, x, mask, mb.contextInputs(cfg.Layers))
		mb.output(OutputOut, out, graph.Sym("batch"), graph.Sym("seq"), dim)
	default:
		return nil, &UnsupportedError{Options: []string{fmt.Sprintf("kind %q", cfg.Kind)}}
	}
	name := mb.opts.Name
	if name == "" {
		name = string(cfg.Kind)
		if cfg.Layers != nil {
			name = fmt.Sprintf("%s(%s)", cfg.Kind, cfg.Layers.Type)
		}
	}
	return &graph.Graph{
		Name:         name,
		Inputs:       mb.inputs,
		Outputs:      mb.outputs,
		Initializers: mb.b.Initializers(),
		Nodes:        mb.b.Nodes(),
	}, nil
}

// crossInputs are the cross-attention keys and values an XTransformer
// decoder part takes instead of the context.
type crossInputs struct {
	keys, values []string
	next         int
}

// decoderCrossLayers returns the module paths of the decoder's
// cross-attention blocks (the Attention modules), in order.
func decoderCrossLayers(dec *AttentionLayers) []string {
	var paths []string
	for i, t := range dec.LayerTypes() {
		if t != LayerCrossAttention {
			continue
		}
		block := fmt.Sprintf("decoder.net.attn_layers.layers.%d.1", i)
		if len(dec.TokenShifts(i)) > 0 {
			block += ".fn"
		}
		paths = append(paths, block)
	}
	return paths
}

// xtransformerPart emits the encoder or the decoder part of an
// XTransformer (Options.Part).
func (mb *modelBuilder) xtransformerPart() {
	cfg := mb.cfg
	x := cfg.XTransformer
	dcfg := x.DecoderConfig()
	dl := dcfg.Layers
	dim, h := int64(dl.Dim), int64(dl.Heads)
	dh, vdh := int64(dl.DimHead()), int64(dl.ValueDimHead())
	kvHeads := h
	if dl.Attn.OneKVHead {
		kvHeads = 1
	}
	mask := ""
	withMask := mb.opts.Mask != MaskOff
	crossPaths := decoderCrossLayers(dl)
	if mb.opts.Part == PartEncoder {
		src := mb.input(InputSource, graph.Int64, graph.Sym("batch"), graph.Sym("src_seq"))
		if withMask {
			mask = mb.input(InputSourceMask, graph.Bool, graph.Sym("batch"), graph.Sym("src_seq"))
		}
		enc := mb.transformerWrapper("encoder.", x.EncoderConfig(), src, mask, layerContext{}, true)
		mb.output(OutputContext, enc, graph.Sym("batch"), graph.Sym("src_seq"), graph.Fixed(dim))
		for i, path := range crossPaths {
			k, v := mb.crossKeysValues(path, dl, enc)
			mb.output(fmt.Sprint(CrossKeyPrefix, i), k, graph.Sym("batch"), graph.Fixed(kvHeads), graph.Sym("src_seq"), graph.Fixed(dh))
			mb.output(fmt.Sprint(CrossValuePrefix, i), v, graph.Sym("batch"), graph.Fixed(kvHeads), graph.Sym("src_seq"), graph.Fixed(vdh))
		}
		// The rest of the decoder lives in the decoder part.
		mb.unusedPrefix("decoder.")
		return
	}
	tgt := mb.input(InputTokens, graph.Int64, graph.Sym("batch"), graph.Sym("seq"))
	if mb.opts.KVCache {
		mb.kv = mb.cacheInputs(dcfg)
	}
	cross := &crossInputs{}
	for i := range crossPaths {
		cross.keys = append(cross.keys, mb.input(fmt.Sprint(CrossKeyPrefix, i), graph.Float, graph.Sym("batch"), graph.Fixed(kvHeads), graph.Sym("src_seq"), graph.Fixed(dh)))
		cross.values = append(cross.values, mb.input(fmt.Sprint(CrossValuePrefix, i), graph.Float, graph.Sym("batch"), graph.Fixed(kvHeads), graph.Sym("src_seq"), graph.Fixed(vdh)))
	}
	if withMask {
		mask = mb.input(InputSourceMask, graph.Bool, graph.Sym("batch"), graph.Sym("src_seq"))
	}
	mb.crossKV = cross
	ctx := layerContext{contextMask: mask}
	if len(crossPaths) > 0 {
		ctx.context = cross.keys[0] // the context's length is its axis 2 (crossSite)
	}
	out := mb.transformerWrapper("decoder.net.", dcfg, tgt, "", ctx, false)
	mb.output(OutputLogits, out, graph.Sym("batch"), graph.Sym("seq"), graph.Fixed(int64(dcfg.OutputDim())))
	if mb.kv != nil {
		mb.cacheOutputs()
	}
	mb.unusedPrefix("encoder.")
	for _, path := range crossPaths {
		// Applied to the context by the encoder part.
		mb.unused(path+".to_k.weight", int64(kvHeads*dh), dim)
		if !dl.Attn.SharedKV {
			mb.unused(path+".to_v.weight", int64(kvHeads*vdh), dim)
		}
	}
}

// crossKeysValues emits the keys and values a cross-attention layer at path takes
// from the context: [batch, kv heads, context_seq, dim_head], before any
// qk-norm (which the attention applies).
func (mb *modelBuilder) crossKeysValues(path string, l *AttentionLayers, context string) (string, string) {
	b, a := mb.b, &l.Attn
	dim, h := int64(l.Dim), int64(l.Heads)
	kDim, vDim := h*int64(l.DimHead()), h*int64(l.ValueDimHead())
	if a.OneKVHead {
		kDim, vDim = int64(l.DimHead()), int64(l.ValueDimHead())
	}
	k := mb.linear(path+".to_k", context, dim, kDim, false)
	v := k
	if !a.SharedKV {
		v = mb.linear(path+".to_v", context, dim, vDim, false)
	}
	if a.OneKVHead {
		return ops.Unsqueeze(b, path+".k", k, 1), ops.Unsqueeze(b, path+".v", v, 1)
	}
	return ops.SplitHeads(b, path+".k", k, h), ops.SplitHeads(b, path+".v", v, h)
}

// contextInputs declares the cross-attention inputs "context" and
// "context_mask" when the layers cross-attend.
func (mb *modelBuilder) contextInputs(l *AttentionLayers) layerContext {
	var ctx layerContext
	if !l.CrossAttend() {
		return ctx
	}
	dim := graph.Fixed(int64(l.Dim))
	ctx.context = mb.input(InputContext, graph.Float, graph.Sym("batch"), graph.Sym("context_seq"), dim)
	if mb.wantMask(InputContextMask, true) {
		ctx.contextMask = mb.input(InputContextMask, graph.Bool, graph.Sym("batch"), graph.Sym("context_seq"))
	}
	return ctx
}

// lastDim is the width of a wrapper's output: the model dim for embeddings,
// else its output dim.
func (mb *modelBuilder) lastDim(cfg *Config, embeddings bool) int64 {
	if embeddings {
		return int64(cfg.Dim())
	}
	return int64(cfg.OutputDim())
}

// input declares a graph input.
func (mb *modelBuilder) input(name string, dt graph.DType, dims ...graph.Dim) string {
	mb.b.Reserve(name)
	mb.inputs = append(mb.inputs, graph.ValueInfo{Name: name, DType: dt, Shape: dims})
	return name
}

// output declares value as the graph output called name.
func (mb *modelBuilder) output(name, value string, dims ...graph.Dim) {
	v := mb.b.Op("Identity", name, []string{value})
	mb.outputs = append(mb.outputs, graph.ValueInfo{Name: v, DType: graph.Float, Shape: dims})
}

// wantMask decides whether the model takes the mask input called name.
func (mb *modelBuilder) wantMask(name string, byDefault bool) bool {
	switch mb.opts.Mask {
	case MaskOn:
		return true
	case MaskOff:
		return false
	}
	if mb.cfg.Inputs != nil {
		for _, in := range mb.cfg.Inputs {
			if in.Name == name {
				return true
			}
		}
		return false
	}
	return byDefault
}

// seqLen returns the 1-D length of axis 1 of x.
func (mb *modelBuilder) seqLen(name, x string) string {
	return mb.b.Op("Shape", name, []string{x}, graph.AInt("start", 1), graph.AInt("end", 2))
}

// transformerWrapper emits TransformerWrapper.forward(x, mask, context…)
// with its parameters under prefix. It returns the logits, or the
// final-norm embeddings when embeddings is set.
func (mb *modelBuilder) transformerWrapper(prefix string, cfg *Config, tokens, mask string, ctx layerContext, embeddings bool) string {
	b, w, l := mb.b, cfg.Wrapper, cfg.Layers
	dim, emb := int64(cfg.Dim()), int64(cfg.EmbDim())

	tokEmb := mb.weight(prefix+"token_emb.emb.weight", initNormal, int64(w.NumTokens), emb)
	x := b.Op("Gather", prefix+"token_emb", []string{tokEmb, tokens}, graph.AInt("axis", 0))
	if w.L2NormEmbed {
		x = mb.l2norm(prefix+"token_emb.l2norm", x, 1)
	}
	offset := ""
	if mb.kv != nil {
		offset = mb.kv.pastTokens
	}
	if pos := mb.posEmb(prefix, cfg.PosEmb(), tokens, emb, w.MaxSeqLen, w.L2NormEmbed, offset); pos != "" {
		x = b.Op("Add", prefix+"embed", []string{x, pos})
	}
	if mb.sumEmbeds != "" {
		x = b.Op("Add", prefix+"sum_embeds", []string{x, mb.sumEmbeds})
	}
	if w.PostEmbNorm {
		x = mb.layerNorm(prefix+"post_emb_norm", x, emb)
	}
	if emb != dim {
		x = mb.linear(prefix+"project_emb", x, emb, dim, true)
	}
	numMem := int64(cfg.NumMemoryTokens())
	memCount := b.Ints1D("const.num_memory_tokens", numMem) // memory tokens prepended by this call
	if numMem > 0 {
		memTok := mb.weight(prefix+"memory_tokens", initNormal, numMem, dim)
		if mb.kv != nil {
			// Memory tokens enter once, with the prompt; later steps find
			// them in the cache.
			memCount = mb.kv.memCount
			memTok = b.Op("Slice", prefix+"memory_tokens.this_call", []string{memTok, b.Ints1D("const.zero_1d", 0), memCount, b.Ints1D("const.zero_1d", 0)})
		}
		batch := b.Op("Shape", prefix+"batch", []string{tokens}, graph.AInt("start", 0), graph.AInt("end", 1))
		shape := b.Op("Concat", prefix+"memory_tokens.shape", []string{batch, memCount, b.Ints1D("const.dim_1d", dim)}, graph.AInt("axis", 0))
		mem := b.Op("Expand", prefix+"memory_tokens.expand", []string{memTok, shape})
		x = b.Op("Concat", prefix+"with_memory_tokens", []string{mem, x}, graph.AInt("axis", 1))
		if mask != "" {
			mask = mb.padMaskLeft(prefix+"mask.with_memory_tokens", mask, numMem)
		}
	}
	x = mb.attentionLayers(prefix+"attn_layers.", l, x, mask, ctx)
	x = mb.layerNorm(prefix+"norm", x, dim)
	if numMem > 0 {
		x = b.Op("Slice", prefix+"drop_memory_tokens", []string{x, memCount, b.Ints1D("const.int_max", math.MaxInt64), b.Ints1D("const.one_1d", 1)})
	}
	if mb.embeddings != nil {
		*mb.embeddings = x
	}
	if embeddings {
		if prefix != "" && prefix != "net." && !w.TieEmbedding {
			// XTransformer's encoder owns an unused to_logits; accept it.
			mb.unused(prefix+"to_logits.weight", int64(cfg.OutputDim()), dim)
			mb.unused(prefix+"to_logits.bias", int64(cfg.OutputDim()))
		}
		return x
	}
	if w.TieEmbedding {
		// 1.9.2 fails here (TokenEmbedding has no .weight); we do what the
		// option means: logits = x · token_emb.emb.weightᵀ.
		t := ops.Transpose(b, prefix+"to_logits.tied_weight", tokEmb, 1, 0)
		return b.Op("MatMul", prefix+"to_logits", []string{x, t})
	}
	return mb.linear(prefix+"to_logits", x, dim, int64(cfg.OutputDim()), true)
}

// padMaskLeft prepends n true columns to a [batch, seq] bool mask.
func (mb *modelBuilder) padMaskLeft(name, mask string, n int64) string {
	b := mb.b
	batch := b.Op("Shape", name+".batch", []string{mask}, graph.AInt("start", 0), graph.AInt("end", 1))
	shape := b.Op("Concat", name+".shape", []string{batch, b.Ints1D("const.pad_cols", n)}, graph.AInt("axis", 0))
	ones := b.Op("Expand", name+".ones", []string{b.Const("const.true", graph.BoolTensor("", []int64{1, 1}, []bool{true})), shape})
	return b.Op("Concat", name, []string{ones, mask}, graph.AInt("axis", 1))
}

// posEmb emits the wrapper's position embedding for a sequence shaped like
// x (axis 1), or "" when there is none.
//
// offset, a scalar int64 or "", is the position of the first element (a
// KV-cache step continues where the cache ends).
func (mb *modelBuilder) posEmb(prefix string, kind PosEmbKind, x string, dim int64, maxSeqLen int, l2 bool, offset string) string {
	b := mb.b
	switch kind {
	case PosEmbAbsolute:
		start, end := b.Ints1D("const.zero_1d", 0), mb.seqLen(prefix+"pos_emb.seq_len", x)
		if offset != "" {
			start = ops.Unsqueeze(b, prefix+"pos_emb.start", offset, 0)
			end = b.Op("Add", prefix+"pos_emb.end", []string{end, start})
		}
		table := mb.weight(prefix+"pos_emb.emb.weight", initNormal, int64(maxSeqLen), dim)
		pos := b.Op("Slice", prefix+"pos_emb", []string{table, start, end, b.Ints1D("const.zero_1d", 0)})
		if l2 {
			return mb.l2norm(prefix+"pos_emb.l2norm", pos, 1)
		}
		return b.Op("Mul", prefix+"pos_emb.scaled", []string{pos, b.ConstFloat("const.pos_scale", nil, float32(math.Pow(float64(dim), -0.5)))})
	case PosEmbScaledSinusoidal:
		// ScaledSinusoidalEmbedding: cat(sin(p·f), cos(p·f)) · scale with
		// f = 10000^(-i/half).
		half := dim / 2
		inv := make([]float32, half)
		for i := range inv {
			inv[i] = float32(math.Pow(10000, -float64(float32(i)/float32(half))))
		}
		scale := mb.weightValue(prefix+"pos_emb.scale", float32(math.Pow(float64(dim), -0.5)), 1)
		pos := mb.positions(prefix+"pos_emb.positions", x, offset)
		args := b.Op("Mul", prefix+"pos_emb.args", []string{ops.Unsqueeze(b, prefix+"pos_emb.positions_col", pos, 1), b.ConstFloat("const.sinu_inv_freq", []int64{1, half}, inv...)})
		sc := b.Op("Concat", prefix+"pos_emb.sincos", []string{b.Op("Sin", prefix+"pos_emb.sin", []string{args}), b.Op("Cos", prefix+"pos_emb.cos", []string{args})}, graph.AInt("axis", -1))
		return b.Op("Mul", prefix+"pos_emb", []string{sc, scale})
	}
	return ""
}

// positions returns the float32 positions offset … offset+n-1 of axis 1
// of x (offset "" means 0).
func (mb *modelBuilder) positions(name, x, offset string) string {
	b := mb.b
	n := b.Op("Squeeze", name+".n", []string{mb.seqLen(name+".seq_len", x), b.Ints1D("const.zero_1d", 0)})
	r := b.Op("Range", name+".range", []string{b.ConstInt64("const.zero", nil, 0), n, b.ConstInt64("const.one_i64", nil, 1)})
	if offset != "" {
		r = b.Op("Add", name+".offset", []string{r, offset})
	}
	return b.Op("Cast", name, []string{r}, graph.AInt("to", int64(graph.Float)))
}

// continuousWrapper emits ContinuousTransformerWrapper.forward(x, mask).
func (mb *modelBuilder) continuousWrapper(x, mask string) string {
	cfg := mb.cfg
	c, dim := cfg.Continuous, int64(cfg.Dim())
	if c.DimIn != nil {
		x = mb.linear("project_in", x, int64(*c.DimIn), dim, true)
	}
	offset := ""
	if mb.kv != nil {
		offset = mb.kv.pastTokens
	}
	if pos := mb.posEmb("", cfg.PosEmb(), x, dim, c.MaxSeqLen, false, offset); pos != "" {
		x = mb.b.Op("Add", "embed", []string{x, pos})
	}
	if c.PostEmbNorm {
		x = mb.layerNorm("post_emb_norm", x, dim)
	}
	x = mb.attentionLayers("attn_layers.", cfg.Layers, x, mask, layerContext{})
	x = mb.layerNorm("norm", x, dim)
	if c.DimOut != nil && !mb.opts.ReturnEmbeddings {
		x = mb.linear("project_out", x, dim, int64(*c.DimOut), true)
	}
	return x
}

// vit emits ViTransformerWrapper.forward(img).
func (mb *modelBuilder) vit(img string) string {
	cfg, b := mb.cfg, mb.b
	v, dim := cfg.ViT, int64(cfg.Dim())
	p, c := int64(v.PatchSize), int64(v.Channels)
	g := int64(v.ImageSize / v.PatchSize)
	patchDim := c * p * p
	// 'b c (h p1) (w p2) -> b (h w) (p1 p2 c)'
	x := ops.Reshape(b, "patches.split", img, 0, c, g, p, g, p)
	x = ops.Transpose(b, "patches.order", x, 0, 2, 4, 3, 5, 1)
	x = ops.Reshape(b, "patches", x, 0, g*g, patchDim)
	x = mb.layerNorm("patch_to_embedding.0", x, patchDim)
	x = mb.linear("patch_to_embedding.1", x, patchDim, dim, true)
	x = mb.layerNorm("patch_to_embedding.2", x, dim)
	pos := mb.weight("pos_embedding", initNormal, 1, g*g+1, dim)
	pos = b.Op("Slice", "pos_embedding.used", []string{pos, b.Ints1D("const.zero_1d", 0), b.Ints1D("const.num_patches", g*g), b.Ints1D("const.one_1d", 1)})
	x = b.Op("Add", "embed", []string{x, pos})
	if v.PostEmbNorm {
		x = mb.layerNorm("post_emb_norm", x, dim)
	}
	x = mb.attentionLayers("attn_layers.", cfg.Layers, x, "", layerContext{})
	x = mb.layerNorm("norm", x, dim)
	// x-transformers 1.9.2 mean-pools even without num_classes: its
	// mlp_head is then nn.Identity, which counts as existing.
	x = ops.ReduceMean(b, "pool", x, false, 1)
	if v.NumClasses != nil {
		x = mb.linear("mlp_head", x, dim, int64(*v.NumClasses), true)
	}
	return x
}

// unused records a parameter the source may hold that the exported graph
// does not need (for example XTransformer's encoder.to_logits).
func (mb *modelBuilder) unused(name string, shape ...int64) {
	if mb.p.dry {
		// Part of the state_dict, though not of the graph.
		mb.p.specs = append(mb.p.specs, paramSpec{name: name, shape: shape})
		return
	}
	if mb.p.random {
		return
	}
	if got, ok := mb.p.src.Shape(name); ok && equalShape(got, shape) {
		mb.p.used[name] = true
	}
}

// unusedPrefix accepts every tensor of the source under prefix as one the
// exported graph does not need (a module 1.9.2 builds but never calls).
func (mb *modelBuilder) unusedPrefix(prefix string) {
	if mb.p.random {
		return
	}
	for _, n := range mb.p.src.Names() {
		if strings.HasPrefix(n, prefix) {
			mb.p.used[n] = true
		}
	}
}
