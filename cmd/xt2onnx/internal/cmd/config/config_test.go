package config

import (
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
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
			ios, _, _, _ := iostreams.Test()
			var got *InferOptions
			cmd := NewCmdConfig(factory.New(ios, "test"), func(o *InferOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &fe) {
					t.Fatalf("error %v, want the usage error %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO = nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options %+v, want %+v", *got, tt.want)
			}
		})
	}
}
