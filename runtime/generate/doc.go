// Package generate generates with exported x-transformers models as 1.9.2's
// wrappers do: [Generator] (AutoregressiveWrapper.generate, decoders),
// [Seq2Seq] (XTransformer.generate, from the encoder and decoder parts),
// [Continuous] (ContinuousAutoregressiveWrapper.generate) and
// [NonAutoregressive] (NonAutoregressiveWrapper.generate, encoders).
//
// A [Generator] wraps a [runtime.Session] of either backend opened on a
// decoder-only TransformerWrapper model built by xt2onnx (input "x", output
// "logits"). Each step takes the logits of the last position, filters them
// (top-k, top-p or top-a with 1.9.2's definitions, or greedy argmax), divides
// by the temperature, and draws the next token from the softmax with a seeded
// PCG generator (math/rand/v2), so that one seed always gives one output.
// [ReadMeta] (a file), [ParseMeta] (bytes) and [MetaOf] (a *graph.Model in
// memory) read the [Meta] generation needs from the model's xt2onnx
// metadata (wrapper, causality, window, vocabulary, cache, part). The package links neither the builder nor Gorgonia: a program
// that only samples pays for the runtime and its backend alone.
//
// # What generates
//
// [New] refuses a model that AutoregressiveWrapper.generate does not fit,
// and says which x-transformers wrapper does: a model without xt2onnx's
// metadata (xt2onnx.config: the wrapper, its causality and window are
// unknown, as in PyTorch's own exports), a non-causal TransformerWrapper
// (NonAutoregressiveWrapper: [NewNonAutoregressive]), a
// ContinuousTransformerWrapper (ContinuousAutoregressiveWrapper:
// [NewContinuous]), a whole XTransformer (XTransformer.generate: its parts
// with [NewSeq2Seq]), and the wrappers no x-transformers code generates
// with.
//
// # Window
//
// Every step sees at most the last max_seq_len tokens ([Meta].MaxSeqLen), as
// 1.9.2 slices out[:, -max_seq_len:].
//
// # KV cache
//
// A model exported with the KV cache (builder.Options.KVCache, metadata
// "xt2onnx.kv_cache" = "1") takes past_key_<i>, past_value_<i> and possibly
// past_shift_<l> inputs and returns present_* outputs. The generator uses
// them automatically: it runs the prompt once with an empty cache (past
// sequence length 0, shift state zeros), then one token per step, feeding
// each step's present_* back as the next step's past_*. Once the prompt and
// the generated tokens no longer fit in max_seq_len the window slides: 1.9.2
// then re-runs the last max_seq_len tokens at every step, each position
// seeing only the window before it. Where the cache does not depend on the
// window's start ([Meta].CacheSlides: one self-attention layer, no absolute
// position embedding, no rotary, no token shift, no memory tokens; ALiBi, T5
// and dynamic position biases are relative), the generator drops the oldest
// cached position and keeps running one token per step, with 1.9.2's tokens.
// Elsewhere the cached keys are stale (later layers saw positions that left
// the window; rotary rotates values by window index; absolute embeddings are
// in every key), and every step runs the whole window again with an empty
// cache: as slow as no cache, with the same tokens as the no-cache path and
// as 1.9.2. builder.Config.CacheSlides gives the proof; the slide_* corner
// fixtures test both cases. [Options].NoCache forces the no-cache path on a
// cache model, for comparisons.
//
// In the buffer layout (builder.KVLayoutBuffer, what xt2onnx export
// --kv-cache writes) the model takes cache_key_<i> (keys transposed),
// cache_value_<i> and cache_len instead and returns only the step's
// new_key_<i> and new_value_<i>. The generator then owns the cache: buffers
// whose capacity doubles as the sequence grows (up to the window, within
// the tensor budget), which the model reads in place and the generator
// writes each step's positions into, so a step costs what the model costs
// at any context. The window slides in place the same way. Both layouts
// give the same tokens. [Cache] steps either layout for callers who run the
// model themselves.
//
// # End of sequence
//
// With [Options].EOSToken set, generation stops after the first step at which
// every row holds the token anywhere (the prompt included, as in 1.9.2);
// then every position after a row's first eos becomes [Options].PadValue.
// Rows that hold eos keep being sampled until all rows do, and when
// generation ends by reaching MaxNew first nothing is padded: both as 1.9.2.
package generate
