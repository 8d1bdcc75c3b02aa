package run

import (
	"errors"
	modelinputs "github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/inputs"
	"io"
	"math"
	"reflect"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers "native", which --backend accepts
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"    // registers "ort"
)

func TestNewCmdRun(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr string
		flagErr bool
	}{
		{
			name: "random",
			args: []string{"m.onnx", "--random", "--batch", "2", "--seq", "16", "--seed", "9"},
			want: Options{ModelPath: "m.onnx", Source: modelinputs.Source{Random: true, Batch: 2, Seq: 16, Seed: 9}, Backend: "ort", Device: "cpu"},
		},
		{
			name: "random defaults",
			args: []string{"m.onnx", "--random"},
			want: Options{ModelPath: "m.onnx", Source: modelinputs.Source{Random: true, Batch: 1, Seq: 16}, Backend: "ort", Device: "cpu"},
		},
		{
			name: "inputs with prefix, output, threads, json",
			args: []string{"--inputs", "io.safetensors", "--prefix", "input.", "-o", "out.safetensors", "--threads", "4", "--json", "m.onnx"},
			want: Options{ModelPath: "m.onnx", Source: modelinputs.Source{InputsPath: "io.safetensors", Prefix: "input.", Batch: 1, Seq: 16}, Output: "out.safetensors", Threads: 4, JSON: true, Backend: "ort", Device: "cpu"},
		},
		{
			name: "--model is the argument's alias",
			args: []string{"--model", "m.onnx", "--random"},
			want: Options{ModelPath: "m.onnx", Source: modelinputs.Source{Random: true, Batch: 1, Seq: 16}, Backend: "ort", Device: "cpu"},
		},
		{
			name: "preset, native, header",
			args: []string{"--preset", "tiny", "--random", "--backend", "native", "--header"},
			want: Options{Preset: "tiny", Source: modelinputs.Source{Random: true, Batch: 1, Seq: 16}, Backend: "native", Device: "cpu", Header: true},
		},
		{
			name: "--cuda is --device cuda",
			args: []string{"m.onnx", "--random", "--cuda"},
			want: Options{ModelPath: "m.onnx", Source: modelinputs.Source{Random: true, Batch: 1, Seq: 16}, Backend: "ort", Device: "cuda"},
		},
		{
			name: "--device cuda",
			args: []string{"m.onnx", "--random", "--device", "cuda"},
			want: Options{ModelPath: "m.onnx", Source: modelinputs.Source{Random: true, Batch: 1, Seq: 16}, Backend: "ort", Device: "cuda"},
		},
		{
			name:    "cuda on native",
			args:    []string{"m.onnx", "--random", "--device", "cuda", "--backend", "native"},
			wantErr: "--device cuda needs --backend ort (the native backend runs on the CPU only)",
			flagErr: true,
		},
		{
			name:    "bad device",
			args:    []string{"m.onnx", "--random", "--device", "tpu"},
			wantErr: `invalid argument "tpu" for "--device" flag: want cpu or cuda`,
		},
		{
			name:    "file and preset",
			args:    []string{"m.onnx", "--preset", "tiny", "--random"},
			wantErr: "a model file and --preset cannot be used together: choose one",
			flagErr: true,
		},
		{
			name:    "argument and another --model",
			args:    []string{"a.onnx", "--model", "b.onnx", "--random"},
			wantErr: "two models given (a.onnx and --model b.onnx): name one",
			flagErr: true,
		},
		{
			name:    "no model",
			args:    []string{"--random"},
			wantErr: "no model given: name a MODEL.onnx file, or use --preset base|small|tiny",
			flagErr: true,
		},
		{
			name:    "two models",
			args:    []string{"a.onnx", "b.onnx", "--random"},
			wantErr: `unexpected argument "b.onnx": run takes one model file`,
			flagErr: true,
		},
		{
			name:    "no inputs",
			args:    []string{"m.onnx"},
			wantErr: "no inputs given: use --inputs FILE.safetensors or --random",
			flagErr: true,
		},
		{
			name:    "inputs and random",
			args:    []string{"m.onnx", "--random", "--inputs", "io.safetensors"},
			wantErr: "--inputs and --random cannot be used together",
			flagErr: true,
		},
		{
			name:    "prefix without inputs",
			args:    []string{"m.onnx", "--random", "--prefix", "input."},
			wantErr: "--prefix applies to --inputs only",
			flagErr: true,
		},
		{
			name:    "seq without random",
			args:    []string{"m.onnx", "--inputs", "io.safetensors", "--seq", "4"},
			wantErr: "--batch, --seq and --seed apply to --random only",
			flagErr: true,
		},
		{
			name:    "zero batch",
			args:    []string{"m.onnx", "--random", "--batch", "0"},
			wantErr: "--batch 0: must be at least 1",
			flagErr: true,
		},
		{
			name:    "negative threads",
			args:    []string{"m.onnx", "--random", "--threads", "-1"},
			wantErr: "--threads -1: must be 0 (the backend's default) or more",
			flagErr: true,
		},
		{
			name:    "unknown backend",
			args:    []string{"m.onnx", "--random", "--backend", "tvm"},
			wantErr: `unknown backend "tvm": want native or ort`,
			flagErr: true,
		},
		{
			name:    "bad seq value",
			args:    []string{"m.onnx", "--random", "--seq", "long"},
			wantErr: `invalid argument "long" for "--seq" flag: strconv.ParseInt: parsing "long": invalid syntax`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdRun(factory.New(ios, "test"), func(o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				var fe *cmdutil.FlagError
				if errors.As(err, &fe) != tt.flagErr {
					t.Errorf("error is a FlagError: %v, want %v", !tt.flagErr, tt.flagErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO, got.Ctx = nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	f, _ := runtime.NewFloat32([]int64{2, 3}, []float32{1, -2, 3, 4, 5, -6})
	s := summarize("y", f)
	want := outputStats{Name: "y", DType: "float32", Shape: []int64{2, 3}, Min: -6, Max: 5, Mean: 5.0 / 6, First: []cmdutil.Float{1, -2, 3, 4}}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v, want %+v", s, want)
	}
	b, _ := runtime.NewBool([]int64{4}, []bool{true, false, true, true})
	if s := summarize("m", b); s.Min != 0 || s.Max != 1 || s.Mean != 0.75 || len(s.First) != 4 {
		t.Errorf("bool summary %+v", s)
	}
	// float16 and bfloat16 are decoded (1, -2, 0.5 as IEEE half and as
	// bfloat16 bits), as compare.Values decodes them.
	h, _ := runtime.NewFloat16([]int64{3}, []uint16{0x3c00, 0xc000, 0x3800})
	bf, _ := runtime.NewBFloat16([]int64{3}, []uint16{0x3f80, 0xc000, 0x3f00})
	for _, tt := range []*runtime.Tensor{h, bf} {
		s := summarize("h", tt)
		want := outputStats{Name: "h", DType: tt.DType().String(), Shape: []int64{3}, Min: -2, Max: 1, Mean: -0.5 / 3, First: []cmdutil.Float{1, -2, 0.5}}
		if !reflect.DeepEqual(s, want) {
			t.Errorf("%s summary %+v, want %+v", tt.DType(), s, want)
		}
	}
	u, _ := runtime.NewUint16([]int64{2}, []uint16{3, 5})
	if s := summarize("u", u); s.Mean != 4 || len(s.First) != 2 {
		t.Errorf("uint16 summary %+v, want mean 4", s)
	}
	empty, _ := runtime.NewFloat32([]int64{0, 3}, nil)
	if s := summarize("e", empty); !math.IsNaN(float64(s.Mean)) || len(s.First) != 0 {
		t.Errorf("empty summary %+v, want no numbers", s)
	}
}
