// Package export implements `xt2onnx export`, which builds an x-transformers
// model and writes it as an ONNX file.
package export
