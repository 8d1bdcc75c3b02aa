package ort_test

import (
	"context"
	"fmt"

	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort" // registers the "ort" backend
)

// Example runs an x-transformers decoder exported to ONNX on two sequences
// of three tokens.
func Example() {
	sess, err := runtime.Open("../../fixtures/xtransformers-1.9.2/dec_basic/torch_ts.onnx", runtime.Options{})
	if err != nil {
		fmt.Println(err) // e.g. the ONNX Runtime library is missing: run `make ort`
		return
	}
	defer sess.Close()
	fmt.Println(sess.Inputs()[0])
	fmt.Println(sess.Outputs()[0])

	x, err := runtime.NewInt64([]int64{2, 3}, []int64{1, 2, 3, 4, 5, 6})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := sess.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(out["output"])

	// Inputs are checked before ONNX Runtime sees them.
	bad, _ := runtime.NewInt32([]int64{2, 3}, make([]int32, 6))
	_, err = sess.Run(context.Background(), map[string]*runtime.Tensor{"x": bad})
	fmt.Println(err)
	// Output:
	// x: int64[batch seq]
	// output: float32[batch Addoutput_dim_1 64]
	// float32[2 3 64]
	// ort: run ../../fixtures/xtransformers-1.9.2/dec_basic/torch_ts.onnx: runtime: input "x": got int32, model expects int64
}
