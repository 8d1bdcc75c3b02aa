// Package config implements `xt2onnx config`, whose `infer` subcommand
// reconstructs a model config from a safetensors state_dict.
package config
