// Xt2onnx exports x-transformers models to ONNX, runs and inspects ONNX
// models, and verifies exports against reference fixtures.
//
// Usage:
//
//	xt2onnx export (--config FILE (--weights FILE | --random-weights) | --preset NAME) -o OUT.onnx
//	xt2onnx run MODEL.onnx (--inputs FILE.safetensors | --random) [-o OUT.safetensors]
//	xt2onnx inspect MODEL.onnx
//	xt2onnx verify --fixture DIR
//	xt2onnx version
//	xt2onnx completion bash|zsh|fish|powershell
//
// Data goes to stdout, errors ("xt2onnx: message"), notes and progress to
// stderr. The exit status is 0 on success, 1 on an error (and for a verify
// FAIL), 2 on a usage error and 3 when the model uses an option that is not
// supported yet.
//
// Release builds set the version with
// -ldflags "-X main.version=v1.2.3".
package main
