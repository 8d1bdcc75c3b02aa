// Package version implements `xt2onnx version`, which reports the versions
// of xt2onnx, Go and the ONNX Runtime library.
package version
