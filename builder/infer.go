package builder

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Inference is a config reconstructed from a state_dict's names and shapes
// by InferConfig.
type Inference struct {
	// Config holds everything the weights determine; the fields listed in
	// Unknown hold a guess or the x-transformers default.
	Config *Config
	// Unknown lists the keyword arguments the weights cannot determine, as
	// JSON key paths ("attn_layers.heads", "wrapper.max_seq_len"), with the
	// reason and what was written instead.
	Unknown []Unknown
}

// Unknown is a keyword argument InferConfig could not read from the
// weights.
type Unknown struct {
	Key string `json:"key"`
	// Kind is UnknownGuess, UnknownUnseen or UnknownSame.
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// Kinds of Unknown.
const (
	// UnknownGuess: the value written is a guess that changes the model
	// (heads, Encoder or Decoder, max_seq_len, …): check it.
	UnknownGuess = "guess"
	// UnknownUnseen: an option that owns no parameters, left at the
	// x-transformers default: set it if the model was built with it.
	UnknownUnseen = "unseen"
	// UnknownSame: other values give the same model (a layer list spelled
	// another way, an option switched off by another).
	UnknownSame = "same"
)

// UnknownKeys returns the keys of Unknown.
func (in *Inference) UnknownKeys() []string {
	out := make([]string, len(in.Unknown))
	for i, u := range in.Unknown {
		out[i] = u.Key
	}
	return out
}

// invisible lists the AttentionLayers kwargs that own no parameters, so no
// state_dict shows them.
var invisible = []string{
	"alibi_pos_bias", "alibi_num_heads", "rel_pos_max_distance", "dynamic_pos_bias_log_distance",
	"rotary_xpos_scale_base", "residual_attn", "cross_residual_attn", "scale_residual_constant",
	"zero_init_branch_output", "layer_dropout", "cross_attn_tokens_dropout",
	"attn_qk_norm", "attn_qk_norm_groups", "attn_qk_norm_scale", "attn_sparse_topk", "attn_max_attend_past",
	"attn_dropout", "attn_zero_init_output", "ff_swish", "ff_relu_squared", "ff_dropout", "ff_zero_init_output",
}

// InferConfig reconstructs the x-transformers config whose state_dict w
// is: the model kind from the parameter names, and dims, depth and the
// layer layout, vocabulary, GLU, feedforward width, norms, residual gates
// and scales, qk-norm gains, rotary width, memory tokens and key/values,
// position tables and biases, and the other options that own parameters
// from their shapes. What the weights cannot show (heads when no tensor
// splits the attention width, Encoder or Decoder, options without
// parameters such as ALiBi or the qk-norm scale, max_seq_len without a
// position table, the x-transformers release) is listed in Unknown, with a
// guess or the default written in its place. The result is checked: it
// validates and rebuilds exactly w's names and shapes.
func InferConfig(w Weights) (*Inference, error) {
	in := &inferrer{w: w, shapes: map[string][]int64{}}
	for _, n := range w.Names() {
		s, _ := w.Shape(n)
		in.shapes[n] = s
	}
	if len(in.shapes) == 0 {
		return nil, errors.New("builder: infer: the weights hold no tensors")
	}
	cfg, err := in.config()
	if err != nil {
		return nil, err
	}
	if g, ok := in.meanGain(); ok {
		in.guess("x_transformers_version", fmt.Sprintf("the weights do not say which release made them, and with attn_qk_norm_dim_scale 1.9.1 and 1.9.2 compute different logits: set \"1.9.1\" for a checkpoint trained with 1.9.1 (its gains start at √qk_norm_scale, √10 ≈ 3.16 by default; 1.9.2's at 1; these average %.3g)", g))
	} else {
		in.same("x_transformers_version", "1.9.1 and 1.9.2 differ only for attn_qk_norm_dim_scale, which this model does not use")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("builder: infer: the inferred config is invalid (please report it): %w", err)
	}
	if _, err := Build(cfg, w, "(weights)", Options{}); err != nil {
		var we *WeightsError
		if errors.As(err, &we) {
			return nil, fmt.Errorf("builder: infer: these weights have a structure the inference does not know (please report it): %w", err)
		}
		var ue *UnsupportedError
		if !errors.As(err, &ue) {
			return nil, fmt.Errorf("builder: infer: %w", err)
		}
	}
	sort.SliceStable(in.unknowns, func(i, j int) bool { return in.unknowns[i].Key < in.unknowns[j].Key })
	return &Inference{Config: cfg, Unknown: in.unknowns}, nil
}

type inferrer struct {
	w        Weights
	shapes   map[string][]int64
	unknowns []Unknown
}

func (in *inferrer) add(key, kind, reason string) {
	for _, u := range in.unknowns {
		if u.Key == key {
			return
		}
	}
	in.unknowns = append(in.unknowns, Unknown{key, kind, reason})
}

func (in *inferrer) guess(key, reason string)  { in.add(key, UnknownGuess, reason) }
func (in *inferrer) unseen(key, reason string) { in.add(key, UnknownUnseen, reason) }
func (in *inferrer) same(key, reason string)   { in.add(key, UnknownSame, reason) }

func (in *inferrer) has(name string) bool { _, ok := in.shapes[name]; return ok }

func (in *inferrer) shape(name string) []int64 { return in.shapes[name] }

// dim returns axis i of tensor name, or 0.
func (in *inferrer) dim(name string, i int) int {
	s := in.shapes[name]
	if i < 0 {
		i += len(s)
	}
	if i < 0 || i >= len(s) {
		return 0
	}
	return int(s[i])
}

// meanGain returns the mean of every qk-norm dim-scale gain, and whether
// there are any.
func (in *inferrer) meanGain() (float64, bool) {
	sum, n := 0.0, 0
	for name := range in.shapes {
		if strings.HasSuffix(name, ".qk_norm_q_scale") || strings.HasSuffix(name, ".qk_norm_k_scale") {
			v, err := in.w.Float32(name)
			if err != nil {
				continue
			}
			for _, x := range v {
				sum += float64(x)
				n++
			}
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

func (in *inferrer) hasPrefix(prefix string) bool {
	for n := range in.shapes {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

func (in *inferrer) config() (*Config, error) {
	switch {
	case in.has("encoder.token_emb.emb.weight") && in.has("decoder.net.token_emb.emb.weight"):
		return in.xtransformer()
	case in.has("patch_to_embedding.1.weight"):
		return in.vit()
	case in.has("token_emb.emb.weight"):
		w, l, err := in.transformerWrapper("", "wrapper.", "attn_layers.", LayersDecoder, false)
		if err != nil {
			return nil, err
		}
		return &Config{Kind: KindTransformerWrapper, Wrapper: w, Layers: l}, nil
	case in.hasPrefix("attn_layers.layers."):
		return in.continuous()
	case in.hasPrefix("layers.0."):
		l, err := in.layers("", "attn_layers.", LayersCrossAttender, false)
		if err != nil {
			return nil, err
		}
		return &Config{Kind: KindCrossAttender, Layers: l}, nil
	}
	return nil, errors.New("builder: infer: cannot tell the model kind from the tensor names: want token_emb.emb.weight (TransformerWrapper), attn_layers.layers.* (ContinuousTransformerWrapper), patch_to_embedding.* (ViTransformerWrapper), encoder.*/decoder.net.* (XTransformer) or layers.* (CrossAttender)")
}

// posEmb reads a wrapper's position embedding under prefix (absolute table
// or scaled sinusoid); it returns max_seq_len (0 when unknown) and whether
// the embedding is the scaled sinusoid, and records the unknowns with the
// key paths of wkey.
func (in *inferrer) posEmb(prefix string, l *AttentionLayers, wkey func(string) string) (maxSeqLen int, useAbs, scaled bool) {
	useAbs = true
	switch {
	case in.has(prefix + "pos_emb.emb.weight"):
		return in.dim(prefix+"pos_emb.emb.weight", 0), true, false
	case in.has(prefix + "pos_emb.scale"):
		scaled = true
	case l.HasPosEmb():
		// rotary or T5 bias switch the table off; use_abs_pos_emb stays
		// unseen
		in.same(wkey("use_abs_pos_emb"), "rotary embeddings and T5 relative bias switch the absolute position table off, so the weights cannot show use_abs_pos_emb")
		in.same(wkey("scaled_sinu_pos_emb"), "see use_abs_pos_emb")
	default:
		useAbs = false
		in.same(wkey("scaled_sinu_pos_emb"), "no position embedding is used, so the weights cannot show which one was asked for")
	}
	in.guess(wkey("max_seq_len"), "no absolute position table to read it from; 1024 written: set the length the model was trained for")
	return 1024, useAbs, scaled
}

func (in *inferrer) transformerWrapper(prefix, wpath, lpath string, typ LayersType, xt bool) (*TransformerWrapperConfig, *AttentionLayers, error) {
	w := DefaultTransformerWrapper()
	wkey := func(k string) string { return wpath + k }
	l, err := in.layers(prefix+"attn_layers.", lpath, typ, xt)
	if err != nil {
		return nil, nil, err
	}
	tok := prefix + "token_emb.emb.weight"
	w.NumTokens = in.dim(tok, 0)
	if e := in.dim(tok, 1); e != l.Dim {
		w.EmbDim = new(e)
	}
	w.MaxSeqLen, w.UseAbsPosEmb, w.ScaledSinuPosEmb = in.posEmb(prefix, l, wkey)
	w.PostEmbNorm = in.has(prefix + "post_emb_norm.weight")
	if in.has(prefix + "memory_tokens") {
		w.NumMemoryTokens = new(in.dim(prefix+"memory_tokens", 0))
	}
	switch {
	case in.has(prefix + "to_logits.weight"):
		if n := in.dim(prefix+"to_logits.weight", 0); n != w.NumTokens {
			w.LogitsDim = new(n)
		}
	case !xt:
		w.TieEmbedding = true
	}
	if !xt {
		in.unseen(wkey("l2norm_embed"), "l2norm_embed owns no parameters")
		in.unseen(wkey("emb_dropout"), "training only")
		in.unseen(wkey("max_mem_len"), "recurrence memories own no parameters")
		in.unseen(wkey("shift_mem_down"), "recurrence memories own no parameters")
		in.unseen(wkey("emb_frac_gradient"), "training only")
	}
	return w, l, nil
}

func (in *inferrer) continuous() (*Config, error) {
	c := DefaultContinuousWrapper()
	l, err := in.layers("attn_layers.", "attn_layers.", LayersDecoder, false)
	if err != nil {
		return nil, err
	}
	wkey := func(k string) string { return "wrapper." + k }
	if in.has("project_in.weight") {
		c.DimIn = new(in.dim("project_in.weight", 1))
	}
	if in.has("project_out.weight") {
		c.DimOut = new(in.dim("project_out.weight", 0))
	}
	c.MaxSeqLen, c.UseAbsPosEmb, c.ScaledSinuPosEmb = in.posEmb("", l, wkey)
	c.PostEmbNorm = in.has("post_emb_norm.weight")
	in.unseen(wkey("emb_dim"), "x-transformers 1.9.2 accepts and ignores it")
	in.unseen(wkey("emb_dropout"), "training only")
	return &Config{Kind: KindContinuousTransformerWrapper, Continuous: c, Layers: l}, nil
}

func (in *inferrer) vit() (*Config, error) {
	v := DefaultViTWrapper()
	l, err := in.layers("attn_layers.", "attn_layers.", LayersEncoder, false)
	if err != nil {
		return nil, err
	}
	patchDim := in.dim("patch_to_embedding.0.weight", 0)
	patches := in.dim("pos_embedding", 1) - 1
	g := isqrt(patches)
	switch p := isqrt(patchDim / 3); {
	case patchDim%3 == 0 && p*p*3 == patchDim:
		v.Channels, v.PatchSize = 3, p
	default:
		v.Channels, v.PatchSize = 1, isqrt(patchDim)
		if q := isqrt(patchDim / 4); patchDim%4 == 0 && q*q*4 == patchDim {
			in.guess("wrapper.channels", fmt.Sprintf("a patch holds %d values: 1 channel of %d×%d or 4 channels of %d×%d; 1 written", patchDim, v.PatchSize, v.PatchSize, q, q))
			in.guess("wrapper.patch_size", "see channels")
			in.guess("wrapper.image_size", "see channels")
		}
	}
	v.ImageSize = g * v.PatchSize
	if in.has("mlp_head.weight") {
		v.NumClasses = new(in.dim("mlp_head.weight", 0))
	}
	v.PostEmbNorm = in.has("post_emb_norm.weight")
	in.unseen("wrapper.dropout", "no parameters")
	in.unseen("wrapper.emb_dropout", "training only")
	return &Config{Kind: KindViTransformerWrapper, ViT: v, Layers: l}, nil
}

func (in *inferrer) xtransformer() (*Config, error) {
	x := DefaultXTransformer()
	enc, el, err := in.transformerWrapper("encoder.", "wrapper.enc_", "wrapper.enc_", LayersEncoder, true)
	if err != nil {
		return nil, err
	}
	dec, dl, err := in.transformerWrapper("decoder.net.", "wrapper.dec_", "wrapper.dec_", LayersDecoder, true)
	if err != nil {
		return nil, err
	}
	x.Dim = el.Dim
	side := func(s *XTransformerSide, w *TransformerWrapperConfig, l *AttentionLayers) {
		s.NumTokens, s.MaxSeqLen = w.NumTokens, w.MaxSeqLen
		s.NumMemoryTokens, s.ScaledSinuPosEmb, s.UseAbsPosEmb = w.NumMemoryTokens, w.ScaledSinuPosEmb, w.UseAbsPosEmb
		l.Type, l.Dim = "", 0
		s.Layers = *l
	}
	side(&x.Enc, enc, el)
	side(&x.Dec, dec, dl)
	x.Dec.Layers.CrossAttendArg = nil // XTransformer sets it
	x.Dec.Layers.Type, x.Enc.Layers.Type = LayersDecoder, LayersEncoder
	x.Dec.NumMemoryTokens = nil
	if in.sameValues("encoder.token_emb.emb.weight", "decoder.net.token_emb.emb.weight") {
		x.TieTokenEmb = true
		in.guess("wrapper.tie_token_emb", "the encoder and decoder token embeddings are equal, so tie_token_emb=true was written; untied embeddings that happen to be equal look the same")
	}
	if x.Enc.Layers.ScaleResidual || x.Dec.Layers.ScaleResidual {
		in.guess("wrapper.deepnorm", "XTransformer's deepnorm sets scale_residual and residual constants, which look like scale_residual alone in the weights")
		for _, s := range []string{"enc_", "dec_"} {
			in.guess("wrapper."+s+"scale_residual", "see deepnorm")
		}
	}
	for _, k := range []string{"ignore_index", "pad_value", "cross_attn_tokens_dropout", "enc_emb_dropout", "dec_emb_dropout"} {
		in.unseen("wrapper."+k, "training or generation only")
	}
	return &Config{Kind: KindXTransformer, XTransformer: x}, nil
}

func (in *inferrer) sameValues(a, b string) bool {
	if !slices.Equal(in.shape(a), in.shape(b)) {
		return false
	}
	va, err1 := in.w.Float32(a)
	vb, err2 := in.w.Float32(b)
	return err1 == nil && err2 == nil && slices.Equal(va, vb)
}

var layerIndex = regexp.MustCompile(`^layers\.(\d+)\.`)

// layerInfo is what one entry of AttentionLayers.layers shows.
type layerInfo struct {
	attn    bool   // an Attention block (self or cross)
	block   string // the block's module path ("…layers.3.1" or "…layers.3.1.fn")
	wrapped int    // how many .fn wrappers (ShiftTokens, Scale) are around the block
}

// layers infers AttentionLayers under prefix (its parameter names) with
// kwarg key paths under lpath ("attn_layers." or "wrapper.enc_").
func (in *inferrer) layers(prefix, lpath string, typ LayersType, xt bool) (*AttentionLayers, error) {
	key := func(k string) string { return lpath + k }
	l := DefaultAttentionLayers()
	l.Type = typ
	n := -1
	for name := range in.shapes {
		if m := layerIndex.FindStringSubmatch(strings.TrimPrefix(name, prefix)); m != nil && strings.HasPrefix(name, prefix) {
			i, _ := strconv.Atoi(m[1])
			n = max(n, i)
		}
	}
	if n < 0 {
		return nil, fmt.Errorf("builder: infer: no layers under %q", prefix+"layers.")
	}
	infos := make([]layerInfo, n+1)
	for i := range infos {
		p := fmt.Sprintf("%slayers.%d.1", prefix, i)
		for in.hasPrefix(p + ".fn.") {
			p += ".fn"
			infos[i].wrapped++
		}
		infos[i].block = p
		infos[i].attn = in.has(p + ".to_q.weight")
		if !infos[i].attn && !in.hasPrefix(p+".ff.") {
			return nil, fmt.Errorf("builder: infer: %slayers.%d holds neither attention (to_q) nor a feedforward (ff.*)", prefix, i)
		}
	}
	var first *layerInfo
	for i := range infos {
		if infos[i].attn {
			first = &infos[i]
			break
		}
	}
	if first == nil {
		return nil, fmt.Errorf("builder: infer: %slayers.* holds no attention layer", prefix)
	}
	q := first.block + ".to_q.weight"
	l.Dim = in.dim(q, 1)

	// macaron: Scale(0.5, feedforward) wraps every feedforward in one more
	// .fn than the attention layers have (ShiftTokens wraps both)
	ffMin, attnMax := math.MaxInt, 0
	for _, li := range infos {
		if li.attn {
			attnMax = max(attnMax, li.wrapped)
		} else {
			ffMin = min(ffMin, li.wrapped)
		}
	}
	l.Macaron = ffMin != math.MaxInt && ffMin > attnMax
	// layout, depth, cross-attention
	in.layout(l, infos, typ, xt, key)
	// token shifting: ShiftTokens wraps a block in .fn; macaron's Scale
	// wraps feedforwards in .fn too
	shifts := make([]int, len(infos))
	shifted := false
	for i, li := range infos {
		w := li.wrapped
		if !li.attn && l.Macaron {
			w-- // Scale(0.5, feedforward)
		}
		if w > 0 {
			shifts[i], shifted = 1, true
		}
	}
	if shifted {
		all := true
		for _, s := range shifts {
			all = all && s == 1
		}
		if all {
			l.ShiftTokens = IntOrTuple{Int: 1}
		} else {
			l.ShiftTokens = IntOrTuple{Tuple: shifts}
		}
		in.guess(key("shift_tokens"), "the weights show which layers shift tokens, not by how much; 1 written for each")
	}

	// norms and residuals, from the first layer
	l0 := fmt.Sprintf("%slayers.0", prefix)
	normAt := func(i int) string {
		for _, j := range []int{0, 1, 2} {
			p := fmt.Sprintf("%s.0.%d", fmt.Sprintf("%slayers.%d", prefix, i), j)
			if in.has(p+".weight") || in.has(p+".g") {
				return p
			}
		}
		return ""
	}
	l.PreNorm = in.hasPrefix(l0 + ".0.0.")
	l.SandwichNorm = in.hasPrefix(l0 + ".0.1.")
	for i := range infos {
		np := normAt(i)
		if np == "" {
			continue
		}
		if in.has(np + ".g") {
			if in.dim(np+".g", 0) == 1 && l.Dim != 1 {
				l.UseScalenorm = true
			} else {
				l.UseRMSNorm = true
			}
		}
		break
	}
	l.GateResidual = in.has(l0 + ".2.gru.weight_ih")
	l.ScaleResidual = in.has(l0 + ".2.residual_scale")
	if !l.PreNorm && l.ScaleResidual && !xt {
		in.guess(key("deepnorm"), "deepnorm is post-norm with scale_residual and a residual constant of (2·depth)^¼; the weights show only the first two")
		in.guess(key("scale_residual"), "see deepnorm")
		in.guess(key("pre_norm"), "see deepnorm")
	}

	in.attention(l, prefix, first.block, key)
	in.feedForward(l, infos, key)
	for _, k := range invisible {
		switch {
		case k == "attn_qk_norm" && l.Attn.QKNormDimScale,
			(k == "alibi_pos_bias" || k == "alibi_num_heads") && l.AlibiLearned:
			continue // the gains or the learned slopes show it
		}
		in.unseen(key(k), "owns no parameters, so the weights cannot show it")
	}
	switch {
	case typ == LayersDecoder && !xt:
		in.guess(key("type"), "Encoder and Decoder (causal or not) have the same weights; Decoder written")
	case typ == LayersCrossAttender:
		in.unseen(key("causal"), "causal self-attention masking owns no parameters")
	}
	if l.RotaryXPos && typ != LayersCrossAttender {
		l.Type = LayersDecoder
	}
	return l, nil
}

// layout finds depth, the layer types and macaron: the default block
// (self-attention, cross-attention, feedforward) repeated, else a
// sandwich_coef or par_ratio layout, else custom_layers.
func (in *inferrer) layout(l *AttentionLayers, infos []layerInfo, typ LayersType, xt bool, key func(string) string) {
	obs := make([]bool, len(infos)) // true = attention
	for i, li := range infos {
		obs[i] = li.attn
	}
	matches := func(c *AttentionLayers) bool {
		t := c.LayerTypes()
		if len(t) != len(obs) {
			return false
		}
		for i, x := range t {
			if (x != LayerFeedForward) != obs[i] {
				return false
			}
		}
		return true
	}
	type variant struct{ cross, only bool }
	var variants []variant
	switch {
	case typ == LayersCrossAttender:
		variants = []variant{{true, true}}
	case xt && typ == LayersDecoder:
		variants = []variant{{true, false}, {true, true}}
	case xt:
		variants = []variant{{false, false}}
	default:
		variants = []variant{{false, false}, {true, false}}
	}
	try := func(set func(c *AttentionLayers)) bool {
		for _, v := range variants {
			c := l.clone()
			c.CustomLayers, c.SandwichCoef, c.ParRatio = nil, nil, nil
			if typ != LayersCrossAttender {
				c.CrossAttendArg, c.OnlyCrossArg = nil, nil
				if v.cross {
					c.CrossAttendArg = new(true)
				}
				if v.only {
					c.OnlyCrossArg = new(true)
				}
			}
			set(c)
			if matches(c) {
				*l = *c
				return true
			}
		}
		return false
	}
	n := len(obs)
	found := false
	for d := 1; d <= n && !found; d++ {
		found = try(func(c *AttentionLayers) { c.Depth = d })
	}
	for d := 1; d <= n && !found; d++ {
		for s := 1; s <= d && !found; s++ {
			found = try(func(c *AttentionLayers) { c.Depth, c.SandwichCoef = d, new(s) })
		}
	}
	for d := 1; d <= n && !found; d++ {
		for r := 2; r <= 3*d && !found; r++ {
			found = try(func(c *AttentionLayers) { c.Depth, c.ParRatio = d, new(r) })
		}
	}
	if !found {
		l.Depth = 1
		l.CustomLayers = make([]LayerType, n)
		attn := LayerSelfAttention
		if typ == LayersCrossAttender {
			attn = LayerCrossAttention
		}
		for i, a := range obs {
			l.CustomLayers[i] = LayerFeedForward
			if a {
				l.CustomLayers[i] = attn
			}
		}
		in.guess(key("custom_layers"), "written from the layers found; self- and cross-attention layers have the same weights, so check 'a' against 'c'")
	}
	// The layer list is exact, but depth, custom_layers, sandwich_coef,
	// par_ratio and macaron can spell it in several ways.
	for _, k := range []string{"depth", "custom_layers", "sandwich_coef", "par_ratio", "macaron"} {
		in.same(key(k), "the layer list is exact, but depth, custom_layers, sandwich_coef, par_ratio and macaron can spell it in several ways; the simplest was written")
	}
	if typ != LayersCrossAttender && !xt {
		in.guess(key("cross_attend"), "self- and cross-attention layers have the same weights; the layout decided (set cross_attend if the model reads a context)")
		in.guess(key("only_cross"), "see cross_attend")
	}
	if xt && typ == LayersDecoder {
		in.guess(key("only_cross"), "self- and cross-attention layers have the same weights")
	}
}

// attention reads the Attention kwargs from the block at path.
func (in *inferrer) attention(l *AttentionLayers, prefix, path string, key func(string) string) {
	a := &l.Attn
	qDim := in.dim(path+".to_q.weight", 0)
	kDim := in.dim(path+".to_k.weight", 0)
	a.OneKVHead = kDim < qDim
	a.SharedKV = !in.has(path + ".to_v.weight")
	a.GateValues = in.has(path + ".to_v_gate.weight")
	a.TensorProduct = in.has(path + ".to_r.weight")
	a.TalkingHeads = in.has(path + ".pre_softmax_talking_heads.weight")
	a.HeadScale = in.has(path + ".head_scale_params")
	a.OnAttn = in.has(path + ".to_out.0.weight")
	a.QKNormDimScale = in.has(path + ".qk_norm_q_scale")
	a.QKNorm = a.QKNormDimScale
	if in.has(path + ".mem_k") {
		a.NumMemKV = in.dim(path+".mem_k", 1)
	}

	// heads and dim_head: any tensor that splits the attention width
	heads, dh := 0, 0
	switch {
	case a.NumMemKV > 0:
		heads, dh = in.dim(path+".mem_k", 0), in.dim(path+".mem_k", 2)
	case a.OneKVHead:
		dh = kDim
	case a.QKNormDimScale:
		dh = in.dim(path+".qk_norm_q_scale", 0)
	case a.TalkingHeads:
		heads = in.dim(path+".pre_softmax_talking_heads.weight", 0)
	case a.HeadScale:
		heads = in.dim(path+".head_scale_params", 1)
	case in.has(prefix + "rel_pos.relative_attention_bias.weight"):
		heads = in.dim(prefix+"rel_pos.relative_attention_bias.weight", 1)
	}
	// position biases
	switch {
	case in.has(prefix + "rel_pos.relative_attention_bias.weight"):
		l.RelPosBias = true
		l.RelPosNumBuckets = in.dim(prefix+"rel_pos.relative_attention_bias.weight", 0)
		if l.RelPosNumBuckets > l.RelPosMaxDistance {
			l.RelPosMaxDistance = l.RelPosNumBuckets
		}
	case in.has(prefix + "rel_pos.learned_logslopes"):
		l.AlibiPosBias, l.AlibiLearned = true, true
		if ah := in.dim(prefix+"rel_pos.learned_logslopes", 0); heads == 0 {
			heads = ah // learned slopes with fewer heads crash in 1.9.2
		}
	case in.hasPrefix(prefix + "rel_pos.mlp."):
		l.DynamicPosBias = true
		depth := 0
		for in.hasPrefix(fmt.Sprintf("%srel_pos.mlp.%d.", prefix, depth+1)) {
			depth++
		}
		l.DynamicPosBiasMLPDepth = depth
		l.DynamicPosBiasNorm = in.has(prefix + "rel_pos.mlp.0.1.weight")
		if heads == 0 {
			heads = in.dim(fmt.Sprintf("%srel_pos.mlp.%d.weight", prefix, depth), 0)
		}
	}
	// rotary
	rot := 0
	if in.has(prefix + "rotary_pos_emb.inv_freq") {
		rot = 2 * in.dim(prefix+"rotary_pos_emb.inv_freq", 0)
		if in.has(prefix + "rotary_pos_emb.scale") {
			l.RotaryXPos = true
			in.same(key("rotary_pos_emb"), "rotary_xpos turns rotary embeddings on; rotary_pos_emb=true is implied")
		} else {
			l.RotaryPosEmb = true
		}
	}
	switch {
	case heads > 0 && dh == 0:
		dh = qDim / heads
	case dh > 0 && heads == 0:
		heads = qDim / dh
	case heads == 0:
		// nothing splits the width: take the largest head count ≤ 8 that
		// leaves a valid head size
		for h := min(8, qDim); h >= 1; h-- {
			d := qDim / h
			if qDim%h != 0 || (rot > 0 && d < rot) {
				continue
			}
			heads, dh = h, d
			break
		}
		in.guess(key("heads"), fmt.Sprintf("the attention is %d wide (heads × attn_dim_head) and no tensor splits it; %d × %d written", qDim, heads, dh))
		in.guess(key("attn_dim_head"), "see heads")
		in.guess(key("attn_value_dim_head"), "see heads")
	}
	l.Heads, a.DimHead = heads, dh
	if rot > 0 {
		if def := max(floorDiv(dh, 2), 32); rot != def {
			l.RotaryEmbDimArg = new(rot)
		} else {
			in.same(key("rotary_emb_dim"), fmt.Sprintf("the rotary width %d is also the default max(attn_dim_head // 2, 32), so it is left unset", rot))
		}
	}
	if !a.SharedKV {
		vDim := in.dim(path+".to_v.weight", 0)
		vdh := vDim / max(heads, 1)
		if a.OneKVHead {
			vdh = vDim
		}
		if vdh != dh {
			a.ValueDimHead = new(vdh)
		}
	}
}

// feedForward reads the FeedForward kwargs from the first feedforward.
func (in *inferrer) feedForward(l *AttentionLayers, infos []layerInfo, key func(string) string) {
	var path string
	for _, li := range infos {
		if !li.attn {
			path = li.block
			break
		}
	}
	if path == "" {
		in.same(key("ff_mult"), "no feedforward layer")
		return
	}
	f := &l.FF
	inner := 0
	if in.has(path + ".ff.0.proj.weight") {
		f.GLU = true
		inner = in.dim(path+".ff.0.proj.weight", 0) / 2
	} else {
		inner = in.dim(path+".ff.0.0.weight", 0)
	}
	f.NoBias = !in.has(path + ".ff.3.bias")
	f.PostActLN = in.has(path + ".ff.1.weight")
	f.Mult = float64(inner) / float64(l.Dim)
	for int(float64(l.Dim)*f.Mult) < inner {
		f.Mult = math.Nextafter(f.Mult, math.Inf(1))
	}
	if out := in.dim(path+".ff.3.weight", 0); out != l.Dim {
		f.DimOut = new(out)
	}
	if f.Mult != 4 && inner%l.Dim != 0 {
		in.same(key("ff_mult"), fmt.Sprintf("the feedforward is %d wide for dim %d: ff_mult %g gives it, and so may other values", inner, l.Dim, f.Mult))
	}
}

// isqrt returns ⌊√n⌋.
func isqrt(n int) int {
	if n <= 0 {
		return 0
	}
	r := int(math.Sqrt(float64(n)))
	for r*r > n {
		r--
	}
	for (r+1)*(r+1) <= n {
		r++
	}
	return r
}
