package builder

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xt2onnx/xt2onnx/graph"
)

// NARConfig holds the keyword arguments of x-transformers 1.9.2's
// NonAutoregressiveWrapper except net (the Config it is part of): the JSON
// object "nonautoregressive" of a TransformerWrapper config. MaskID is
// required.
//
// A config with a NARConfig takes the wrapper's whole state_dict: the
// network's tensors under "net.", null_embed and to_self_cond.weight with
// SelfCond, the token critic's under "token_critic.". Build then exports
// the generator (see Options.Part and PartCritic for the critic).
type NARConfig struct {
	MaskID              int     // mask_id (required)
	Steps               int     // steps, default 18
	SelfCond            bool    // self_cond
	SelfCondTrainProb   float64 // self_cond_train_prob, default 0.75 (training only)
	NoReplaceProb       float64 // no_replace_prob, default 0.15 (training only)
	RandomTokenProb     float64 // random_token_prob, default 0.1 (training only)
	Schedule            string  // schedule: "linear" (default) or "cosine"
	CanMaskPrevUnmasked bool    // can_mask_prev_unmasked
	// TokenCritic is token_critic: a TransformerWrapper (kind
	// KindTransformerWrapper) with logits_dim 1, or nil. In JSON an object
	// with its "wrapper" and "attn_layers".
	TokenCritic      *Config
	SelfTokenCritic  bool    // self_token_critic
	CriticLossWeight float64 // critic_loss_weight, default 1 (training only)
}

// DefaultNAR returns the NonAutoregressiveWrapper defaults of
// x-transformers 1.9.2 (the required MaskID is zero).
func DefaultNAR() *NARConfig {
	return &NARConfig{Steps: 18, SelfCondTrainProb: 0.75, NoReplaceProb: 0.15, RandomTokenProb: 0.1, Schedule: "linear", CriticLossWeight: 1}
}

// HasCritic reports whether the wrapper scores its tokens with a critic
// (token_critic or self_token_critic).
func (n *NARConfig) HasCritic() bool { return n != nil && (n.TokenCritic != nil || n.SelfTokenCritic) }

// narSchedules are the schedule names 1.9.2 accepts.
var narSchedules = []string{"linear", "cosine"}

func (n *NARConfig) kwFields() []kwField {
	return []kwField{
		kwReq("mask_id", intKw{&n.MaskID}),
		kwOpt("steps", intKw{&n.Steps}),
		kwOpt("self_cond", boolKw{&n.SelfCond}),
		kwOpt("self_cond_train_prob", floatKw{&n.SelfCondTrainProb}),
		kwOpt("no_replace_prob", floatKw{&n.NoReplaceProb}),
		kwOpt("random_token_prob", floatKw{&n.RandomTokenProb}),
		kwOpt("schedule", stringKw{&n.Schedule}),
		kwOpt("can_mask_prev_unmasked", boolKw{&n.CanMaskPrevUnmasked}),
		kwOpt("token_critic", criticKw{&n.TokenCritic}),
		kwOpt("self_token_critic", boolKw{&n.SelfTokenCritic}),
		kwOpt("critic_loss_weight", floatKw{&n.CriticLossWeight}),
	}
}

// stringKw is a string kwarg.
type stringKw struct{ p *string }

func (k stringKw) decode(raw any) string {
	s, ok := raw.(string)
	if !ok {
		return "expected a string, got " + describeJSON(raw)
	}
	*k.p = s
	return ""
}
func (k stringKw) encode() any { return *k.p }

// criticKw is token_critic: null or a TransformerWrapper config object
// ({"wrapper": …, "attn_layers": …}, "kind" optional).
type criticKw struct{ p **Config }

func (k criticKw) decode(raw any) string {
	if raw == nil {
		*k.p = nil
		return ""
	}
	obj, ok := raw.(*jsonObject)
	if !ok {
		return `expected null or a TransformerWrapper config object {"wrapper": {…}, "attn_layers": {…}}, got ` + describeJSON(raw)
	}
	if kind, has := obj.vals["kind"]; has && kind != string(KindTransformerWrapper) {
		return fmt.Sprintf(`"kind" must be %q (1.9.2's token_critic is a TransformerWrapper), got %s`, KindTransformerWrapper, describeJSON(kind))
	}
	if _, has := obj.vals["nonautoregressive"]; has {
		return `a token critic cannot itself hold "nonautoregressive"`
	}
	o := &jsonObject{keys: []string{"kind"}, vals: map[string]any{"kind": string(KindTransformerWrapper)}, dups: obj.dups}
	for _, key := range obj.keys {
		if key != "kind" {
			o.keys = append(o.keys, key)
		}
		o.vals[key] = obj.vals[key]
	}
	o.vals["kind"] = string(KindTransformerWrapper)
	c, probs := decodeConfig(o)
	if len(probs) > 0 {
		msgs := make([]string, len(probs))
		for i, p := range probs {
			msgs[i] = p.String()
		}
		return strings.Join(msgs, "; ")
	}
	*k.p = c
	return ""
}

