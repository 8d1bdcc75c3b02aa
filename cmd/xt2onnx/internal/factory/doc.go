// Package factory provides what every xt2onnx command needs from its
// environment: the streams to write to and the tool version.
package factory
