// Package iostreams holds the standard streams an xt2onnx command writes to,
// knows whether each is a terminal, and draws the progress line shown on a
// terminal's stderr.
package iostreams
