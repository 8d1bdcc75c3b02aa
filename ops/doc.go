// Package ops emits the reusable subgraphs of x-transformers models: norms,
// activations, linear layers, qk-norm and (cosine-sim) attention.
//
// Subgraphs with a name in the x-transformers world (L2NormGroups, QKNorm,
// Attention, CosineSimAttention) are ONNX model-local functions in the domain
// graph.DomainXT; a Library builds them once per opset and Call* helpers emit
// calls to them. Exporting with function inlining (export.Options) expands
// every call into primitive ONNX operators, so consumers without function
// support get the same numbers. Everything else here is an emitter that
// writes primitive operators directly, choosing the operator form the target
// opset requires (for example ReduceL2 takes axes as an attribute before
// opset 18 and as an input from 18 on).
//
// Every emitter takes a *graph.Builder and value names and returns the name
// of its output, so code outside xt2onnx can mix these subgraphs into graphs
// of its own (see the example) and write them with package export.
package ops
