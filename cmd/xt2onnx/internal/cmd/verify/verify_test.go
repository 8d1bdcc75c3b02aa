package verify

import (
	"reflect"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdtest"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort" // registers "ort", which --backend accepts
)

func TestNewCmdVerify(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr string
		flagErr bool
	}{
		{
			name: "defaults",
			args: []string{"--fixture", "fx/dec_basic"},
			want: Options{FixtureDir: "fx/dec_basic", Backend: "ort", Device: "cpu", Graph: "built", KVLayout: "buffer", Opset: 18},
		},
		{
			name: "built options",
			args: []string{"--fixture", "d", "--opset", "17", "--inline", "--tol", "1e-4", "--json"},
			want: Options{FixtureDir: "d", Backend: "ort", Device: "cpu", Graph: "built", KVLayout: "buffer", Tol: 1e-4, Opset: 17, Inline: true, JSON: true},
		},
		{
			name: "torch graph",
			args: []string{"--fixture", "d", "--graph", "torch_dynamo"},
			want: Options{FixtureDir: "d", Backend: "ort", Device: "cpu", Graph: "torch_dynamo", KVLayout: "buffer", Opset: 18},
		},
		{
			name: "generation and cache",
			args: []string{"--fixture", "d", "--generate", "--kv-cache"},
			want: Options{FixtureDir: "d", Backend: "ort", Device: "cpu", Graph: "built", KVLayout: "buffer", Opset: 18, Generate: true, KVCache: true},
		},
		{
			name: "atol and rtol, as parity takes them; cuda",
			args: []string{"--fixture", "d", "--atol", "1e-4", "--rtol", "1e-3", "--device", "cuda"},
			want: Options{FixtureDir: "d", Backend: "ort", Device: "cuda", Graph: "built", KVLayout: "buffer", Opset: 18, Tol: 1e-4, Rtol: 1e-3},
		},
		{name: "atol and tol", args: []string{"--fixture", "d", "--atol", "1e-4", "--tol", "1e-4"}, wantErr: "--tol is the old name of --atol: give one", flagErr: true},
		{name: "negative rtol", args: []string{"--fixture", "d", "--rtol", "-1"}, wantErr: "--rtol -1: must be a finite number ≥ 0", flagErr: true},
		{
			name: "cache in the concat layout",
			args: []string{"--fixture", "d", "--kv-cache", "--kv-layout", "concat"},
			want: Options{FixtureDir: "d", Backend: "ort", Device: "cpu", Graph: "built", KVLayout: "concat", Opset: 18, KVCache: true},
		},
		{name: "layout without cache", args: []string{"--fixture", "d", "--kv-layout", "concat"}, wantErr: "--kv-layout needs --kv-cache", flagErr: true},
		{name: "generate torch graph", args: []string{"--fixture", "d", "--graph", "torch_ts", "--generate"}, wantErr: "--generate and --kv-cache apply to --graph built only", flagErr: true},
		{name: "no fixture", args: nil, wantErr: "--fixture is required: name the fixture directory", flagErr: true},
		{name: "positional", args: []string{"d"}, wantErr: `unexpected argument "d": verify takes flags only`, flagErr: true},
		{name: "unknown graph", args: []string{"--fixture", "d", "--graph", "onnx"}, wantErr: `invalid argument "onnx" for "--graph" flag: want built, torch_ts or torch_dynamo`},
		{name: "negative tol", args: []string{"--fixture", "d", "--tol", "-1"}, wantErr: "--atol -1: must be a positive number (or 0 for the default)", flagErr: true},
		{name: "opset 16", args: []string{"--fixture", "d", "--opset", "16"}, wantErr: "--opset 16 is not supported: want " + cmdutil.OrList(xtexport.Opsets()), flagErr: true},
		{name: "inline torch graph", args: []string{"--fixture", "d", "--graph", "torch_ts", "--inline"}, wantErr: "--opset and --inline apply to --graph built only", flagErr: true},
		{name: "unknown backend", args: []string{"--fixture", "d", "--backend", "tvm"}, wantErr: `unknown backend "tvm": want ort`, flagErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cmdtest.Parse(t, NewCmdVerify, tt.args, tt.wantErr, tt.flagErr)
			if got == nil {
				return
			}
			got.IO, got.Ctx = nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}
