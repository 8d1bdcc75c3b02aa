package native_test

import (
	"context"
	"fmt"

	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers the "native" backend
)

// Example runs PyTorch's export of an x-transformers decoder on two
// sequences of three tokens, in pure Go.
func Example() {
	sess, err := runtime.Open("../../fixtures/xtransformers-1.9.2/dec_basic/torch_ts.onnx", runtime.Options{Backend: "native"})
	if err != nil {
		fmt.Println(err)
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

	// A GPU is refused: the backend runs on the CPU.
	_, err = runtime.Open("../../fixtures/xtransformers-1.9.2/dec_basic/torch_ts.onnx", runtime.Options{Backend: "native", CUDA: true})
	fmt.Println(err)
	// Output:
	// x: int64[batch seq]
	// output: float32[batch Addoutput_dim_1 64]
	// float32[2 3 64]
	// native: open ../../fixtures/xtransformers-1.9.2/dec_basic/torch_ts.onnx: native: CUDA requested (Options.CUDA), but the native backend runs on the CPU only; use Backend "ort" with a CUDA build of ONNX Runtime for the GPU
}
