// Package export writes xt2onnx's graph IR (package graph) as ONNX model
// files.
//
// It is the only package that encodes ONNX protobuf. [Marshal] turns a
// *graph.Model into the bytes of a ModelProto and [WriteFile] writes them
// atomically. Before writing, the model is checked with graph.Check, and a
// model that fails the check is refused, so a file written here is always
// structurally sound. The output is deterministic: the same model and
// options give the same bytes.
//
// [Options] selects the ONNX opset (which also fixes the IR version written,
// see [IRVersion]), whether model-local functions are inlined, and the
// producer name and version. Anything else the file should carry, such as
// the model's configuration as JSON, goes into the model's metadata
// (graph.Model.SetMetadata) before export.
//
// Tensor data is written as little-endian raw_data inside the model file,
// or, with Options.ExternalData or above Options.ExternalDataThreshold, as
// ONNX external data in one file beside the model (see [ExternalDataPath]),
// streamed tensor by tensor (graph.Tensor.Source). A protobuf message
// cannot exceed 2 GiB, so a model larger than that without external data
// is refused with [ErrTooLarge].
package export
