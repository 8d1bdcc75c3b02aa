// Package modelsrc loads the model a command runs: an ONNX file
// (MODEL.onnx, --model) or a built-in preset built in memory with random
// weights (--preset), together with the generation metadata and the
// session options the commands share.
package modelsrc