func (k criticKw) encode() any {
	c := *k.p
	if c == nil {
		return nil
	}
	o, err := c.encodeJSON()
	if err != nil {
		return nil
	}
	var out orderedObject
	for _, m := range o {
		if m.key == "wrapper" || m.key == "attn_layers" {
			out = append(out, m)
		}
	}
	return out
}

// nar checks the NonAutoregressiveWrapper kwargs of c (set).
func (v *configValidator) nar(c *Config) {
	n := c.NAR
	p := sectionPath("nonautoregressive")
	if c.Kind != KindTransformerWrapper {
		v.add("nonautoregressive", "applies to kind %s only (1.9.2's NonAutoregressiveWrapper wraps a TransformerWrapper), not %s", KindTransformerWrapper, c.Kind)
		return
	}
	if c.Wrapper != nil && (n.MaskID < 0 || n.MaskID >= c.Wrapper.NumTokens) {
		v.add(p("mask_id"), "must be a token of the vocabulary [0, %d), got %d", c.Wrapper.NumTokens, n.MaskID)
	}
	v.positive(p("steps"), n.Steps)
	if !slices.Contains(narSchedules, n.Schedule) {
		v.add(p("schedule"), "%s", unknownValueMessage("schedule", n.Schedule, narSchedules))
	}
	for _, f := range []struct {
		key string
		val float64
	}{{"self_cond_train_prob", n.SelfCondTrainProb}, {"no_replace_prob", n.NoReplaceProb}, {"random_token_prob", n.RandomTokenProb}} {
		if !(f.val >= 0 && f.val <= 1) {
			v.add(p(f.key), "must be a probability between 0 and 1, got %g", f.val)
		}
	}
	if n.SelfTokenCritic && n.TokenCritic != nil {
		v.add(p("self_token_critic"), "cannot be true together with token_critic (1.9.2 asserts not both)")
	}
	if n.SelfCond && c.Layers != nil && c.EmbDim() != c.Dim() {
		v.add(p("self_cond"), "needs emb_dim (%d) equal to attn_layers.dim (%d): 1.9.2's to_self_cond maps the emb_dim-wide null embedding and the dim-wide embeddings of the last step alike", c.EmbDim(), c.Dim())
	}
	if t := n.TokenCritic; t != nil {
		if err := t.Validate(); err != nil {
			v.add(p("token_critic"), "%s", strings.TrimPrefix(err.Error(), "builder: "))
			return
		}
		if t.OutputDim() != 1 {
			v.add(p("token_critic.wrapper.logits_dim"), "must be 1 (1.9.2 reads one score per token), got %d", t.OutputDim())
		}
		if c.Wrapper != nil && t.Wrapper.MaxSeqLen < c.Wrapper.MaxSeqLen {
			v.add(p("token_critic.wrapper.max_seq_len"), "must be at least the net's max_seq_len %d (the critic scores whole sequences), got %d", c.Wrapper.MaxSeqLen, t.Wrapper.MaxSeqLen)
		}
		if c.Wrapper != nil && t.Wrapper.NumTokens < c.Wrapper.NumTokens {
			v.add(p("token_critic.wrapper.num_tokens"), "must be at least the net's num_tokens %d (the critic reads the net's tokens), got %d", c.Wrapper.NumTokens, t.Wrapper.NumTokens)
		}
	}
}

// Names of the NonAutoregressiveWrapper graphs' values.
const (
	// InputSelfCondEmbed is the self-conditioning generator's float input
	// [batch, seq, dim]: the embeddings the previous step returned
	// (1.9.2's last_embed); any values on the first step.
	InputSelfCondEmbed = "self_cond_embed"
	// InputSelfCondNull is its bool input [batch]: true for the rows of
	// the first step, which take the learned null_embed instead of
	// self_cond_embed.
	InputSelfCondNull = "self_cond_null"
	// OutputCritic is the critic part's output [batch, seq]: one score
	// per token (1.9.2's token_critic(seq) with the last axis dropped).
	OutputCritic = "critic"
)

