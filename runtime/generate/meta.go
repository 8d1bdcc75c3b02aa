package generate

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Wrapper kinds, as the "kind" of an xt2onnx config (builder.Kind).
const (
	KindTransformerWrapper           = "TransformerWrapper"
	KindContinuousTransformerWrapper = "ContinuousTransformerWrapper"
	KindXTransformer                 = "XTransformer"
)

// Parts of an XTransformer exported as two models (builder.Part).
const (
	PartEncoder = "encoder"
	PartDecoder = "decoder"
	// PartCritic is a NonAutoregressiveWrapper's token critic (builder's
	// PartCritic): tokens in, one score per token out.
	PartCritic = "critic"
)

// NARMeta holds the NonAutoregressiveWrapper keyword arguments of a model
// built from a config with a "nonautoregressive" section (1.9.2's
// defaults filled in).
type NARMeta struct {
	MaskID              int64  // mask_id
	Steps               int    // steps
	Schedule            string // schedule: ScheduleLinear or ScheduleCosine
	CanMaskPrevUnmasked bool   // can_mask_prev_unmasked
	SelfCond            bool   // self_cond
	// Critic is "token_critic", "self_token_critic" or "" (none).
	Critic string
}

// Meta is what generation needs to know about a model beyond its signature.
type Meta struct {
	// MaxSeqLen is the longest window the model takes (the wrapper's
	// max_seq_len); each step runs on the last MaxSeqLen tokens. 0 means no
	// limit.
	MaxSeqLen int
	// NumTokens is the vocabulary size; prompt tokens must lie in [0,
	// NumTokens). 0 means unknown, and prompts are not checked.
	NumTokens int
	// KVCache records that the model was exported with the KV cache
	// (metadata "xt2onnx.kv_cache" = "1"). The generator decides from the
	// session's inputs; this field is for reports.
	KVCache bool
	// Kind is the wrapper the model was built from (the "kind" of metadata
	// "xt2onnx.config", e.g. KindTransformerWrapper); empty when the model
	// carries no xt2onnx config, and then New refuses it.
	Kind string
	// Causal reports that the model's self-attention is causal (a Decoder,
	// or causal=True; an XTransformer's decoder): only such a model can
	// generate autoregressively.
	Causal bool
	// CacheSlides reports that the KV cache stays exact when the window
	// slides (metadata "xt2onnx.cache_slides", written by the builder from
	// Config.CacheSlides): generation then drops the oldest cached position
	// instead of re-running the window.
	CacheSlides bool
	// Part is an XTransformer part's PartEncoder or PartDecoder (metadata
	// "xt2onnx.part"); empty for a whole model.
	Part string
	// SrcNumTokens and SrcMaxSeqLen are an XTransformer encoder's
	// vocabulary and longest source (0: unknown); NumTokens and MaxSeqLen
	// are then its decoder's.
	SrcNumTokens, SrcMaxSeqLen int
	// NAR is set for a model built from a NonAutoregressiveWrapper config
	// (its generator, or its critic with Part PartCritic); nil otherwise.
	NAR *NARMeta
}

// ReadMeta reads the Meta of an ONNX file built by xt2onnx from its metadata
// (runtime.MetaMaxSeqLen, runtime.MetaConfig, runtime.MetaKVCache,
// runtime.MetaPart, runtime.MetaCacheSlides). A model without these keys
// gets a zero Meta without error (New refuses it: generation needs to know
// the wrapper and its window).
func ReadMeta(path string) (Meta, error) {
	m, err := onnximport.ReadFileWith(path, onnximport.ReadOptions{SkipTensorData: true})
	if err != nil {
		return Meta{}, fmt.Errorf("generate: reading the metadata of %s: %w", path, err)
	}
	return metaOf(m, path)
}

// MetaOf returns the Meta of a model in memory, for example one just made
// by builder.Build, from the same metadata as ReadMeta.
func MetaOf(m *graph.Model) (Meta, error) { return metaOf(m, "model") }

// ParseMeta is ReadMeta for a serialized ONNX model held in memory.
func ParseMeta(model []byte) (Meta, error) {
	m, err := onnximport.Read(model)
	if err != nil {
		return Meta{}, fmt.Errorf("generate: reading model metadata: %w", err)
	}
	return metaOf(m, "model")
}

// config is the part of an xt2onnx config generation reads; the builder
// validated the whole config when it wrote it.
type config struct {
	Kind    string `json:"kind"`
	Wrapper *struct {
		NumTokens    int `json:"num_tokens"`
		MaxSeqLen    int `json:"max_seq_len"`
		EncNumTokens int `json:"enc_num_tokens"`
		EncMaxSeqLen int `json:"enc_max_seq_len"`
		DecNumTokens int `json:"dec_num_tokens"`
		DecMaxSeqLen int `json:"dec_max_seq_len"`
	} `json:"wrapper"`
	Layers *struct {
		Type   string `json:"type"`
		Causal *bool  `json:"causal"`
	} `json:"attn_layers"`
	NAR *struct {
		MaskID              *int64          `json:"mask_id"`
		Steps               *int            `json:"steps"`
		Schedule            *string         `json:"schedule"`
		CanMaskPrevUnmasked bool            `json:"can_mask_prev_unmasked"`
		SelfCond            bool            `json:"self_cond"`
		TokenCritic         json.RawMessage `json:"token_critic"`
		SelfTokenCritic     bool            `json:"self_token_critic"`
	} `json:"nonautoregressive"`
}

