// Package inputs makes the input tensors the xt2onnx commands run models
// on: read from a safetensors file (Read), or generated from a seed
// (Random) within the limits the model's x-transformers metadata gives
// (ReadLimits).
package inputs
