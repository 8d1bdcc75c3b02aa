package factory

import "github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"

// Factory is passed to every NewCmd function.
type Factory struct {
	// IOStreams are the streams to write to.
	IOStreams *iostreams.IOStreams
	// Version is the xt2onnx version ("dev" for a build without -ldflags).
	Version string
}

// New returns a Factory for the streams and version.
func New(io *iostreams.IOStreams, version string) *Factory {
	return &Factory{IOStreams: io, Version: version}
}
