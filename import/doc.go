// Package onnximport reads ONNX model files into xt2onnx's graph IR
// (package graph).
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
// Running a model is not this package's job: the native engine
// (runtime/native/engine) plans and executes the *graph.Model read here, and
// the runtime/native backend wraps it behind runtime.Session. Reading is
// bounded ([ReadOptions].MaxTensorBytes) and external data files are
// confined to the model's folder ([*ExternalDataError] otherwise).
//
// The directory is called import, which is a Go keyword, so the package is
// named onnximport.
package onnximport
