// Package graph is xt2onnx's in-memory ONNX intermediate representation.
//
// It sits between every other part of the toolkit: the builder and the ops
// library emit it, the exporter serialises it to an ONNX ModelProto, and the
// importer reads ONNX files into it before lowering them to Gorgonia. It
// mirrors the ONNX format (https://onnx.ai/onnx/repo-docs/IR.html) closely:
// values are named strings, nodes are in topological order, model-local
// functions carry their own bodies. Nothing here depends on protobuf.
package graph
