package config

import (
	"reflect"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdtest"
)

func TestNewCmdInfer(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    InferOptions
		wantErr string
	}{
		{name: "stdout", args: []string{"infer", "--weights", "m.safetensors"}, want: InferOptions{WeightsPath: "m.safetensors"}},
		{name: "file and json", args: []string{"infer", "--weights", "m.safetensors", "-o", "c.json", "--json"}, want: InferOptions{WeightsPath: "m.safetensors", Output: "c.json", JSON: true}},
		{name: "no weights", args: []string{"infer"}, wantErr: "--weights is required: name the safetensors state_dict"},
		{name: "positional", args: []string{"infer", "m.safetensors"}, wantErr: `unexpected argument "m.safetensors": config infer takes flags only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cmdtest.Parse(t, NewCmdConfig, tt.args, tt.wantErr, true)
			if got == nil {
				return
			}
			got.IO = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options %+v, want %+v", *got, tt.want)
			}
		})
	}
}
