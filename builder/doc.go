// Package builder describes x-transformers models and builds ONNX graphs
// for them.
//
// The configuration half (config*.go) mirrors the PyTorch constructors of
// x-transformers 1.9.2 (lucidrains/x-transformers at commit
// e7b4073b5dfa95eff91112b29ac207537c43a796): [Config] holds the keyword
// arguments of TransformerWrapper, ContinuousTransformerWrapper,
// ViTransformerWrapper, XTransformer or a bare CrossAttender, with one
// struct per PyTorch class ([TransformerWrapperConfig],
// [ContinuousWrapperConfig], [ViTWrapperConfig], [XTransformerConfig],
// [AttentionLayers], [AttentionConfig], [FeedForwardConfig]) and the 1.9.2
// defaults from the Default* constructors. Optional keyword arguments whose
// PyTorch default is None are pointers (nil means None).
//
// [ParseConfig] and [LoadConfig] read the JSON form used by the reference
// fixtures and by the ONNX metadata ({"kind", "wrapper", "attn_layers",
// "inputs", "output_shape"}, every key a PyTorch keyword argument), strictly:
// unknown keys, wrong types and malformed JSON are errors that name the key
// path (and suggest the nearest valid key) or the line and column.
// [Config.Validate] repeats the assertions x-transformers makes, and
// [Config.JSON] writes the canonical form back. Methods such as
// [AttentionLayers.LayerTypes], [AttentionLayers.Causal] and
// [AttentionLayers.RotaryEmbDim] return the values 1.9.2 derives from the
// arguments; [Config.NonDefault] lists the arguments that differ from the
// defaults.
package builder
