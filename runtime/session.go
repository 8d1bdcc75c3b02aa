package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/xt2onnx/xt2onnx/internal/sysmem"
)

// ValueInfo describes one model input or output.
type ValueInfo struct {
	// Name is the graph input or output name.
	Name string
	// DType is the element type.
	DType DType
	// Shape holds one entry per dimension: the size of a fixed dim, or -1
	// for a dynamic one. It is empty (not nil) for a scalar, and nil when
	// the model does not declare the rank, in which case CheckInputs checks
	// only the dtype.
	Shape []int64
	// DimNames holds the symbolic name of each dynamic dim ("batch",
	// "seq"), and "" where the dim is fixed or unnamed. It is nil when the
	// backend cannot tell the names; when not nil it has len(Shape) entries.
	DimNames []string
	// NumTokens, when positive, says the input holds token ids, each of
	// which must lie in [0, NumTokens): CheckInputs refuses others, as
	// PyTorch's nn.Embedding does, instead of letting a negative id wrap
	// around to the last token. Backends set it from the model's xt2onnx
	// metadata (see TokenRanges).
	NumTokens int64
}

// String describes the value as "x: int64[batch seq]", printing a dynamic
// dim by its name, or "?" when it has none.
func (v ValueInfo) String() string {
	var b strings.Builder
	b.WriteString(v.Name)
	b.WriteString(": ")
	b.WriteString(v.DType.String())
	b.WriteString(v.ShapeString())
	return b.String()
}

// ShapeString formats the shape with dim names, e.g. "[batch 5]", or
// "[...]" when the rank is unknown.
func (v ValueInfo) ShapeString() string {
	if v.Shape == nil {
		return "[...]"
	}
	parts := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		switch {
		case i < len(v.DimNames) && v.DimNames[i] != "":
			parts[i] = v.DimNames[i]
		case d < 0:
			parts[i] = "?"
		default:
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// dimName returns the symbolic name of dim i, or "".
func (v ValueInfo) dimName(i int) string {
	if i < len(v.DimNames) {
		return v.DimNames[i]
	}
	return ""
}

// Session is a loaded model ready to run.
//
// Concurrency: Inputs, Outputs and Run are safe to call from several
// goroutines at once, and every backend must allow concurrent runs on one
// session. Close waits for runs in flight to finish, after which Run returns
// an error wrapping [ErrClosed]; Close may be called more than once.
type Session interface {
	// Inputs describes the inputs Run requires, in model order.
	Inputs() []ValueInfo
	// Outputs describes the outputs Run returns, in model order (only those
	// selected by Options.OutputNames when that is set).
	Outputs() []ValueInfo
	// Run runs the model on inputs (keyed by input name) and returns the
	// outputs keyed by output name. Inputs are checked with CheckInputs
	// first. A context that is already done stops Run before it starts;
	// backends stop a run in progress when they can.
	Run(ctx context.Context, inputs map[string]*Tensor) (map[string]*Tensor, error)
	// Close releases the session. It is safe to call more than once.
	Close() error
}

// IntoRunner is implemented by sessions that can write outputs into
// tensors the caller allocated, so that a loop that runs a model again and
// again (generation with a KV cache) reuses its buffers and the backend
// copies nothing out: the "ort" backend binds them to ONNX Runtime.
type IntoRunner interface {
	// RunInto is Run, except that every output named in into is written
	// into that tensor, which must have the output's dtype and exactly the
	// shape this run gives it, and must not share memory with an input.
	// The returned map holds every output, the into tensors included.
	RunInto(ctx context.Context, inputs, into map[string]*Tensor) (map[string]*Tensor, error)
}

// ErrClosed is wrapped by the error Run returns after Close.
var ErrClosed = errors.New("runtime: session is closed")

// Options configures a session. The zero value selects the "ort" backend
// with library defaults.
type Options struct {
	// Backend names the backend: "ort" (default when empty) or "native".
	Backend string
	// IntraOpThreads is the number of threads used inside one operator;
	// 0 means the backend's default.
	IntraOpThreads int
	// InterOpThreads is the number of threads used to run independent
	// operators in parallel; 0 means the backend's default.
	InterOpThreads int
	// CUDA asks the backend to run on an NVIDIA GPU; opening fails when the
	// backend cannot.
	CUDA bool
	// CUDADeviceID selects the GPU when CUDA is set.
	CUDADeviceID int
	// LibraryPath is the ONNX Runtime shared library for the "ort" backend;
	// empty means discover it (see package runtime/ort).
	LibraryPath string
	// OutputNames selects the outputs Run computes and returns, in any
	// order; empty means all of them.
	OutputNames []string
	// MaxTensorBytes bounds the bytes of any one tensor or buffer the
	// native backend allocates (reading external data, compiling,
	// running); a model or input that needs more fails with an error
	// naming the node, operator, shape and bytes instead of exhausting
	// memory. 0 means DefaultMaxTensorBytes(). ONNX Runtime allocates on
	// its own and reports failed allocations as errors.
	MaxTensorBytes int64
	// MaxNodes bounds the nodes of the native backend's graph once
	// model-local functions are inlined; 0 means a million.
	MaxNodes int64
}

// DefaultMaxTensorBytes is the tensor budget of a session that sets none:
// half of the memory available to the process (the machine's memory, or
// its cgroup's limit when lower).
func DefaultMaxTensorBytes() int64 { return sysmem.Limit() / 2 }

// BackendName returns the backend the options select: Backend, or "ort"
// when it is empty.
func (o Options) BackendName() string {
	if o.Backend == "" {
		return DefaultBackend
	}
	return o.Backend
}

// DefaultBackend is the backend used when Options.Backend is empty.
const DefaultBackend = "ort"

// ModelSource is the model a backend opens: a file (Path) or an in-memory
// ONNX ModelProto (Bytes). Exactly one of them is set.
type ModelSource struct {
	// Path is the .onnx file; external data files are found relative to it.
	Path string
	// Bytes is a serialized ModelProto, used when Path is empty.
	Bytes []byte
}

// Name describes the source in messages: the path, or "<model bytes, N
// bytes>".
func (m ModelSource) Name() string {
	if m.Path != "" {
		return m.Path
	}
	return fmt.Sprintf("<model bytes, %d bytes>", len(m.Bytes))
}

// ReadAll returns the serialized model: Bytes, or the content of the file at
// Path.
func (m ModelSource) ReadAll() ([]byte, error) {
	if m.Path == "" {
		if len(m.Bytes) == 0 {
			return nil, errors.New("runtime: empty model source (neither a path nor model bytes)")
		}
		return m.Bytes, nil
	}
	b, err := os.ReadFile(m.Path)
	if err != nil {
		return nil, fmt.Errorf("runtime: read model: %w", err)
	}
	return b, nil
}
