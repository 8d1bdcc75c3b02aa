// Package runtime defines the backend-neutral API that runs exported ONNX
// models: tensors ([Tensor]), model signatures ([ValueInfo]), sessions
// ([Session]), session options ([Options]) and a registry of named backends.
//
// Backends live in their own packages and register themselves when imported,
// as database/sql drivers do:
//
//	import (
//		"github.com/xt2onnx/xt2onnx/runtime"
//		_ "github.com/xt2onnx/xt2onnx/runtime/ort" // registers "ort"
//	)
//
//	sess, err := runtime.Open("model.onnx", runtime.Options{})
//
// The package itself is pure Go and links no backend. Every backend validates
// its inputs with [CheckInputs] before running (through [RunGuard], which
// also orders Run against Close), so that input errors read the same
// whichever backend runs the model. Element types are [DType], the same type
// as graph.DType, so a model's value types and its tensors' types compare
// directly.
package runtime
