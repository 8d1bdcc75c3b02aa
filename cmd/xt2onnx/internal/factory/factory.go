package factory

import (
	"fmt"

	"github.com/spf13/pflag"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/internal/sysmem"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Factory is passed to every NewCmd function.
type Factory struct {
	// IOStreams are the streams to write to.
	IOStreams *iostreams.IOStreams
	// Version is the xt2onnx version: the -ldflags value, else the build
	// information's (internal/buildinfo; "dev" when that records none).
	Version string
	// MaxTensorBytes is the global --max-tensor-bytes flag: the bound on
	// any one tensor the native backend or --random allocates; 0 means
	// runtime.DefaultMaxTensorBytes(). Commands read it when they run.
	MaxTensorBytes int64
}

// New returns a Factory for the streams and version.
func New(io *iostreams.IOStreams, version string) *Factory {
	return &Factory{IOStreams: io, Version: version}
}

// TensorBudget returns the tensor budget in bytes: --max-tensor-bytes, or
// the runtime's default.
func (f *Factory) TensorBudget() int64 {
	if f.MaxTensorBytes > 0 {
		return f.MaxTensorBytes
	}
	return runtime.DefaultMaxTensorBytes()
}

// AddGlobalFlags adds the flags every command takes to fs (the root's
// persistent flags).
func (f *Factory) AddGlobalFlags(fs *pflag.FlagSet) {
	fs.Var((*bytesValue)(&f.MaxTensorBytes), "max-tensor-bytes",
		fmt.Sprintf("refuse any one tensor larger than `SIZE` (e.g. 4GiB, 512MB) in the native backend and --random inputs (default: half the memory, %s here)",
			sysmem.FormatBytes(runtime.DefaultMaxTensorBytes())))
}

// bytesValue is a pflag.Value holding a byte count written with units.
type bytesValue int64

func (b *bytesValue) String() string {
	if *b == 0 {
		return ""
	}
	return sysmem.FormatBytes(int64(*b))
}

func (b *bytesValue) Set(s string) error {
	n, err := sysmem.ParseBytes(s)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a size: write a positive byte count such as 4GiB, 512MB or 1073741824", s)
	}
	*b = bytesValue(n)
	return nil
}

func (b *bytesValue) Type() string { return "size" }