func metaOf(m *graph.Model, name string) (Meta, error) {
	var meta Meta
	if s, ok := m.MetadataValue(runtime.MetaMaxSeqLen); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return Meta{}, fmt.Errorf("generate: %s: metadata %s = %q is not a sequence length", name, runtime.MetaMaxSeqLen, s)
		}
		meta.MaxSeqLen = n
	}
	if s, ok := m.MetadataValue(runtime.MetaKVCache); ok {
		meta.KVCache = s == "1"
	}
	if s, ok := m.MetadataValue(runtime.MetaCacheSlides); ok {
		meta.CacheSlides = s == "1"
	}
	if s, ok := m.MetadataValue(runtime.MetaPart); ok {
		if s != PartEncoder && s != PartDecoder && s != PartCritic {
			return Meta{}, fmt.Errorf("generate: %s: metadata %s = %q: want %q or %q (or %q)", name, runtime.MetaPart, s, PartEncoder, PartDecoder, PartCritic)
		}
		meta.Part = s
	}
	if s, ok := m.MetadataValue(runtime.MetaConfig); ok {
		var cfg config
		if err := json.Unmarshal([]byte(s), &cfg); err != nil {
			return Meta{}, fmt.Errorf("generate: %s: metadata %s: %w", name, runtime.MetaConfig, err)
		}
		meta.Kind = cfg.Kind
		if n := cfg.NAR; n != nil {
			nm := &NARMeta{Steps: 18, Schedule: ScheduleLinear, CanMaskPrevUnmasked: n.CanMaskPrevUnmasked, SelfCond: n.SelfCond}
			if n.MaskID == nil || *n.MaskID < 0 {
				return Meta{}, fmt.Errorf("generate: %s: metadata %s: nonautoregressive needs a mask_id of 0 or more", name, runtime.MetaConfig)
			}
			nm.MaskID = *n.MaskID
			if n.Steps != nil {
				nm.Steps = *n.Steps
			}
			if n.Schedule != nil {
				nm.Schedule = *n.Schedule
			}
			switch {
			case n.SelfTokenCritic:
				nm.Critic = "self_token_critic"
			case len(n.TokenCritic) > 0 && string(n.TokenCritic) != "null":
				nm.Critic = "token_critic"
			}
			meta.NAR = nm
		}
		if l := cfg.Layers; l != nil {
			meta.Causal = l.Type == "Decoder" || (l.Causal != nil && *l.Causal)
		}
		if w := cfg.Wrapper; w != nil {
			for _, v := range []int{w.NumTokens, w.MaxSeqLen, w.EncNumTokens, w.EncMaxSeqLen, w.DecNumTokens, w.DecMaxSeqLen} {
				if v < 0 {
					return Meta{}, fmt.Errorf("generate: %s: metadata %s: wrapper num_tokens %d and max_seq_len %d must not be negative", name, runtime.MetaConfig, w.NumTokens, w.MaxSeqLen)
				}
			}
			if cfg.Kind == KindXTransformer {
				// The decoder generates: its window and vocabulary.
				meta.Causal = true
				meta.NumTokens, meta.MaxSeqLen = w.DecNumTokens, w.DecMaxSeqLen
				meta.SrcNumTokens, meta.SrcMaxSeqLen = w.EncNumTokens, w.EncMaxSeqLen
			} else {
				meta.NumTokens = w.NumTokens
				if meta.MaxSeqLen == 0 {
					meta.MaxSeqLen = w.MaxSeqLen
				}
			}
		}
	}
	if meta.Kind == "" && meta.NumTokens+meta.MaxSeqLen > 0 {
		if _, ok := m.MetadataValue(runtime.MetaConfig); ok {
			return Meta{}, fmt.Errorf("generate: %s: metadata %s has no \"kind\"", name, runtime.MetaConfig)
		}
	}
	return meta, nil
}

// The names of the inputs and outputs of the models built by xt2onnx that
// generation uses (builder.InputTokens, builder.CrossKeyPrefix, …).
const (
	inputTokens      = "x"
	inputMask        = "mask"
	inputSource      = "src"
	inputSourceMask  = "src_mask"
	outputLogits     = "logits"
	outputOut        = "out"
	pastKeyPrefix    = "past_key_"
	pastValuePrefix  = "past_value_"
	crossKeyPrefix   = "cross_key_"
	crossValuePrefix = "cross_value_"
)
