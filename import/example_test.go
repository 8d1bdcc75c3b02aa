package onnximport_test

import (
	"errors"
	"fmt"

	onnximport "github.com/xt2onnx/xt2onnx/import"
)

// Read a model exported by PyTorch and look at its interface.
func ExampleReadFile() {
	m, err := onnximport.ReadFile("../fixtures/xtransformers-1.9.2/dec_basic/torch_ts.onnx")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("producer:", m.ProducerName, "opset:", m.Opset(""))
	for _, in := range m.Graph.Inputs {
		fmt.Println("input", in.Name, in.DType, in.Shape)
	}
	for _, out := range m.Graph.Outputs {
		fmt.Println("output", out.Name, out.DType, out.Shape)
	}
	// Output:
	// producer: pytorch opset: 17
	// input x int64 [batch seq]
	// output output float32 [batch Addoutput_dim_1 64]
}

// Input that is not an ONNX model is reported as a *FormatError.
func ExampleFormatError() {
	_, err := onnximport.Read([]byte("GIF89a"))
	var fe *onnximport.FormatError
	fmt.Println(errors.As(err, &fe))
	// Output:
	// true
}
