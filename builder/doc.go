// Package builder describes x-transformers models and builds ONNX graphs
// for them.
//
// A build takes a [Config] (from a JSON file, [LoadConfig]; from bytes,
// [ParseConfig]; or built in, [Preset]), the model's parameters as [Weights]
// ([OpenWeights] memory-maps a safetensors state_dict; [RandomWeights]
// draws seeded ones for demos) and [Options] (opset, mask input, KV cache),
// and [Build] returns a *graph.Model (package graph) that package export
// writes as an ONNX file:
//
//	cfg, err := builder.LoadConfig("config.json")
//	w, err := builder.OpenWeights("model.safetensors")
//	defer w.Close()
//	m, err := builder.Build(cfg, w, "model.safetensors", builder.Options{KVCache: true})
//	err = export.WriteFile("model.onnx", m, export.Options{})
//
// Build follows x-transformers' forward pass module by module, quirks
// included; every missing, misshapen or unused weight is reported together
// in one [*WeightsError], and options the export cannot reproduce in an
// [*UnsupportedError]. The model's config, release and max_seq_len are
// stored in its metadata ([MetaConfig], [MetaXTransformers],
// [MetaMaxSeqLen]), which runtime/generate and the runtimes read back.
// [InferConfig] recovers a config from a state_dict's names and shapes,
// [EstimateSize] and [Params] size a model before building it.
//
// # Configs
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
