// Package conformance implements `xt2onnx conformance`, which runs ONNX's
// own operator tests (the backend node tests) with a runtime backend.
package conformance
