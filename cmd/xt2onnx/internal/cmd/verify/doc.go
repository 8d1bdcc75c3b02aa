// Package verify implements `xt2onnx verify`, which checks a model against
// an x-transformers reference fixture and ends with a PASS or FAIL line.
package verify
