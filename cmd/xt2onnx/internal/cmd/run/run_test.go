package run

import (
	"errors"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/runtime"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort" // registers "ort", which --backend accepts
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
			want: Options{ModelPath: "m.onnx", Random: true, Batch: 2, Seq: 16, Seed: 9, Backend: "ort"},
		},
		{
			name: "random defaults",
			args: []string{"m.onnx", "--random"},
			want: Options{ModelPath: "m.onnx", Random: true, Batch: 1, Seq: 16, Backend: "ort"},
		},
		{
			name: "inputs with prefix, output, threads, json",
			args: []string{"--inputs", "io.safetensors", "--prefix", "input.", "-o", "out.safetensors", "--threads", "4", "--json", "m.onnx"},
			want: Options{ModelPath: "m.onnx", InputsPath: "io.safetensors", Prefix: "input.", Output: "out.safetensors", Threads: 4, JSON: true, Batch: 1, Seq: 16, Backend: "ort"},
		},
		{
			name:    "no model",
			args:    []string{"--random"},
			wantErr: "missing MODEL.onnx: name the model file to run",
			flagErr: true,
		},
		{
			name:    "two models",
			args:    []string{"a.onnx", "b.onnx", "--random"},
			wantErr: `unexpected argument "b.onnx": run takes 1 argument(s)`,
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
			wantErr: `unknown backend "tvm": want ort`,
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

func TestRandomInputs(t *testing.T) {
	infos := []runtime.ValueInfo{
		{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}},
		{Name: "mask", DType: runtime.Bool, Shape: []int64{-1, -1}},
		{Name: "emb", DType: runtime.Float32, Shape: []int64{-1, -1, 8}, DimNames: []string{"batch", "seq", ""}},
	}
	seven := func(string) int64 { return 7 }
	got, err := randomInputs(infos, 3, 5, 1, seven)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"x": "int64[3 5]", "mask": "bool[3 5]", "emb": "float32[3 5 8]"} {
		if s := got[name].String(); s != want {
			t.Errorf("%s = %s, want %s", name, s, want)
		}
	}
	ids, _ := got["x"].Int64s()
	seen := map[int64]bool{}
	for _, id := range ids {
		if id < 0 || id >= 7 {
			t.Fatalf("token id %d outside [0, 7)", id)
		}
		seen[id] = true
	}
	if len(seen) < 3 {
		t.Errorf("15 ids drawn from [0, 7) hold only %d distinct values: %v", len(seen), ids)
	}
	mask, _ := got["mask"].Bools()
	for i, m := range mask {
		if !m {
			t.Fatalf("mask[%d] is false; --random masks are all true", i)
		}
	}
	again, _ := randomInputs(infos, 3, 5, 1, seven)
	if !reflect.DeepEqual(got["emb"].Data(), again["emb"].Data()) {
		t.Error("same seed gave different floats")
	}
	other, _ := randomInputs(infos, 3, 5, 2, seven)
	if reflect.DeepEqual(got["emb"].Data(), other["emb"].Data()) {
		t.Error("seeds 1 and 2 gave the same floats")
	}
}

// TestRandomInputsXTransformer checks per-input token ranges and *_seq dims.
func TestRandomInputsXTransformer(t *testing.T) {
	infos := []runtime.ValueInfo{
		{Name: "src", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "src_seq"}},
		{Name: "tgt", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "tgt_seq"}},
		{Name: "img", DType: runtime.Float32, Shape: []int64{-1, 3, 8, 8}, DimNames: []string{"batch", "", "", ""}},
	}
	l := modelLimits{vocab: map[string]int64{"src": 1, "tgt": 2}}
	got, err := randomInputs(infos, 2, 4, 0, l.tokens)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"src": "int64[2 4]", "tgt": "int64[2 4]", "img": "float32[2 3 8 8]"} {
		if s := got[name].String(); s != want {
			t.Errorf("%s = %s, want %s", name, s, want)
		}
	}
	src, _ := got["src"].Int64s()
	for _, id := range src {
		if id != 0 {
			t.Fatalf("src ids %v, want all 0 (num_tokens 1)", src)
		}
	}
	tgt, _ := got["tgt"].Int64s()
	for _, id := range tgt {
		if id < 0 || id > 1 {
			t.Fatalf("tgt ids %v, want them in [0, 2)", tgt)
		}
	}
	if l.tokens("other") != defaultVocab {
		t.Errorf("tokens of an input without num_tokens = %d, want %d", l.tokens("other"), defaultVocab)
	}
}

func TestRandomInputsErrors(t *testing.T) {
	tests := []struct {
		info runtime.ValueInfo
		want string
	}{
		{runtime.ValueInfo{Name: "x", DType: runtime.Int64}, `input "x" has no declared shape`},
		{runtime.ValueInfo{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1, -1}, DimNames: []string{"batch", "seq", "heads"}}, "dynamic dim 2 (heads) is neither batch nor seq"},
		{runtime.ValueInfo{Name: "s", DType: runtime.String, Shape: []int64{2}}, "--random cannot generate string values"},
	}
	for _, tt := range tests {
		_, err := randomInputs([]runtime.ValueInfo{tt.info}, 1, 1, 0, func(string) int64 { return 2 })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want it to contain %q", tt.info, err, tt.want)
		}
	}
}

func TestCheckSeq(t *testing.T) {
	infos := []runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}}
	x, _ := runtime.NewInt64([]int64{1, 5}, make([]int64, 5))
	in := map[string]*runtime.Tensor{"x": x}
	if err := checkSeq(infos, in, 5, "io.safetensors"); err != nil {
		t.Errorf("seq 5, max 5: %v", err)
	}
	if err := checkSeq(infos, in, 0, "io.safetensors"); err != nil {
		t.Errorf("unknown max: %v", err)
	}
	err := checkSeq(infos, in, 4, "io.safetensors")
	want := `inputs io.safetensors: input "x" has sequence length 5 (dim 1), longer than the model's max_seq_len 4: truncate it to 4`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
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
	u, _ := runtime.NewUint16([]int64{1}, []uint16{3})
	if s := summarize("u", u); !math.IsNaN(float64(s.Mean)) || len(s.First) != 0 {
		t.Errorf("uint16 summary %+v, want no numbers", s)
	}
}
