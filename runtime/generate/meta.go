package generate

import (
	"fmt"
	"strconv"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
)

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
	// Kind is the wrapper the model was built from (metadata
	// "xt2onnx.config"); empty when the model carries no xt2onnx metadata,
	// and then New refuses it.
	Kind builder.Kind
	// Causal reports that the model's self-attention is causal (a Decoder,
	// or causal=True): only such a model can generate autoregressively.
	Causal bool
	// CacheSlides reports that the KV cache stays exact when the window
	// slides (builder's Config.CacheSlides): generation then drops the
	// oldest cached position instead of re-running the window.
	CacheSlides bool
	// Part is an XTransformer part's "encoder" or "decoder" (metadata
	// "xt2onnx.part"); empty for a whole model.
	Part builder.Part
	// SrcNumTokens and SrcMaxSeqLen are an XTransformer encoder's
	// vocabulary and longest source (0: unknown); NumTokens and MaxSeqLen
	// are then its decoder's.
	SrcNumTokens, SrcMaxSeqLen int
}

// ReadMeta reads the Meta of an ONNX file built by xt2onnx from its metadata
// (builder.MetaMaxSeqLen, builder.MetaConfig, builder.MetaKVCache). A model
// without these keys gets a zero Meta without error (New refuses it:
// generation needs to know the wrapper and its window).
func ReadMeta(path string) (Meta, error) {
	m, err := onnximport.ReadFile(path)
	if err != nil {
		return Meta{}, fmt.Errorf("generate: reading the metadata of %s: %w", path, err)
	}
	return metaOf(m, path)
}

// ParseMeta is ReadMeta for a serialized ONNX model held in memory.
func ParseMeta(model []byte) (Meta, error) {
	m, err := onnximport.Read(model)
	if err != nil {
		return Meta{}, fmt.Errorf("generate: reading model metadata: %w", err)
	}
	return metaOf(m, "model")
}

func metaOf(m *graph.Model, name string) (Meta, error) {
	var meta Meta
	if s, ok := m.MetadataValue(builder.MetaMaxSeqLen); ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return Meta{}, fmt.Errorf("generate: %s: metadata %s = %q is not a sequence length", name, builder.MetaMaxSeqLen, s)
		}
		meta.MaxSeqLen = n
	}
	if s, ok := m.MetadataValue(builder.MetaKVCache); ok {
		meta.KVCache = s == "1"
	}
	if s, ok := m.MetadataValue(builder.MetaPart); ok {
		meta.Part = builder.Part(s)
	}
	if s, ok := m.MetadataValue(builder.MetaConfig); ok {
		cfg, err := builder.ParseConfig([]byte(s))
		if err != nil {
			return Meta{}, fmt.Errorf("generate: %s: metadata %s: %w", name, builder.MetaConfig, err)
		}
		meta.Kind, meta.Causal = kindOf(cfg)
		meta.CacheSlides = cfg.CacheSlides()
		xtSides(&meta, cfg)
		if cfg.Wrapper != nil {
			meta.NumTokens = cfg.Wrapper.NumTokens
			if meta.MaxSeqLen == 0 {
				meta.MaxSeqLen = cfg.Wrapper.MaxSeqLen
			}
		}
	}
	return meta, nil
}

// xtSides fills an XTransformer's vocabularies and windows: the decoder's
// in NumTokens and MaxSeqLen (generation's window), the encoder's in
// SrcNumTokens and SrcMaxSeqLen.
func xtSides(meta *Meta, cfg *builder.Config) {
	if cfg == nil || cfg.XTransformer == nil {
		return
	}
	x := cfg.XTransformer
	meta.NumTokens, meta.MaxSeqLen = x.Dec.NumTokens, x.Dec.MaxSeqLen
	meta.SrcNumTokens, meta.SrcMaxSeqLen = x.Enc.NumTokens, x.Enc.MaxSeqLen
}

// kindOf returns the wrapper kind of cfg and whether its self-attention is
// causal (for XTransformer: the decoder's).
func kindOf(cfg *builder.Config) (builder.Kind, bool) {
	switch {
	case cfg == nil:
		return "", false
	case cfg.Layers != nil:
		return cfg.Kind, cfg.Layers.Causal()
	case cfg.XTransformer != nil:
		return cfg.Kind, true
	}
	return cfg.Kind, false
}

// MetaFromConfig returns the Meta of a TransformerWrapper config, for a model
// built in memory with builder.Build (kvCache: built with
// builder.Options.KVCache).
func MetaFromConfig(cfg *builder.Config, kvCache bool) Meta {
	meta := Meta{KVCache: kvCache}
	meta.Kind, meta.Causal = kindOf(cfg)
	meta.CacheSlides = cfg.CacheSlides()
	xtSides(&meta, cfg)
	if cfg != nil && cfg.Wrapper != nil {
		meta.MaxSeqLen, meta.NumTokens = cfg.Wrapper.MaxSeqLen, cfg.Wrapper.NumTokens
	}
	return meta
}
