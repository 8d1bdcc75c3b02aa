// Package bench implements `xt2onnx bench`, which measures a model's
// forward latency and throughput, or its generation speed with and without
// the KV cache.
package bench
