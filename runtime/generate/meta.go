package generate

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/runtime"
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
// (runtime.MetaMaxSeqLen, runtime.MetaConfig, runtime.MetaKVCache). A model
// without these keys gets a zero Meta (no window limit), without error.
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
	if s, ok := m.MetadataValue(runtime.MetaConfig); ok {
		// Only the two wrapper keys generation needs; the builder
		// validated the whole config when it wrote it.
		var cfg struct {
			Wrapper *struct {
				NumTokens int `json:"num_tokens"`
				MaxSeqLen int `json:"max_seq_len"`
			} `json:"wrapper"`
		}
		if err := json.Unmarshal([]byte(s), &cfg); err != nil {
			return Meta{}, fmt.Errorf("generate: %s: metadata %s: %w", name, runtime.MetaConfig, err)
		}
		if w := cfg.Wrapper; w != nil {
			if w.NumTokens < 0 || w.MaxSeqLen < 0 {
				return Meta{}, fmt.Errorf("generate: %s: metadata %s: wrapper num_tokens %d and max_seq_len %d must not be negative", name, runtime.MetaConfig, w.NumTokens, w.MaxSeqLen)
			}
			meta.NumTokens = w.NumTokens
			if meta.MaxSeqLen == 0 {
				meta.MaxSeqLen = w.MaxSeqLen
			}
		}
	}
	return meta, nil
}

// The names of the inputs and the output a TransformerWrapper model built by
// xt2onnx has (builder.InputTokens, builder.InputMask, builder.OutputLogits).
const (
	inputTokens  = "x"
	inputMask    = "mask"
	outputLogits = "logits"
)
