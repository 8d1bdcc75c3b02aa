package bench

import (
	"encoding/json"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers "native", which --backend accepts
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"    // registers "ort"
)

func TestNewCmdBench(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr string
		flagErr bool
	}{
		{
			name: "file, defaults",
			args: []string{"m.onnx"},
			want: Options{ModelPath: "m.onnx", Backend: "ort", Device: "cpu", Batch: 1, Warmup: 3, Iters: 20},
		},
		{
			name: "preset, forward flags, json",
			args: []string{"--preset", "small", "--batch", "4", "--seq", "64", "--warmup", "0", "--iters", "5", "--threads", "2", "--seed", "9", "--json"},
			want: Options{Preset: "small", Backend: "ort", Device: "cpu", Batch: 4, Seq: 64, Warmup: 0, Iters: 5, Threads: 2, Seed: 9, JSON: true},
		},
		{
			name: "generate: fewer runs by default",
			args: []string{"--preset", "base", "--generate", "256", "--prompt-len", "16"},
			want: Options{Preset: "base", Backend: "ort", Device: "cpu", Batch: 1, Warmup: 1, Iters: 3, Generate: 256, PromptLen: 16},
		},
		{
			name: "generate with explicit runs",
			args: []string{"m.onnx", "--generate", "8", "--iters", "5", "--warmup", "0"},
			want: Options{ModelPath: "m.onnx", Backend: "ort", Device: "cpu", Batch: 1, Warmup: 0, Iters: 5, Generate: 8},
		},
		{
			name: "--model, --max-new is --generate, cuda",
			args: []string{"--model", "m.onnx", "--max-new", "16", "--device", "cuda"},
			want: Options{ModelPath: "m.onnx", Backend: "ort", Device: "cuda", Batch: 1, Warmup: 1, Iters: 3, Generate: 16},
		},
		{name: "cuda on native", args: []string{"m.onnx", "--backend", "native", "--device", "cuda"}, flagErr: true, wantErr: "--device cuda needs --backend ort (the native backend runs on the CPU only)"},
		{name: "generate and max-new", args: []string{"m.onnx", "--generate", "8", "--max-new", "9"}, flagErr: true, wantErr: "--generate and --max-new are the same: give one"},
		{name: "zero seq", args: []string{"m.onnx", "--seq", "0"}, flagErr: true, wantErr: "--seq 0: must be at least 1"},
		{name: "no model", args: nil, flagErr: true, wantErr: "no model given: name a MODEL.onnx file, or use --preset base|small|tiny"},
		{name: "file and preset", args: []string{"m.onnx", "--preset", "tiny"}, flagErr: true, wantErr: "a model file and --preset cannot be used together: choose one"},
		{name: "two files", args: []string{"a.onnx", "b.onnx"}, flagErr: true, wantErr: `unexpected argument "b.onnx": bench takes one model file`},
		{name: "zero batch", args: []string{"m.onnx", "--batch", "0"}, flagErr: true, wantErr: "--batch 0: must be at least 1"},
		{name: "zero iters", args: []string{"m.onnx", "--iters", "0"}, flagErr: true, wantErr: "--iters 0: must be at least 1"},
		{name: "negative warmup", args: []string{"m.onnx", "--warmup", "-1"}, flagErr: true, wantErr: "--warmup -1: must be 0 or more"},
		{name: "prompt-len without generate", args: []string{"m.onnx", "--prompt-len", "8"}, flagErr: true, wantErr: "--prompt-len applies to --generate only: add --generate N"},
		{name: "seq with generate", args: []string{"m.onnx", "--generate", "8", "--seq", "8"}, flagErr: true, wantErr: "--seq applies to forward runs only; with --generate the prompt length is --prompt-len"},
		{name: "generate 0", args: []string{"m.onnx", "--generate", "0"}, flagErr: true, wantErr: "--generate 0: must be at least 1 token"},
		{name: "unknown preset", args: []string{"--preset", "huge"}, flagErr: true, wantErr: `unknown preset "huge": want base, small or tiny`},
		{name: "unknown backend", args: []string{"m.onnx", "--backend", "tpu"}, flagErr: true, wantErr: `unknown backend "tpu": want native or ort`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdBench(factory.New(ios, "test"), func(o *Options) error { got = o; return nil })
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

func run(t *testing.T, tty bool, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdoutTTY(tty)
	ios.SetStderrTTY(tty)
	cmd := NewCmdBench(factory.New(ios, "test"), nil)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	_, err = cmd.ExecuteC()
	return out.String(), errOut.String(), err
}

// keyValues parses key<TAB>value lines.
func keyValues(t *testing.T, s string) map[string]string {
	t.Helper()
	kv := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		k, v, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("line %q is not key<TAB>value", l)
		}
		kv[k] = v
	}
	return kv
}

