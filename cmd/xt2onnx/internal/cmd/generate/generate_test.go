package generate

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdtest"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	gen "github.com/xt2onnx/xt2onnx/runtime/generate"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort" // registers "ort", which --backend accepts
)

func TestNewCmdGenerate(t *testing.T) {
	eos := int64(2)
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr string
		flagErr bool
	}{
		{
			name: "defaults: top-k 0.9",
			args: []string{"--model", "m.onnx", "--prompt-tokens", "1,2,3"},
			want: Options{ModelPath: "m.onnx", Prompts: [][]int64{{1, 2, 3}}, Backend: "ort", Device: "cpu",
				Gen: gen.Options{MaxNew: 64, Temperature: 1, Filter: gen.FilterTopK, FilterThres: 0.9}},
		},
		{
			name: "batch, top-p, seed, eos and pad, json",
			args: []string{"--preset", "tiny", "--batch-prompts", "1,2; 3,4", "--top-p", "0.8", "--seed", "7", "--eos", "2", "--pad", "9", "--max-new", "5", "--json", "--threads", "2"},
			want: Options{Preset: "tiny", Prompts: [][]int64{{1, 2}, {3, 4}}, Backend: "ort", Device: "cpu", JSON: true, Threads: 2,
				Gen: gen.Options{MaxNew: 5, Temperature: 1, Filter: gen.FilterTopP, FilterThres: 0.8, Seed: 7, EOSToken: &eos, PadValue: 9}},
		},
		{
			name: "the model as the first argument, on the GPU",
			args: []string{"m.onnx", "--prompt-tokens", "1", "--device", "cuda"},
			want: Options{ModelPath: "m.onnx", Prompts: [][]int64{{1}}, Backend: "ort", Device: "cuda",
				Gen: gen.Options{MaxNew: 64, Temperature: 1, Filter: gen.FilterTopK, FilterThres: 0.9}},
		},
		{
			name: "greedy, no cache",
			args: []string{"--model", "m.onnx", "--prompt-tokens", "4", "--greedy", "--no-cache"},
			want: Options{ModelPath: "m.onnx", Prompts: [][]int64{{4}}, Backend: "ort", Device: "cpu",
				Gen: gen.Options{MaxNew: 64, Temperature: 1, Filter: gen.FilterTopK, FilterThres: 0.9, Greedy: true, NoCache: true}},
		},
		{
			name: "top-a with its parameters and a temperature",
			args: []string{"--model", "m.onnx", "--prompt-tokens", "4", "--top-a", "--min-p-pow", "1.5", "--min-p-ratio", "0.1", "--temperature", "0.5"},
			want: Options{ModelPath: "m.onnx", Prompts: [][]int64{{4}}, Backend: "ort", Device: "cpu",
				Gen: gen.Options{MaxNew: 64, Temperature: 0.5, Filter: gen.FilterTopA, MinPPow: 1.5, MinPRatio: 0.1}},
		},
		{
			name: "top-k threshold",
			args: []string{"--model", "m.onnx", "--prompt-tokens", "4", "--top-k-thres", "0.5"},
			want: Options{ModelPath: "m.onnx", Prompts: [][]int64{{4}}, Backend: "ort", Device: "cpu",
				Gen: gen.Options{MaxNew: 64, Temperature: 1, Filter: gen.FilterTopK, FilterThres: 0.5}},
		},
		{name: "no model", args: []string{"--prompt-tokens", "1"}, flagErr: true,
			wantErr: "no model given: name a MODEL.onnx file, or use --preset base|small|tiny"},
		{name: "model and preset", args: []string{"--model", "m.onnx", "--preset", "tiny", "--prompt-tokens", "1"}, flagErr: true,
			wantErr: "a model file and --preset cannot be used together: choose one"},
		{name: "no prompt", args: []string{"--model", "m.onnx"}, flagErr: true,
			wantErr: `no prompt given: use --prompt-tokens 1,2,3 or --batch-prompts "1,2;3,4" (or --demask for a non-causal model)`},
		{name: "two prompt flags", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--batch-prompts", "1;2"}, flagErr: true,
			wantErr: "--prompt-tokens and --batch-prompts cannot be used together: put every row in --batch-prompts"},
		{name: "two filters", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--greedy", "--top-p", "0.9"}, flagErr: true,
			wantErr: "choose one of --greedy, --top-k-thres, --top-p and --top-a"},
		{name: "min-p without top-a", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--min-p-pow", "3"}, flagErr: true,
			wantErr: "--min-p-pow and --min-p-ratio apply to --top-a only"},
		{name: "greedy with temperature", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--greedy", "--temperature", "2"}, flagErr: true,
			wantErr: "--temperature does not apply to --greedy (which always picks the most likely token)"},
		{name: "pad without eos", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--pad", "0"}, flagErr: true,
			wantErr: "--pad applies with --eos only: add --eos TOKEN"},
		{name: "zero temperature", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--temperature", "0"}, flagErr: true,
			wantErr: "--temperature 0: must be positive (for the most likely token use --greedy)"},
		{name: "top-p 1", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--top-p", "1"}, flagErr: true,
			wantErr: "--top-p 1: must be between 0 and 1"},
		{name: "top-k 0", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--top-k-thres", "0"}, flagErr: true,
			wantErr: "--top-k-thres 0: must be between 0 and 1 (0.9 keeps the best tenth of the vocabulary)"},
		{name: "negative max-new", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--max-new", "-1"}, flagErr: true,
			wantErr: "--max-new -1: must be 0 or more"},
		{name: "bad token", args: []string{"--model", "m.onnx", "--prompt-tokens", "1,x"}, flagErr: true,
			wantErr: `--prompt-tokens: "x" is not a token id (a non-negative integer); separate ids with ',' and --batch-prompts rows with ';'`},
		{name: "rows in prompt-tokens", args: []string{"--model", "m.onnx", "--prompt-tokens", "1;2"}, flagErr: true,
			wantErr: `--prompt-tokens: "1;2" is not a token id (a non-negative integer); separate ids with ',' and --batch-prompts rows with ';'`},
		{name: "ragged rows", args: []string{"--model", "m.onnx", "--batch-prompts", "1,2;3"}, flagErr: true,
			wantErr: "--batch-prompts: row 2 has 1 tokens and row 1 has 2: all rows must have the same length"},
		{name: "empty row", args: []string{"--model", "m.onnx", "--batch-prompts", "1;"}, flagErr: true,
			wantErr: "--batch-prompts: empty prompt: give comma-separated token ids such as 1,2,3"},
		{name: "unknown preset", args: []string{"--preset", "huge", "--prompt-tokens", "1"}, flagErr: true,
			wantErr: `unknown preset "huge": want base, small or tiny`},
		{name: "unknown backend", args: []string{"--model", "m.onnx", "--prompt-tokens", "1", "--backend", "tpu"}, flagErr: true,
			wantErr: `unknown backend "tpu": want ort`},
		{name: "cuda on native", args: []string{"m.onnx", "--prompt-tokens", "1", "--backend", "native", "--device", "cuda"}, flagErr: true,
			wantErr: `unknown backend "native": want ort`},
		{name: "two models", args: []string{"a.onnx", "b.onnx", "--prompt-tokens", "1"}, flagErr: true,
			wantErr: `unexpected argument "b.onnx": generate takes one model file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := cmdtest.Parse(t, NewCmdGenerate, tt.args, tt.wantErr, tt.flagErr)
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

// tinyFile exports the tiny preset (random weights, seed 0) without the KV
// cache.
func tinyFile(t *testing.T) string {
	t.Helper()
	return presetFile(t, builder.LayersDecoder)
}

// presetFile exports the tiny preset's config with its layers made a
// Decoder or an Encoder.
func presetFile(t *testing.T, layers builder.LayersType) string {
	t.Helper()
	cfg, err := builder.Preset("tiny")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Layers.Type = layers
	m, err := builder.Build(cfg, builder.RandomWeights{}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := xtexport.WriteFile(path, m, xtexport.Options{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func run(t *testing.T, tty bool, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return cmdtest.Run(t, NewCmdGenerate, tty, args...)
}

var rateLine = regexp.MustCompile(`^generated 2 × 6 tokens in [0-9.]+s: [0-9.]+ tokens/s \(ort, (KV cache|no KV cache)\)\n$`)

func TestGenerateRun(t *testing.T) {
	file := tinyFile(t)
	// The preset (with the cache) and the exported file (without) hold the
	// same weights, so greedy decoding gives the same tokens.
	var lines []string
	for _, tt := range []struct {
		name  string
		tty   bool
		args  []string
		cache string
	}{
		{"preset with cache", false, []string{"--preset", "tiny"}, "KV cache"},
		{"file without cache", false, []string{"--model", file}, "no KV cache"},
		{"preset, cache off, tty", true, []string{"--preset", "tiny", "--no-cache"}, "no KV cache"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := append(tt.args, "--batch-prompts", "1,2,3;4,5,6", "--max-new", "6", "--greedy")
			stdout, stderr, err := run(t, tt.tty, args...)
			if err != nil {
				t.Fatal(err)
			}
			rows := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			if len(rows) != 2 || len(strings.Fields(rows[0])) != 6 || len(strings.Fields(rows[1])) != 6 {
				t.Fatalf("stdout %q: want 2 lines of 6 tokens", stdout)
			}
			if lines == nil {
				lines = rows
			} else if !reflect.DeepEqual(rows, lines) {
				t.Errorf("tokens %q, want %q (same weights, greedy)", rows, lines)
			}
			_, last, _ := strings.Cut(stderr[strings.LastIndex(stderr, "\x1b[K")+1:], "generated") // after the erased progress
			last = "generated" + last
			if !rateLine.MatchString(last) || !strings.Contains(last, "("+"ort, "+tt.cache+")") {
				t.Errorf("stderr last line %q, want the rate with %q", last, tt.cache)
			}
			if hasBar := strings.Contains(stderr, "generating ["); hasBar != tt.tty {
				t.Errorf("progress bar shown: %v, want %v (tty %v): %q", hasBar, tt.tty, tt.tty, stderr)
			}
		})
	}

	t.Run("json, sampling reproducible", func(t *testing.T) {
		var first result
		for i := range 2 {
			stdout, _, err := run(t, false, "--preset", "tiny", "--prompt-tokens", "7,8", "--max-new", "10", "--top-p", "0.5", "--seed", "3", "--json")
			if err != nil {
				t.Fatal(err)
			}
			var r result
			if err := json.Unmarshal([]byte(stdout), &r); err != nil {
				t.Fatalf("%v\n%s", err, stdout)
			}
			if r.Model != "preset tiny (KV cache)" || !r.KVCache || r.NewTokens != 10 || len(r.Tokens) != 1 || len(r.Tokens[0]) != 10 || !reflect.DeepEqual(r.Prompt, [][]int64{{7, 8}}) || r.TokensPerSecond <= 0 {
				t.Errorf("json result %+v", r)
			}
			if i == 0 {
				first = r
			} else if !reflect.DeepEqual(r.Tokens, first.Tokens) {
				t.Errorf("seed 3 gave %v, then %v", first.Tokens, r.Tokens)
			}
		}
	})

	t.Run("eos", func(t *testing.T) {
		// Greedy row: find its first token and stop on it at once.
		stdout, _, err := run(t, false, "--model", file, "--prompt-tokens", "1,2,3", "--max-new", "1", "--greedy")
		if err != nil {
			t.Fatal(err)
		}
		first := strings.TrimSpace(stdout)
		stdout, _, err = run(t, false, "--model", file, "--prompt-tokens", "1,2,3", "--max-new", "20", "--greedy", "--eos", first, "--pad", "0")
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(stdout) != first {
			t.Errorf("with --eos %s: %q, want generation to stop after that one token", first, stdout)
		}
	})

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"token outside the vocabulary", []string{"--model", file, "--prompt-tokens", "300"}, "generate: prompt row 0, position 0: token 300 is outside the vocabulary [0, 256)"},
		{"missing file", []string{"--model", filepath.Join(t.TempDir(), "none.onnx"), "--prompt-tokens", "1"}, "no such file or directory"},
		{"non-causal encoder", []string{"--model", presetFile(t, builder.LayersEncoder), "--prompt-tokens", "1"}, "generate: the model is a non-causal TransformerWrapper (an Encoder)"},
		{"graph without metadata", []string{"--model", "../../../../../fixtures/xtransformers-1.9.2/dec_basic/torch_ts.onnx", "--prompt-tokens", "1"}, "generate: the model carries no xt2onnx metadata"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, false, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// xtParts exports the enc_dec fixture's encoder part and its decoder part
// (with the KV cache).
func xtParts(t *testing.T) (enc, dec string) {
	t.Helper()
	dir := "../../../../../fixtures/xtransformers-1.9.2/enc_dec"
	cfg, err := builder.LoadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := builder.OpenWeights(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	tmp := t.TempDir()
	for _, p := range []struct {
		part builder.Part
		path *string
	}{{builder.PartEncoder, &enc}, {builder.PartDecoder, &dec}} {
		m, err := builder.Build(cfg, w, "", builder.Options{Part: p.part, KVCache: p.part == builder.PartDecoder})
		if err != nil {
			t.Fatal(err)
		}
		*p.path = filepath.Join(tmp, string(p.part)+".onnx")
		if err := xtexport.WriteFile(*p.path, m, xtexport.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	return enc, dec
}

// TestGenerateSeq2Seq runs an XTransformer from its two parts, with and
// without the decoder's cache (same greedy tokens), and checks the flag
// errors.
func TestGenerateSeq2Seq(t *testing.T) {
	enc, dec := xtParts(t)
	var first string
	for _, extra := range [][]string{nil, {"--no-cache"}} {
		args := append([]string{"--encoder", enc, "--model", dec, "--batch-src", "1,2,3,4,5;6,7,8,9,10", "--batch-prompts", "1;2", "--max-new", "8", "--greedy"}, extra...)
		stdout, _, err := run(t, false, args...)
		if err != nil {
			t.Fatal(err)
		}
		rows := strings.Split(strings.TrimSpace(stdout), "\n")
		if len(rows) != 2 || len(strings.Fields(rows[0])) != 8 || len(strings.Fields(rows[1])) != 8 {
			t.Fatalf("%v: stdout %q, want 2 rows of 8 tokens", extra, stdout)
		}
		if first == "" {
			first = stdout
		} else if stdout != first {
			t.Errorf("--no-cache gave %q, the cache %q", stdout, first)
		}
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"source without encoder", []string{"--model", dec, "--src-tokens", "1", "--prompt-tokens", "1"}, "--src-tokens and --batch-src need --encoder"},
		{"encoder without source", []string{"--encoder", enc, "--model", dec, "--prompt-tokens", "1"}, "--encoder needs the source"},
		{"rows differ", []string{"--encoder", enc, "--model", dec, "--batch-src", "1;2", "--prompt-tokens", "1"}, "2 source rows for 1 prompt rows"},
		{"decoder part alone", []string{"--model", dec, "--prompt-tokens", "1"}, "generate: the model is an XTransformer"},
		{"parts swapped", []string{"--encoder", dec, "--model", enc, "--src-tokens", "1", "--prompt-tokens", "1"}, `the decoder model is an XTransformer's "encoder" part`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, false, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
