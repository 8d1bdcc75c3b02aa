// Package tritonpb holds Go types generated from a subset of Triton
// Inference Server's model configuration schema
// (../../testdata/model_config.proto). Only the triton package's tests use
// it, to parse the config.pbtxt files xt2onnx writes.
//
// model_config.pb.go is generated; do not edit it. Regenerate it after
// changing the schema, from this directory, with go generate (protoc 3.21 or
// later and protoc-gen-go v1.36.12:
// go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12).
package tritonpb

//go:generate protoc --proto_path=../../testdata --go_out=. --go_opt=paths=source_relative model_config.proto
