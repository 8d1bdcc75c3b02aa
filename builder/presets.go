package builder

import (
	"fmt"
	"sort"
	"strings"
)

// presets are built-in decoder configs for demos and benchmarks; they need
// no files (build them with RandomWeights).
var presets = map[string]func() *Config{
	// tiny: seconds to export and run anywhere.
	"tiny": func() *Config { return presetDecoder(256, 128, 64, 2, 4, 16) },
	// small: a few million parameters.
	"small": func() *Config { return presetDecoder(1024, 256, 256, 4, 8, 32) },
	// base: the 6-layer, dim-512, 8-head decoder the benchmarks use.
	"base": func() *Config { return presetDecoder(1024, 512, 512, 6, 8, 64) },
}

func presetDecoder(numTokens, maxSeqLen, dim, depth, heads, dimHead int) *Config {
	w := DefaultTransformerWrapper()
	w.NumTokens, w.MaxSeqLen = numTokens, maxSeqLen
	l := DefaultAttentionLayers()
	l.Type, l.Dim, l.Depth, l.Heads = LayersDecoder, dim, depth, heads
	l.Attn.DimHead = dimHead
	return &Config{Kind: KindTransformerWrapper, Wrapper: w, Layers: l}
}

// Presets lists the names of the built-in configs.
func Presets() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a fresh copy of a built-in decoder config: "tiny" (dim 64,
// 2 layers), "small" (dim 256, 4 layers) or "base" (dim 512, 6 layers, 8
// heads, seq ≤ 512: the benchmark model).
func Preset(name string) (*Config, error) {
	p, ok := presets[name]
	if !ok {
		return nil, fmt.Errorf("builder: unknown preset %q (have %s)", name, strings.Join(Presets(), ", "))
	}
	return p(), nil
}
