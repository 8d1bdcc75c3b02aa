package generate_test

import (
	"context"
	"fmt"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/generate"
)

// Build the tiny preset with a KV cache, open it with ONNX Runtime and
// sample 8 tokens for each of two prompts.
func Example() {
	cfg, err := builder.Preset("tiny")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{KVCache: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	model, err := export.Marshal(m, export.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	sess, err := runtime.OpenBytes(model, runtime.Options{Backend: "ort"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()

	meta, err := generate.MetaOf(m) // max_seq_len, vocabulary, KV cache
	if err != nil {
		fmt.Println(err)
		return
	}
	g, err := generate.New(sess, meta)
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := g.Generate(context.Background(), [][]int64{{1, 2, 3}, {4, 5, 6}}, generate.Options{
		MaxNew:      8,
		Filter:      generate.FilterTopP,
		FilterThres: 0.1,
		Temperature: 0.8,
		Seed:        42,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(out), "rows of", len(out[0]), "tokens; KV cache:", g.HasCache())
	// Output:
	// 2 rows of 8 tokens; KV cache: true
}

// Step a buffer-layout KV-cache model by hand: the prompt, then one token
// at a time, with Cache supplying the cache inputs and taking each step's
// new positions.
func ExampleCache() {
	cfg, err := builder.Preset("tiny")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: 1}, "", builder.Options{KVCache: true, KVLayout: builder.KVLayoutBuffer})
	if err != nil {
		fmt.Println(err)
		return
	}
	model, err := export.Marshal(m, export.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	sess, err := runtime.OpenBytes(model, runtime.Options{Backend: "native"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()

	cache, err := generate.NewCache(sess, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, tokens := range [][]int64{{1, 2, 3}, {4}, {5}} {
		x, _ := runtime.NewInt64([]int64{1, int64(len(tokens))}, tokens)
		in := map[string]*runtime.Tensor{"x": x}
		if err := cache.Inputs(in); err != nil {
			fmt.Println(err)
			return
		}
		out, err := sess.Run(context.Background(), in)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := cache.Update(out); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println("logits", out["logits"].Shape(), "cached positions", cache.Len())
	}
	// Output:
	// logits [1 3 256] cached positions 3
	// logits [1 1 256] cached positions 4
	// logits [1 1 256] cached positions 5
}
