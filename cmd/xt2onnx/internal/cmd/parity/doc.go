// Package parity implements `xt2onnx parity`, which runs one model with two
// backends on the same inputs and compares their outputs.
package parity
