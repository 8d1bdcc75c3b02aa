package safetensors_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

// Example writes a file with Write and reads it back with Open.
func Example() {
	dir, err := os.MkdirTemp("", "safetensors-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")

	err = safetensors.Write(path, []safetensors.Tensor{
		safetensors.F32("proj.weight", []int64{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		safetensors.I64("vocab.ids", []int64{3}, []int64{7, 8, 9}),
		safetensors.Bool("mask", []int64{2}, []bool{true, false}),
	}, map[string]string{"format": "pt"})
	if err != nil {
		log.Fatal(err)
	}

	f, err := safetensors.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	for _, name := range f.Names() {
		info, _ := f.Info(name)
		fmt.Println(name, info.DType, info.Shape)
	}
	w, err := f.Float32s("proj.weight")
	if err != nil {
		log.Fatal(err)
	}
	ids, _ := f.Int64s("vocab.ids")
	mask, _ := f.Bools("mask")
	fmt.Println(w, ids, mask, f.Metadata()["format"])

	_, err = f.Float32s("proj.weights")
	fmt.Println(err != nil)
	// Output:
	// mask BOOL [2]
	// proj.weight F32 [2 3]
	// vocab.ids I64 [3]
	// [1 2 3 4 5 6] [7 8 9] [true false] pt
	// true
}

// ExampleOpen reads a model's weights and an input tensor from the project's
// x-transformers fixtures.
func ExampleOpen() {
	f, err := safetensors.Open("../../fixtures/xtransformers-1.9.2/dec_basic/io.safetensors")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	info, _ := f.Info("input.x")
	ids, err := f.Int64s("input.x")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.DType, info.Shape, ids[:5])

	_, err = f.Bytes("input")
	fmt.Println(err)
	// Output:
	// I64 [2 17] [45 9 61 30 14]
	// safetensors: ../../fixtures/xtransformers-1.9.2/dec_basic/io.safetensors: tensor "input" not found among 5 tensors; closest names: "input.x", "output", "gen.out"
}
