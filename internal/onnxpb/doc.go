// Package onnxpb holds the Go types of the ONNX protobuf messages
// (ModelProto, GraphProto, TensorProto, …), generated from proto/onnx.proto.
//
// Only the export package (which writes models) and the onnximport package
// (which reads them) use it; everything else works on graph. The
// protobuf package name is xt2onnx.onnx rather than onnx, so the types never
// clash in the protobuf registry with another Go ONNX package linked into the
// same binary; the wire format is that of ONNX.
//
// onnx.pb.go is generated; do not edit it. Regenerate it after changing
// proto/onnx.proto with `make proto`, or from the repository root:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	protoc --proto_path=proto --go_out=internal/onnxpb --go_opt=paths=source_relative onnx.proto
//
// (protoc 3.21 or later; the go:generate line below runs the same command
// from this directory.)
package onnxpb

//go:generate protoc --proto_path=../../proto --go_out=. --go_opt=paths=source_relative onnx.proto