func positive(t *testing.T, kv map[string]string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, err := strconv.ParseFloat(kv[k], 64)
		if err != nil || !(v > 0) {
			t.Errorf("%s = %q, want a positive number", k, kv[k])
		}
	}
}

func TestForward(t *testing.T) {
	stdout, stderr, err := run(t, false, "--preset", "tiny", "--batch", "2", "--seq", "16", "--warmup", "1", "--iters", "5")
	if err != nil {
		t.Fatal(err)
	}
	if stderr != "" {
		t.Errorf("stderr off a terminal: %q", stderr)
	}
	kv := keyValues(t, stdout)
	for k, want := range map[string]string{"model": "preset tiny", "backend": "ort", "batch": "2", "seq": "16", "iters": "5"} {
		if kv[k] != want {
			t.Errorf("%s = %q, want %q", k, kv[k], want)
		}
	}
	positive(t, kv, "latency_ms.p50", "latency_ms.p90", "latency_ms.p99", "latency_ms.mean", "tokens_per_second")
	p50, _ := strconv.ParseFloat(kv["latency_ms.p50"], 64)
	p99, _ := strconv.ParseFloat(kv["latency_ms.p99"], 64)
	if p50 > p99 {
		t.Errorf("p50 %v > p99 %v", p50, p99)
	}

	// JSON, on a terminal: progress bar on stderr, the object on stdout.
	stdout, stderr, err = run(t, true, "--preset", "tiny", "--seq", "8", "--warmup", "0", "--iters", "3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "benchmarking [") {
		t.Errorf("no progress bar on a terminal: %q", stderr)
	}
	var r forwardResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if r.Mode != "forward" || r.Iters != 3 || r.Seq != 8 || !(r.LatencyMS.Min <= r.LatencyMS.P50 && r.LatencyMS.P50 <= r.LatencyMS.Max) || !(r.TokensPerSecond > 0) {
		t.Errorf("json %+v", r)
	}

	_, _, err = run(t, false, "--preset", "tiny", "--seq", "200")
	if err == nil || err.Error() != "--seq 200 is longer than the model's max_seq_len 128: use --seq 128 or less" {
		t.Errorf("long seq: %v", err)
	}
}

func TestGenerate(t *testing.T) {
	stdout, _, err := run(t, false, "--preset", "tiny", "--generate", "8", "--prompt-len", "4", "--batch", "2", "--warmup", "0", "--iters", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var r generateResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Variants) != 2 || r.Variants[0].Name != "kv-cache" || r.Variants[1].Name != "no-cache" || len(r.Variants[0].RunsMS) != 2 {
		t.Fatalf("variants %+v", r.Variants)
	}
	if want := r.Variants[0].TokensPerSecond / r.Variants[1].TokensPerSecond; r.Speedup != want || !(want > 0) {
		t.Errorf("speedup %v, want %v", r.Speedup, want)
	}
	if r.TokensMatch == nil || !*r.TokensMatch {
		t.Errorf("tokens_match %v: the preset with and without the cache should generate the same greedy tokens", r.TokensMatch)
	}

	// A file without the cache: one variant, a note on stderr.
	cfg, _ := builder.Preset("tiny")
	m, err := builder.Build(cfg, builder.RandomWeights{}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := xtexport.WriteFile(path, m, xtexport.Options{}); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, false, path, "--generate", "4", "--prompt-len", "2", "--iters", "1")
	if err != nil {
		t.Fatal(err)
	}
	kv := keyValues(t, stdout)
	positive(t, kv, "variants.no-cache.tokens_per_second", "variants.no-cache.median_ms")
	if kv["speedup"] != "null" || kv["tokens_match"] != "null" {
		t.Errorf("speedup or tokens_match given with one variant:\n%s", stdout)
	}
	if !strings.Contains(stderr, "has no KV cache") || !strings.Contains(stderr, "--kv-cache") {
		t.Errorf("stderr %q: want a note suggesting --kv-cache", stderr)
	}
}

func TestStats(t *testing.T) {
	times := []float64{5, 1, 4, 2, 3, 10, 6, 7, 8, 9}
	got := stats(times)
	want := latency{P50: 5, P90: 9, P99: 10, Mean: 5.5, Min: 1, Max: 10}
	if got != want {
		t.Errorf("stats = %+v, want %+v", got, want)
	}
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median odd = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median even = %v", m)
	}
}

