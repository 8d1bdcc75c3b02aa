// Package native registers the "native" backend of package runtime, which
// runs ONNX models in pure Go: no cgo and no shared library.
//
// Importing the package registers the backend:
//
//	import _ "github.com/xt2onnx/xt2onnx/runtime/native"
//
// after which runtime.Open and runtime.OpenBytes with Options.Backend
// "native" use it (see the example).
//
// # Opening a model: one plan for every shape
//
// Open reads the file with package onnximport (tensors bounded by
// Options.MaxTensorBytes, external data confined to the model's folder),
// then hands it to the engine (package runtime/native/engine): Prepare
// inlines model-local functions except those a fused kernel implements,
// refuses graphs over Options.MaxNodes, fuses known patterns and looks up
// every operator in kernels.DefaultRegistry(), so a model using operators
// the registry lacks fails to open with an *engine.UnsupportedOpsError that
// lists all of them. NewPlan folds constant nodes once and infers every
// value's type symbolically; nothing in the plan depends on input shapes, so
// one plan serves every batch size, sequence length and KV-cache length and
// nothing is compiled per run.
//
// # Running
//
// Run validates the inputs with runtime.CheckInputs (as every backend does)
// and executes the plan with an arena of its own: buffers are reused within
// and across runs, and every allocation is bounded by Options.MaxTensorBytes.
// Options.IntraOpThreads sizes the session's worker pool (0: GOMAXPROCS);
// InterOpThreads is accepted and unused (steps run one after another).
// Options.OutputNames limits the outputs computed: nodes only other outputs
// need are not run. A context that is done stops Run before its next step.
//
// Run is safe to call from several goroutines at once, with the same or
// different shapes; Close waits for runs in flight. Options.CUDA is refused
// ([ErrCUDA]): the backend runs on the CPU only; Options.LibraryPath
// concerns the "ort" backend and is ignored.
//
// Every element type runtime.Tensor holds is supported for inputs and
// outputs, float16 and bfloat16 included. Outputs are fresh copies that
// share no memory with inputs or with the model's constants.
package native
