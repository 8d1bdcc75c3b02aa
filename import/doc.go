// Package onnximport reads ONNX model files into xt2onnx's graph IR
// (package graph) and runs them natively on Gorgonia.
//
// It is the only package that decodes ONNX protobuf. [ReadFile] and [Read]
// turn a ModelProto into a *graph.Model: every tensor encoding the format
// allows (raw_data, the typed *_data fields, external data files) becomes
// little-endian Tensor.Raw bytes; attributes, sub-graphs, model-local
// functions, metadata, value types and symbolic dimensions are kept.
//
// Input that is not a valid ONNX model is reported as a [*FormatError];
// valid ONNX that the IR cannot hold (string or sparse tensors, sequence
// types, function overloads, …) as an [*UnsupportedError]. Parts of a model
// that carry no meaning for inference (node and graph metadata_props, doc
// strings of attributes, training information, quantization annotations)
// are dropped.
//
// The native half: a [Registry] maps (domain, op type, opset) to operator
// implementations ([DefaultRegistry] holds about 85, one file per family);
// [Eval] runs a model node by node (the reference interpreter); [Prepare]
// and [Compile] fold constant and shape subgraphs for given input shapes and
// build a Gorgonia expression graph whose custom ops run the same kernels
// (with symbolic gradients for the core differentiable ops). Every
// unsupported operator of a model is reported at once in an
// [*UnsupportedOpsError]; errors name the node, op type and opset.
//
// The directory is called import, which is a Go keyword, so the package is
// named onnximport.
package onnximport