// jsonKeys returns the flattened keys of a JSON object: "a.b" for nested
// objects, "variants.NAME.key" for the variants.
func jsonKeys(t *testing.T, s string) []string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	var keys []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				walk(prefix+"."+k, e)
			}
		case []any:
			if len(v) > 0 {
				if _, ok := v[0].(map[string]any); ok {
					for _, e := range v {
						o := e.(map[string]any)
						name := o["name"].(string)
						delete(o, "name")
						walk(prefix+"."+name, o)
					}
					return
				}
			}
			keys = append(keys, prefix[1:])
		default:
			keys = append(keys, prefix[1:])
		}
	}
	walk("", m)
	slices.Sort(keys)
	return keys
}

// TestTextKeysAreJSONKeys checks that the text output names every result
// as --json does.
func TestTextKeysAreJSONKeys(t *testing.T) {
	for _, args := range [][]string{
		{"--preset", "tiny", "--seq", "8", "--warmup", "0", "--iters", "1"},
		{"--preset", "tiny", "--max-new", "2", "--prompt-len", "2", "--warmup", "0", "--iters", "1"},
	} {
		text, _, err := run(t, false, args...)
		if err != nil {
			t.Fatal(err)
		}
		js, _, err := run(t, false, append(args, "--json")...)
		if err != nil {
			t.Fatal(err)
		}
		var textKeys []string
		for k := range keyValues(t, text) {
			textKeys = append(textKeys, k)
		}
		slices.Sort(textKeys)
		if want := jsonKeys(t, js); !slices.Equal(textKeys, want) {
			t.Errorf("%v: text keys\n%q\nJSON keys\n%q", args, textKeys, want)
		}
	}
}

// TestModelLimits checks that the defaults fit a model whose max_seq_len
// is below them (the fixtures' 64): --seq and --prompt-len shrink to it.
func TestModelLimits(t *testing.T) {
	cfg, err := builder.LoadConfig("../../../../../fixtures/xtransformers-1.9.2/dec_basic/config.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := builder.Build(cfg, builder.RandomWeights{}, "", builder.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dec_basic.onnx")
	if err := xtexport.WriteFile(path, m, xtexport.Options{}); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := run(t, false, path, "--warmup", "0", "--iters", "1")
	if err != nil {
		t.Fatalf("bench with the defaults: %v", err)
	}
	if kv := keyValues(t, stdout); kv["seq"] != "64" {
		t.Errorf("seq %q, want the model's max_seq_len 64\n%s", kv["seq"], stdout)
	}
	_, _, err = run(t, false, path, "--seq", "65")
	if err == nil || err.Error() != "--seq 65 is longer than the model's max_seq_len 64: use --seq 64 or less" {
		t.Errorf("--seq 65: %v", err)
	}
}

// TestGenerateProgress checks that the generation bench labels its phases
// and shows the rate and the time left on a terminal.
func TestGenerateProgress(t *testing.T) {
	_, stderr, err := run(t, true, "--preset", "tiny", "--max-new", "3", "--prompt-len", "2", "--iters", "2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kv-cache warm-up 1/1 [", "kv-cache run 2/2 [", "no-cache warm-up 1/1 [", "no-cache run 1/2 [", " tokens/s, ETA "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("progress lacks %q:\n%q", want, stderr)
		}
	}
}
