package ort

import (
	"errors"
	"strings"
	"testing"
)

// TestCleanMessage checks the rewording of real ONNX Runtime 1.30 messages:
// no C++ locations, signatures or status prefixes reach the user.
func TestCleanMessage(t *testing.T) {
	tests := []struct{ raw, want, hint string }{
		{"Error loading temporary session: Load model from garbage.onnx failed:Protobuf parsing failed.",
			"Protobuf parsing failed.", "not a valid ONNX model"},
		{"Error loading temporary session: Load model from empty.onnx failed:/onnxruntime_src/onnxruntime/core/graph/model.cc:187 onnxruntime::Model::Model(onnx::ModelProto&&, const onnxruntime::PathString&, const onnxruntime::IOnnxRuntimeOpSchemaRegistryList*, const onnxruntime::logging::Logger&, const onnxruntime::ModelOptions&) ModelProto does not have a graph.",
			"ModelProto does not have a graph.", "holds no graph"},
		{"Error running network: [ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions for input: x for the following indices\n index: 1 Got: 3 Expected: 4\n Please fix either the inputs/outputs or the model.",
			"Got invalid dimensions for input: x for the following indices\n index: 1 Got: 3 Expected: 4\n Please fix either the inputs/outputs or the model.", "input's shape"},
		{"Error creating session: /onnxruntime_src/onnxruntime/core/framework/tensorprotoutils.cc:1071 onnxruntime::common::Status onnxruntime::utils::GetExtDataFromTensorProto(const onnxruntime::Env&, const std::filesystem::path&, const onnx::TensorProto&, void*&, onnxruntime::SafeInt<long unsigned int>&, onnxruntime::Tensor&) External data path escapes model directory: ../w.bin",
			"External data path escapes model directory: ../w.bin", "relative path inside the model's folder"},
		{"Error running network: Exiting due to terminate flag being set to true.", "Exiting due to terminate flag being set to true.", "cancelled"},
		{"Error creating temporary session: Failed to load model because protobuf parsing failed.", "Failed to load model because protobuf parsing failed.", "not a valid ONNX model"},
		{"something new", "something new", ""},
	}
	for _, tt := range tests {
		e := ortError("open", "m.onnx", "", errors.New(tt.raw))
		if e.Message != tt.want {
			t.Errorf("cleanMessage(%q)\n got %q\nwant %q", tt.raw, e.Message, tt.want)
		}
		if !strings.Contains(e.Hint, tt.hint) || (tt.hint == "" && e.Hint != "") {
			t.Errorf("%q: hint %q, want one containing %q", tt.raw, e.Hint, tt.hint)
		}
		for _, bad := range []string{"onnxruntime_src", "::", "[ONNXRuntimeError]", "Error loading temporary session", "Error creating temporary session"} {
			if strings.Contains(e.Error(), bad) {
				t.Errorf("message %q still holds %q", e.Error(), bad)
			}
		}
		if !errors.Is(e, e.Err) {
			t.Error("Unwrap lost ONNX Runtime's error")
		}
	}
}
