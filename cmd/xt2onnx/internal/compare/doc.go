// Package compare compares output tensors of two runs element by element,
// the way NumPy's allclose does, for the parity and conformance commands.
package compare
