// Xt2onnx exports x-transformers models to ONNX, runs and inspects ONNX
// models, and verifies exports against reference fixtures.
//
// Usage:
//
//	xt2onnx export (--config FILE (--weights FILE | --random-weights) | --preset NAME) -o OUT.onnx
//	xt2onnx inspect (MODEL.onnx | --preset NAME)
//	xt2onnx run (MODEL.onnx | --preset NAME) (--inputs FILE.safetensors | --random) [-o OUT.safetensors]
//	xt2onnx parity (MODEL.onnx | --preset NAME) (--inputs FILE.safetensors | --random)
//	xt2onnx generate (MODEL.onnx | --preset NAME) (--prompt-tokens IDS | --batch-prompts ROWS)
//	xt2onnx bench (MODEL.onnx | --preset NAME) [--max-new N]
//	xt2onnx verify --fixture DIR
//	xt2onnx conformance [--op NAME]
//	xt2onnx config infer --weights FILE
//	xt2onnx version
//	xt2onnx completion bash|zsh|fish|powershell
//
// Every command that takes a model takes it as its first argument (or
// --model) or builds a --preset in memory; --backend ort|native (default
// ort), --device cpu|cuda, --atol/--rtol and --json mean the same on every
// command.
//
// Data goes to stdout, errors ("xt2onnx: message"), notes and progress to
// stderr. The exit status is 0 on success, 1 on an error (and for a verify
// FAIL), 2 on a usage error, 3 when the model uses an option that is not
// supported yet, and 130 (143) when interrupted by SIGINT (SIGTERM).
//
// Release builds set the version with
// -ldflags "-X main.version=v1.2.3".
package main
