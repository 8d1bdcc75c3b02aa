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
