// Package run implements `xt2onnx run`, which runs an ONNX model on inputs
// from a safetensors file or on random inputs and summarises the outputs.
package run
