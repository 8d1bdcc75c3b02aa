package onnximport

import (
	"fmt"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/extdata"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
)

// ReadTensorFile reads a file holding one serialized TensorProto, such as
// the input_0.pb and output_0.pb files of the ONNX backend tests. Data in
// external files is looked up next to the file.
func ReadTensorFile(path string) (*graph.Tensor, error) {
	data, err := readModelFile(path)
	if err != nil {
		return nil, err
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return nil, &FormatError{File: path, Problem: "not a serialized TensorProto", Err: err}
	}
	r := &reader{file: path, ext: extdata.New(filepath.Dir(path))}
	defer r.close()
	return r.tensor(&tp, fmt.Sprintf("tensor %q", tp.GetName()))
}
