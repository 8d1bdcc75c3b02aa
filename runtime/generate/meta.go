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
}

// ReadMeta reads the Meta of an ONNX file built by xt2onnx from its metadata
// (builder.MetaMaxSeqLen, builder.MetaConfig, builder.MetaKVCache). A model
// without these keys gets a zero Meta (no window limit), without error.
func ReadMeta(path string) (Meta, error) {
	m, err := onnximport.ReadFileWith(path, onnximport.ReadOptions{SkipTensorData: true})
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
	if s, ok := m.MetadataValue(builder.MetaConfig); ok {
		cfg, err := builder.ParseConfig([]byte(s))
		if err != nil {
			return Meta{}, fmt.Errorf("generate: %s: metadata %s: %w", name, builder.MetaConfig, err)
		}
		if cfg.Wrapper != nil {
			meta.NumTokens = cfg.Wrapper.NumTokens
			if meta.MaxSeqLen == 0 {
				meta.MaxSeqLen = cfg.Wrapper.MaxSeqLen
			}
		}
	}
	return meta, nil
}

// MetaFromConfig returns the Meta of a TransformerWrapper config, for a model
// built in memory with builder.Build (kvCache: built with
// builder.Options.KVCache).
func MetaFromConfig(cfg *builder.Config, kvCache bool) Meta {
	meta := Meta{KVCache: kvCache}
	if cfg != nil && cfg.Wrapper != nil {
		meta.MaxSeqLen, meta.NumTokens = cfg.Wrapper.MaxSeqLen, cfg.Wrapper.NumTokens
	}
	return meta
}
