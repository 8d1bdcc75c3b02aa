// Package triton writes NVIDIA Triton Inference Server model repositories
// for ONNX models: the model configuration (config.pbtxt, in protobuf text
// format) rendered from the model's graph inputs and outputs, and the model
// file in the version directory:
//
//	DIR/<name>/config.pbtxt
//	DIR/<name>/1/model.onnx
//
// The configuration names the "onnxruntime_onnx" platform. When every input
// and output starts with the same dynamic dim (batch), the model batches:
// max_batch_size is positive, that dim is left out of the dims, and dynamic
// batching is on. Other dynamic dims are written as -1.
package triton
