// Package quickstart is the xt2onnx library used from another module, the
// way a program of yours would use it: build an ONNX model from an
// x-transformers config and safetensors weights, write it, run it on the
// pure-Go backend and generate tokens with it, through public packages only
// (builder, export, runtime, runtime/native, runtime/generate).
//
// It is a separate module (examples/go.mod, with a replace directive that
// points at the checkout) so that `go test ./...` in examples/ fails the
// moment something a library user needs is internal.
package quickstart

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/generate"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers the "native" backend
)

// Export builds the model that configPath (a config.json: {"kind",
// "wrapper", "attn_layers"}) and weightsPath (its safetensors state_dict)
// describe and writes it to outPath, with a KV cache when kvCache is set.
func Export(configPath, weightsPath, outPath string, kvCache bool) error {
	cfg, err := builder.LoadConfig(configPath)
	if err != nil {
		return err
	}
	w, err := builder.OpenWeights(weightsPath) // memory-mapped
	if err != nil {
		return err
	}
	defer w.Close() // after the file is written: the model aliases the mapping
	m, err := builder.Build(cfg, w, filepath.Base(weightsPath), builder.Options{KVCache: kvCache})
	if err != nil {
		return err
	}
	return export.WriteFile(outPath, m, export.Options{}) // atomic: no partial file
}

// Logits runs the ONNX file at path on the native backend on one batch of
// token ids (all rows of one length) and returns the output "logits" with
// its shape [batch, seq, vocab].
func Logits(ctx context.Context, path string, tokens [][]int64) ([]float32, []int64, error) {
	sess, err := runtime.Open(path, runtime.Options{Backend: "native"})
	if err != nil {
		return nil, nil, err
	}
	defer sess.Close()
	x, err := tokenTensor(tokens)
	if err != nil {
		return nil, nil, err
	}
	out, err := sess.Run(ctx, map[string]*runtime.Tensor{"x": x})
	if err != nil {
		return nil, nil, err
	}
	logits, ok := out["logits"]
	if !ok {
		return nil, nil, fmt.Errorf("%s: no output \"logits\"", path)
	}
	data, err := logits.Float32s()
	return data, logits.Shape(), err
}

// Generate continues every prompt row by maxNew tokens, greedily, with the
// model at path on the native backend (using its KV cache if it has one).
func Generate(ctx context.Context, path string, prompts [][]int64, maxNew int) ([][]int64, error) {
	meta, err := generate.ReadMeta(path) // max_seq_len, vocabulary, KV cache
	if err != nil {
		return nil, err
	}
	sess, err := runtime.Open(path, runtime.Options{Backend: "native"})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	g, err := generate.New(sess, meta)
	if err != nil {
		return nil, err
	}
	return g.Generate(ctx, prompts, generate.Options{MaxNew: maxNew, Greedy: true})
}

// tokenTensor packs rows of token ids into an int64 [batch, seq] tensor.
func tokenTensor(rows [][]int64) (*runtime.Tensor, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("no token rows")
	}
	var flat []int64
	for i, r := range rows {
		if len(r) != len(rows[0]) {
			return nil, fmt.Errorf("token row %d has %d tokens, row 0 has %d: all rows must have one length", i, len(r), len(rows[0]))
		}
		flat = append(flat, r...)
	}
	return runtime.NewInt64([]int64{int64(len(rows)), int64(len(rows[0]))}, flat)
}