// PartCritic exports the token critic of a NonAutoregressiveWrapper config
// (token_critic, or with self_token_critic 1.9.2's SelfCritic: the net's
// embeddings through token_critic.to_logits): tokens x in, OutputCritic
// out.
const PartCritic Part = "critic"

// narUnsupported lists what Build cannot do with a NonAutoregressiveWrapper
// config.
func narUnsupported(cfg *Config, opts Options) []string {
	var out []string
	switch {
	case cfg.NAR == nil:
		if opts.Part == PartCritic {
			out = append(out, fmt.Sprintf("part %q without a \"nonautoregressive\" config (only a NonAutoregressiveWrapper has a critic)", PartCritic))
		}
		return out
	case opts.Part == PartCritic && !cfg.NAR.HasCritic():
		out = append(out, fmt.Sprintf("part %q: nonautoregressive has neither token_critic nor self_token_critic", PartCritic))
	case opts.Part != PartWhole && opts.Part != PartCritic:
		out = append(out, fmt.Sprintf("part %q of a NonAutoregressiveWrapper (want the whole generator or %q)", opts.Part, PartCritic))
	}
	if opts.KVCache {
		out = append(out, "KV cache for a NonAutoregressiveWrapper (it re-runs the whole sequence at every demasking step)")
	}
	if opts.ReturnEmbeddings {
		out = append(out, "return_embeddings for a NonAutoregressiveWrapper (the self-conditioning generator returns them with the logits)")
	}
	return out
}

// nonAutoregressive emits the graph of a NonAutoregressiveWrapper config:
// the generator (logits, and with self_cond the embeddings too) or, for
// PartCritic, the critic.
func (mb *modelBuilder) nonAutoregressive() {
	cfg, n, b := mb.cfg, mb.cfg.NAR, mb.b
	batch, seq := graph.Sym("batch"), graph.Sym("seq")
	dim := int64(cfg.Dim())
	x := mb.input(InputTokens, graph.Int64, batch, seq)
	if mb.opts.Part == PartCritic {
		var scores string
		if n.SelfTokenCritic {
			emb := mb.transformerWrapper("net.", cfg, x, "", layerContext{}, true)
			scores = mb.linear("token_critic.to_logits", emb, dim, 1, true)
			mb.unused("net.to_logits.weight", int64(cfg.OutputDim()), dim)
			mb.unused("net.to_logits.bias", int64(cfg.OutputDim()))
			mb.unusedPrefix("token_critic.net.") // 1.9.2's state_dict holds net twice
		} else {
			scores = mb.transformerWrapper("token_critic.", n.TokenCritic, x, "", layerContext{}, false)
			mb.unusedPrefix("net.")
		}
		scores = b.Op("Squeeze", "critic.squeeze", []string{scores, b.Ints1D("const.axis2", 2)})
		mb.output(OutputCritic, scores, batch, seq)
		if n.SelfCond {
			mb.unused("null_embed", dim)
			mb.unused("to_self_cond.weight", dim, dim)
		}
		return
	}
	mask := ""
	if mb.wantMask(InputMask, cfg.Layers.Type == LayersEncoder) {
		mask = mb.input(InputMask, graph.Bool, batch, seq)
	}
	if n.SelfCond {
		last := mb.input(InputSelfCondEmbed, graph.Float, batch, seq, graph.Fixed(dim))
		null := mb.input(InputSelfCondNull, graph.Bool, batch)
		nullEmb := mb.weight("null_embed", initNormal, dim)
		first := b.Op("Unsqueeze", "self_cond.null_rows", []string{null, b.Ints1D("const.axes_1_2", 1, 2)})
		prev := b.Op("Where", "self_cond.last_embed", []string{first, nullEmb, last})
		mb.sumEmbeds = mb.linear("to_self_cond", prev, dim, dim, false)
	}
	var emb string
	if n.SelfCond {
		mb.embeddings = &emb
	}
	logits := mb.transformerWrapper("net.", cfg, x, mask, layerContext{}, false)
	mb.sumEmbeds, mb.embeddings = "", nil
	mb.output(OutputLogits, logits, batch, seq, graph.Fixed(int64(cfg.OutputDim())))
	if n.SelfCond {
		mb.output(OutputEmbeddings, emb, batch, seq, graph.Fixed(dim))
	}
	if n.HasCritic() {
		mb.unusedPrefix("token_critic.") // the critic part's (PartCritic checks them)
	}
}
