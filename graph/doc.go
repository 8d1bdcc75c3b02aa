// Package graph is xt2onnx's in-memory ONNX model: the intermediate
// representation every other package meets at.
//
// The builder (package builder) and the subgraph library (package ops) emit
// it, package export writes it as an ONNX file, package onnximport reads
// ONNX files into it, and the native backend (runtime/native) plans and runs
// it. It mirrors the ONNX format (https://onnx.ai/onnx/repo-docs/IR.html)
// closely and depends on no protobuf package:
//
//   - a [Model] holds opset imports, metadata, model-local [Function] values
//     and a [Graph] of inputs, outputs, initializers and [Node] values in
//     topological order; values are named by strings;
//   - a [Tensor] keeps its data as little-endian raw bytes that may alias
//     memory owned elsewhere (a memory-mapped weights file), so weights reach
//     the encoder without a copy;
//   - a [ValueInfo] gives a value's element type ([DType], the ONNX
//     TensorProto.DataType numbers) and shape ([Dim]: fixed or symbolic);
//   - [Attr] values are built with AInt, AFloat, AInts, AString, ATensor and
//     ARef (a reference to an attribute of the calling function).
//
// A [Builder] appends nodes to a graph or a function body with deterministic
// names (a dotted scope plus a fixed suffix), shares constants by content and
// registers the functions it calls, so the same build always gives
// byte-identical files. [Check] validates a model structurally (every input
// produced exactly once before use, opset imports for every domain, function
// arity, initializer sizes) and names the node at fault; [InlineFunctions]
// expands every function call into its body, bounded by a node limit.
package graph
