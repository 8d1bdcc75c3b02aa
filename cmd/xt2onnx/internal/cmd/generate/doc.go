// Package generate implements `xt2onnx generate`, which samples tokens from
// a decoder model (an ONNX file or a built-in preset) with runtime/generate.
package generate
