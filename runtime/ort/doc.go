// Package ort registers the "ort" backend of package runtime, which runs
// ONNX models with ONNX Runtime through github.com/yalue/onnxruntime_go.
//
// Importing the package registers the backend, as importing a database/sql
// driver registers the driver:
//
//	import _ "github.com/xt2onnx/xt2onnx/runtime/ort"
//
// after which runtime.Open and runtime.OpenBytes with Options.Backend "ort"
// (the default) use it.
//
// # The ONNX Runtime library
//
// The package needs cgo, and at run time it loads the ONNX Runtime shared
// library (version 1.24 or newer; the project pins 1.30.0). It looks for the
// library in this order and takes the first that exists:
//
//  1. Options.LibraryPath (or the argument of [Init]);
//  2. the environment variable ONNXRUNTIME_LIB;
//  3. the copy that `make ort` (scripts/fetch-onnxruntime.sh) installs,
//     ${XT2ONNX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xt2onnx}/onnxruntime/1.30.0/libonnxruntime.so.1;
//  4. the system: libonnxruntime.so and libonnxruntime.so.1 through the
//     dynamic loader (LD_LIBRARY_PATH, ld.so.cache, /lib, /usr/lib), then
//     /usr/local/lib, /usr/local/lib64 and /opt/onnxruntime/lib.
//
// A path given in step 1 or 2 that does not exist is an error, not a reason
// to look further. [LibraryPath] reports what steps 2 to 4 find, and lists
// what it tried when they find nothing.
//
// onnxruntime_go keeps one ONNX Runtime environment per process, so the
// library is loaded once, by the first [Init] or Open, and stays loaded for
// the life of the process. A failed load returns the same error on every
// later call with the same library request, without retrying.
//
// # Sessions
//
// Sessions allow concurrent Run calls from several goroutines (ONNX Runtime's
// Run is thread-safe); Close waits for runs in flight. Run honours context
// cancellation: a context that is done stops Run before it starts, and
// cancelling during a run sets ONNX Runtime's terminate flag, which ends the
// run early with an error wrapping the context's error.
//
// Opening a model builds two ONNX Runtime sessions: a throw-away one (no
// graph optimization) from which onnxruntime_go reads the input and output
// names, types and shapes, and the real one. Symbolic dim names ("batch",
// "seq"), which onnxruntime_go does not expose, are read from the ModelProto
// directly, skipping the weights.
//
// Limits of onnxruntime_go v1.27.0 that this backend inherits: models with
// rank-0 (scalar) outputs cannot be run, float16 and bfloat16 outputs come
// back corrupted and are therefore refused at open time, and input tensors
// with zero elements are refused for float16 and bfloat16.
package ort
