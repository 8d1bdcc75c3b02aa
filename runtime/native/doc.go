// Package native registers the "native" backend of package runtime, which
// runs ONNX models in pure Go: package onnximport compiles the model into a
// Gorgonia expression graph whose nodes run onnximport's operator kernels.
//
// Importing the package registers the backend:
//
//	import _ "github.com/xt2onnx/xt2onnx/runtime/native"
//
// after which runtime.Open and runtime.OpenBytes with Options.Backend
// "native" use it. It needs neither cgo nor a shared library.
//
// # Compiling per input shape
//
// Opening a model reads it, inlines its model-local functions and looks up
// every operator in onnximport.DefaultRegistry(): a model using operators
// the registry lacks fails to open with an *onnximport.UnsupportedOpsError
// listing all of them. The first Run with a given set of input shapes
// compiles a program for those shapes (constant and shape-only parts
// folded, every value's shape inferred, see onnximport.Compile), which costs
// about one extra forward pass; later runs with the same shapes reuse it.
// A session keeps the programs of the 16 most recently used shape sets.
//
// # Concurrency
//
// Run is safe to call from several goroutines at once, with the same or
// different shapes. A compiled program runs one call at a time, so each
// shape set keeps a small pool of programs (clones sharing the compiled
// plan, kernels and constants); concurrent runs of one shape use separate
// clones. Close waits for runs in flight.
//
// # Options
//
// Options.CUDA is refused: the backend runs on the CPU only.
// Options.IntraOpThreads and Options.InterOpThreads are accepted and
// ignored (kernels run one after another, each using what parallelism its
// implementation has); Options.LibraryPath concerns the "ort" backend and
// is ignored. Options.OutputNames limits the outputs computed: nodes only
// other outputs need are not run.
//
// Every element type runtime.Tensor holds is supported for inputs and
// outputs, float16 and bfloat16 included. Outputs are fresh copies that
// share no memory with inputs or with the model's constants. A context that
// is done stops Run before its next node.
package native
