// Package inspect implements `xt2onnx inspect`, which describes an ONNX model
// file: its signature, operators, functions, parameters and metadata.
package inspect
