// Package generate samples token sequences from exported x-transformers
// decoders, as x-transformers 1.9.2's AutoregressiveWrapper.generate does.
//
// A [Generator] wraps a [runtime.Session] of either backend opened on a
// decoder-only TransformerWrapper model built by xt2onnx (input "x", output
// "logits"). Each step takes the logits of the last position, filters them
// (top-k, top-p or top-a with 1.9.2's definitions, or greedy argmax), divides
// by the temperature, and draws the next token from the softmax with a seeded
// PCG generator (math/rand/v2), so that one seed always gives one output.
// [ReadMeta] (a file), [ParseMeta] (bytes) and [MetaOf] (a *graph.Model in
// memory) read the [Meta] generation needs from the model's xt2onnx
// metadata. The package links neither the builder nor Gorgonia: a program
// that only samples pays for the runtime and its backend alone.
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
// the generated tokens no longer fit in max_seq_len the window slides, and the
// cached keys belong to positions that left the window and were computed with
// positions that have since shifted; from then on every step runs the whole
// window again with an empty cache. That is as slow as running without the
// cache, but it gives the same tokens as the no-cache path (and as 1.9.2),
// which matters more here than speed. [Options].NoCache forces the no-cache
// path on a cache model, for comparisons.
//
// # End of sequence
//
// With [Options].EOSToken set, generation stops after the first step at which
// every row holds the token anywhere (the prompt included, as in 1.9.2);
// then every position after a row's first eos becomes [Options].PadValue.
// Rows that hold eos keep being sampled until all rows do, and when
// generation ends by reaching MaxNew first nothing is padded: both as 1.9.2.
package generate
