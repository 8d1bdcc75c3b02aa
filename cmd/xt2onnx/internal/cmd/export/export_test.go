package export

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdtest"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/precision"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // --validate-backend accepts registered backends
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"
)

func TestNewCmdExport(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr string
		flagErr bool // the error is a *cmdutil.FlagError
	}{
		{
			name: "preset",
			args: []string{"--preset", "tiny", "-o", "tiny.onnx"},
			want: Options{Preset: "tiny", RandomWeights: true, Output: "tiny.onnx", Opset: 18, Mask: builder.MaskAuto, TritonMaxBatch: 8},
		},
		{
			name: "validate with two backends and a tolerance",
			args: []string{"--config", "c.json", "--weights", "w.safetensors", "-o", "m.onnx", "--validate", "ref", "--validate-backend", "ort,native", "--atol", "1e-4"},
			want: Options{ConfigPath: "c.json", WeightsPath: "w.safetensors", Output: "m.onnx", Opset: 18, TritonMaxBatch: 8, Validate: "ref", ValidateBackends: []string{"ort", "native"}, ATol: 1e-4},
		},
		{
			name: "validate with an rtol on the GPU",
			args: []string{"--preset", "tiny", "-o", "m.onnx", "--validate", "ref", "--rtol", "1e-3", "--device", "cuda"},
			want: Options{Preset: "tiny", RandomWeights: true, Output: "m.onnx", Opset: 18, TritonMaxBatch: 8, Validate: "ref", ValidateBackends: []string{"ort"}, RTol: 1e-3, Device: "cuda"},
		},
		{
			name:    "validate on the GPU with native",
			args:    []string{"--preset", "tiny", "-o", "m.onnx", "--validate", "ref", "--validate-backend", "native", "--device", "cuda"},
			wantErr: "--device cuda needs --validate-backend ort (the native backend runs on the CPU only)",
			flagErr: true,
		},
		{
			name: "preset with seed, inline, opset 17, json",
			args: []string{"--preset", "base", "--seed", "7", "--inline", "--opset", "17", "--json", "--output", "b.onnx"},
			want: Options{Preset: "base", RandomWeights: true, Seed: 7, Inline: true, Opset: 17, JSON: true, Output: "b.onnx", TritonMaxBatch: 8},
		},
		{
			name: "config and weights, mask on",
			args: []string{"--config", "c.json", "--weights", "w.safetensors", "--mask", "on", "--return-embeddings", "-o", "m.onnx"},
			want: Options{ConfigPath: "c.json", WeightsPath: "w.safetensors", Mask: builder.MaskOn, ReturnEmbeddings: true, Output: "m.onnx", Opset: 18, TritonMaxBatch: 8},
		},
		{
			name: "config with random weights, mask off",
			args: []string{"--config", "c.json", "--random-weights", "--seed", "3", "--mask", "off", "-o", "m.onnx"},
			want: Options{ConfigPath: "c.json", RandomWeights: true, Seed: 3, Mask: builder.MaskOff, Output: "m.onnx", Opset: 18, TritonMaxBatch: 8},
		},
		{
			name: "kv cache, triton repository named by -o",
			args: []string{"--preset", "tiny", "--kv-cache", "--triton-repo", "models", "-o", "out/tiny-kv.onnx"},
			want: Options{Preset: "tiny", RandomWeights: true, KVCache: true, KVLayout: builder.KVLayoutBuffer, TritonRepo: "models", Name: "tiny-kv", Output: "out/tiny-kv.onnx", Opset: 18, TritonMaxBatch: 8},
		},
		{
			name: "kv cache in the concat layout",
			args: []string{"--preset", "tiny", "--kv-cache", "--kv-layout", "concat", "-o", "t.onnx"},
			want: Options{Preset: "tiny", RandomWeights: true, KVCache: true, KVLayout: builder.KVLayoutConcat, Output: "t.onnx", Opset: 18, TritonMaxBatch: 8},
		},
		{
			name:    "kv layout without the cache",
			args:    []string{"--preset", "tiny", "--kv-layout", "concat", "-o", "t.onnx"},
			wantErr: "--kv-layout needs --kv-cache",
			flagErr: true,
		},
		{
			name: "triton repository without -o",
			args: []string{"--preset", "tiny", "--triton-repo", "models", "--name", "lm", "--triton-max-batch", "16"},
			want: Options{Preset: "tiny", RandomWeights: true, TritonRepo: "models", Name: "lm", Opset: 18, TritonMaxBatch: 16},
		},
		{
			name:    "triton repository without a name",
			args:    []string{"--preset", "tiny", "--triton-repo", "models"},
			wantErr: "--triton-repo needs a model name: add --name NAME (or -o FILE, whose stem names it)",
			flagErr: true,
		},
		{
			name:    "name without triton",
			args:    []string{"--preset", "tiny", "--name", "lm", "-o", "m.onnx"},
			wantErr: "--name and --triton-max-batch apply to --triton-repo only",
			flagErr: true,
		},
		{
			name:    "bad triton name",
			args:    []string{"--preset", "tiny", "--triton-repo", "models", "--name", "a/b"},
			wantErr: `--name "a/b": model name "a/b" cannot be a directory name: use letters, digits, '-', '_' or '.'`,
			flagErr: true,
		},
		{
			name:    "zero triton batch",
			args:    []string{"--preset", "tiny", "--triton-repo", "models", "--name", "lm", "--triton-max-batch", "0"},
			wantErr: "--triton-max-batch 0: must be at least 1",
			flagErr: true,
		},
		{
			name:    "no output",
			args:    []string{"--preset", "tiny"},
			wantErr: "-o/--output is required: name the .onnx file to write",
			flagErr: true,
		},
		{
			name:    "preset and config",
			args:    []string{"--preset", "tiny", "--config", "c.json", "-o", "m.onnx"},
			wantErr: "--preset and --config cannot be used together: choose a built-in model or a config file",
			flagErr: true,
		},
		{
			name:    "no model",
			args:    []string{"-o", "m.onnx"},
			wantErr: "no model given: use --config FILE with --weights FILE (or --random-weights), or --preset base|small|tiny",
			flagErr: true,
		},
		{
			name:    "config without weights",
			args:    []string{"--config", "c.json", "-o", "m.onnx"},
			wantErr: "--config needs --weights FILE (the model's safetensors state_dict); to export with seeded random weights instead, add --random-weights",
			flagErr: true,
		},
		{
			name:    "weights and random weights",
			args:    []string{"--config", "c.json", "--weights", "w.safetensors", "--random-weights", "-o", "m.onnx"},
			wantErr: "--weights and --random-weights cannot be used together",
			flagErr: true,
		},
		{
			name:    "weights with preset",
			args:    []string{"--preset", "tiny", "--weights", "w.safetensors", "-o", "m.onnx"},
			wantErr: "--weights cannot be used with --preset: presets use random weights (choose them with --seed)",
			flagErr: true,
		},
		{
			name:    "seed with weights",
			args:    []string{"--config", "c.json", "--weights", "w.safetensors", "--seed", "1", "-o", "m.onnx"},
			wantErr: "--seed applies to random weights only, not to --weights",
			flagErr: true,
		},
		{
			name:    "unknown preset",
			args:    []string{"--preset", "huge", "-o", "m.onnx"},
			wantErr: `unknown preset "huge": want base, small or tiny`,
			flagErr: true,
		},
		{
			name:    "unknown mask",
			args:    []string{"--preset", "tiny", "--mask", "maybe", "-o", "m.onnx"},
			wantErr: `invalid argument "maybe" for "--mask" flag: want auto, on or off`,
		},
		{
			name:    "opset 16",
			args:    []string{"--preset", "tiny", "--opset", "16", "-o", "m.onnx"},
			wantErr: "--opset 16 is not supported: want " + cmdutil.OrList(xtexport.Opsets()),
			flagErr: true,
		},
		{
			name: "int4 as MatMulNBits keeps the default opset",
			args: []string{"--preset", "tiny", "--quantize", "int4", "--quantize-format", "matmulnbits", "--accuracy-level", "4", "--block-size", "64", "-o", "m.onnx"},
			want: Options{Preset: "tiny", RandomWeights: true, Output: "m.onnx", Opset: 18, TritonMaxBatch: 8, DType: "float32",
				Quantize: "int4", BlockSize: 64, QuantizeFormat: "matmulnbits", AccuracyLevel: 4},
		},
		{
			name:    "MatMulNBits block size not a power of two",
			args:    []string{"--preset", "tiny", "--quantize", "int4", "--quantize-format", "matmulnbits", "--block-size", "24", "-o", "m.onnx"},
			wantErr: "--block-size 24: --quantize-format matmulnbits wants a power of two of at least 16 (16, 32, 64, 128…)",
			flagErr: true,
		},
		{
			name:    "quantize format without quantize",
			args:    []string{"--preset", "tiny", "--quantize-format", "matmulnbits", "-o", "m.onnx"},
			wantErr: "--quantize-format applies to --quantize only",
			flagErr: true,
		},
		{
			name:    "accuracy level with dq",
			args:    []string{"--preset", "tiny", "--quantize", "int4", "--accuracy-level", "4", "-o", "m.onnx"},
			wantErr: "--accuracy-level applies to --quantize-format matmulnbits only",
			flagErr: true,
		},
		{
			name:    "accuracy level 5",
			args:    []string{"--preset", "tiny", "--quantize", "int4", "--quantize-format", "matmulnbits", "--accuracy-level", "5", "-o", "m.onnx"},
			wantErr: "--accuracy-level 5: want 0 (unset), 1 (float32), 2 (float16), 3 (bfloat16) or 4 (int8)",
			flagErr: true,
		},
		{
			name:    "unknown quantize format",
			args:    []string{"--preset", "tiny", "--quantize", "int4", "--quantize-format", "qdq", "-o", "m.onnx"},
			wantErr: `invalid argument "qdq" for "--quantize-format" flag: want dq or matmulnbits`,
		},
		{
			name:    "positional argument",
			args:    []string{"model.json", "-o", "m.onnx"},
			wantErr: `unexpected argument "model.json": export takes flags only`,
			flagErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cmdtest.Parse(t, NewCmdExport, tt.args, tt.wantErr, tt.flagErr)
			if got == nil {
				return
			}
			got.IO, got.Ctx = nil, nil
			if reflect.DeepEqual(got.ValidateBackends, []string{"ort"}) && tt.want.ValidateBackends == nil {
				got.ValidateBackends = nil // the default, left out of the table
			}
			if got.DType == "auto" && tt.want.DType == "" {
				got.DType = "" // the defaults, left out of the table
			}
			if got.BlockSize == precision.DefaultBlockSize && tt.want.BlockSize == 0 {
				got.BlockSize = 0
			}
			if got.QuantizeFormat == precision.FormatDQ && tt.want.QuantizeFormat == "" {
				got.QuantizeFormat = ""
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestExportTriton(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "models")
	out := filepath.Join(dir, "tiny-kv.onnx")
	for _, tt := range []struct {
		name string
		args []string
		want summary
	}{
		{
			name: "file and repository, name from -o",
			args: []string{"--preset", "tiny", "--kv-cache", "--kv-layout", "concat", "-o", out, "--triton-repo", repo, "--json"},
			want: summary{Path: out, KVCache: true, KVLayout: "concat", TritonConfig: filepath.Join(repo, "tiny-kv", "config.pbtxt"), TritonModel: filepath.Join(repo, "tiny-kv", "1", "model.onnx")},
		},
		{
			// The buffer layout's cache_len has no batch dim, and the caller
			// owns the buffers: a model Triton must not batch.
			name: "buffer layout",
			args: []string{"--preset", "tiny", "--kv-cache", "--triton-repo", repo, "--name", "tiny-buf", "--json"},
			want: summary{Path: filepath.Join(repo, "tiny-buf", "1", "model.onnx"), KVCache: true, KVLayout: "buffer", TritonConfig: filepath.Join(repo, "tiny-buf", "config.pbtxt"), TritonModel: filepath.Join(repo, "tiny-buf", "1", "model.onnx")},
		},
		{
			name: "repository only",
			args: []string{"--preset", "tiny", "--triton-repo", repo, "--name", "tiny", "--triton-max-batch", "4", "--json"},
			want: summary{Path: filepath.Join(repo, "tiny", "1", "model.onnx"), TritonConfig: filepath.Join(repo, "tiny", "config.pbtxt"), TritonModel: filepath.Join(repo, "tiny", "1", "model.onnx")},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			stdout, _, err := cmdtest.Run(t, NewCmdExport, false, tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			var got summary
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("%v: %s", err, stdout)
			}
			if got.Path != tt.want.Path || got.KVCache != tt.want.KVCache || got.KVLayout != tt.want.KVLayout || got.TritonConfig != tt.want.TritonConfig || got.TritonModel != tt.want.TritonModel {
				t.Errorf("summary %+v, want %+v", got, tt.want)
			}
			model, err := os.ReadFile(got.TritonModel)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(model)) != got.Bytes {
				t.Errorf("repository model has %d bytes, summary says %d", len(model), got.Bytes)
			}
			cfg, err := os.ReadFile(got.TritonConfig)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{`platform: "onnxruntime_onnx"`, `name: "x"`, "data_type: TYPE_INT64"}
			var lacks []string
			switch {
			case tt.want.KVLayout == "buffer":
				want = append(want, `name: "cache_len"`, "dims: [ 1 ]", `name: "cache_key_0"`, "dims: [ -1, 4, 16, -1 ]", "dims: [ -1, -1, 256 ]", "max_batch_size: 0")
				lacks = append(lacks, "dynamic_batching")
			case tt.want.KVCache:
				want = append(want, "dynamic_batching { }", "dims: [ -1, 256 ]", `name: "past_key_0"`, "dims: [ 4, -1, 16 ]", "max_batch_size: 8")
			default:
				want = append(want, "dynamic_batching { }", "dims: [ -1, 256 ]", "max_batch_size: 4")
			}
			for _, w := range want {
				if !strings.Contains(string(cfg), w) {
					t.Errorf("config.pbtxt lacks %q:\n%s", w, cfg)
				}
			}
			for _, w := range lacks {
				if strings.Contains(string(cfg), w) {
					t.Errorf("config.pbtxt has %q:\n%s", w, cfg)
				}
			}
		})
	}
}
