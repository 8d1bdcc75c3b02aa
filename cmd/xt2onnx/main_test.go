package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/buildinfo"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

const fixtures = "../../fixtures/xtransformers-1.9.2"

// result is what one in-process invocation of xt2onnx produced.
type result struct {
	code        int
	stdout      string
	stderr      string
	stdoutLines []string
}

// xt2onnx runs the command line args in-process, streams off a terminal.
func xt2onnx(t *testing.T, args ...string) result {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	return runWith(ios, out, errOut, args)
}

func runWith(ios *iostreams.IOStreams, out, errOut *bytes.Buffer, args []string) result {
	code := execute(context.Background(), args, ios)
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	if s := strings.TrimSuffix(r.stdout, "\n"); s != "" {
		r.stdoutLines = strings.Split(s, "\n")
	}
	return r
}

func (r result) lastLine() string {
	if len(r.stdoutLines) == 0 {
		return ""
	}
	return r.stdoutLines[len(r.stdoutLines)-1]
}

// unsupportedConfig is dec_basic's config with an option combination the
// builder refuses (x-transformers 1.9.2 itself fails on it).
const unsupportedConfig = `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 64, "max_seq_len": 64},
 "attn_layers": {"type": "Decoder", "dim": 32, "depth": 2, "heads": 4, "attn_dim_head": 8,
  "dynamic_pos_bias": true, "attn_num_mem_kv": 2}}`

// unsupportedFixture returns a fixture directory with dec_basic's inputs and
// weights and unsupportedConfig.
func unsupportedFixture(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "dec_unsupported")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"io.safetensors", "model.safetensors"} {
		data, err := os.ReadFile(filepath.Join(fixtures, "dec_basic", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(unsupportedConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// exportTiny exports the tiny preset into a temporary directory.
func exportTiny(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	r := xt2onnx(t, "export", "--preset", "tiny", "-o", path)
	if r.code != 0 {
		t.Fatalf("export: exit %d\n%s", r.code, r.stderr)
	}
	return path
}

func TestExportInspectRun(t *testing.T) {
	path := exportTiny(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}

	// export's summary: key<TAB>value lines off a terminal.
	r := xt2onnx(t, "export", "--preset", "tiny", "-o", path)
	summary := map[string]string{}
	for _, l := range r.stdoutLines {
		k, v, _ := strings.Cut(l, "\t")
		summary[k] = v
	}
	want := map[string]string{"path": path, "bytes": fmt.Sprint(fi.Size()), "opset": "18", "params": "140815", "functions": "1"}
	for k, v := range want {
		if summary[k] != v {
			t.Errorf("export summary %s = %q, want %q\n%s", k, summary[k], v, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("export wrote to stderr off a terminal: %q", r.stderr)
	}

	t.Run("inspect", func(t *testing.T) {
		r := xt2onnx(t, "inspect", path)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		for _, l := range []string{"input\tx\tint64\t[batch seq]", "output\tlogits\tfloat32\t[batch seq 256]", "opset\tai.onnx\t18", "params\t140815"} {
			if !strings.Contains(r.stdout, l+"\n") {
				t.Errorf("inspect output lacks %q:\n%s", l, r.stdout)
			}
		}
		var matmul bool
		for _, l := range r.stdoutLines {
			f := strings.Split(l, "\t")
			matmul = matmul || (f[0] == "op" && f[1] == "MatMul" && f[2] != "0")
		}
		if !matmul {
			t.Errorf("op histogram has no MatMul:\n%s", r.stdout)
		}

		r = xt2onnx(t, "inspect", "--json", path)
		var rep struct {
			Inputs []struct {
				Name  string `json:"name"`
				Shape []any  `json:"shape"`
			} `json:"inputs"`
			Ops []struct {
				Op    string `json:"op"`
				Count int    `json:"count"`
			} `json:"ops"`
			Metadata map[string]json.RawMessage `json:"metadata"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("inspect --json: %v\n%s", err, r.stdout)
		}
		if len(rep.Inputs) != 1 || rep.Inputs[0].Name != "x" || !reflect.DeepEqual(rep.Inputs[0].Shape, []any{"batch", "seq"}) {
			t.Errorf("inputs %+v, want x [batch seq]", rep.Inputs)
		}
		counts := map[string]int{}
		for i, op := range rep.Ops {
			counts[op.Op] = op.Count
			if i > 0 && op.Count > rep.Ops[i-1].Count {
				t.Errorf("ops not sorted by count: %v", rep.Ops)
			}
		}
		if counts["MatMul"] == 0 {
			t.Errorf("no MatMul in %v", rep.Ops)
		}
		cfg, err := builder.ParseConfig(rep.Metadata[builder.MetaConfig])
		if err != nil || cfg.Wrapper.NumTokens != 256 {
			t.Errorf("embedded config: %v %+v", err, cfg)
		}
	})

	t.Run("run", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.safetensors")
		r := xt2onnx(t, "run", path, "--random", "--batch", "2", "--seq", "16", "-o", out)
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		if len(r.stdoutLines) != 1 {
			t.Fatalf("want one line per output, got:\n%s", r.stdout)
		}
		f := strings.Split(r.stdoutLines[0], "\t")
		if len(f) != 7 || f[0] != "logits" || f[1] != "float32" || f[2] != "[2 16 256]" || len(strings.Fields(f[6])) != 4 {
			t.Errorf("summary line %q, want logits, float32, [2 16 256], min, max, mean, 4 values", r.stdoutLines[0])
		}
		st, err := safetensors.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		info, ok := st.Info("logits")
		if !ok || !reflect.DeepEqual(info.Shape, []int64{2, 16, 256}) {
			t.Errorf("-o file: logits %+v (present %v)", info, ok)
		}

		// The same seed gives the same outputs; --json gives the same numbers.
		r2 := xt2onnx(t, "run", path, "--random", "--batch", "2", "--seq", "16", "--json")
		var stats []struct {
			Name  string    `json:"name"`
			Shape []int64   `json:"shape"`
			Min   *float64  `json:"min"`
			First []float64 `json:"first"`
		}
		if err := json.Unmarshal([]byte(r2.stdout), &stats); err != nil {
			t.Fatalf("run --json: %v\n%s", err, r2.stdout)
		}
		if len(stats) != 1 || !reflect.DeepEqual(stats[0].Shape, []int64{2, 16, 256}) || stats[0].Min == nil || fmt.Sprintf("%.6g", *stats[0].Min) != f[3] {
			t.Errorf("run --json %+v, text line %q", stats, r.stdoutLines[0])
		}
	})

	t.Run("run on a terminal", func(t *testing.T) {
		ios, _, out, errOut := iostreams.Test()
		ios.SetStdoutTTY(true)
		r := runWith(ios, out, errOut, []string{"run", path, "--random", "--seq", "3"})
		if r.code != 0 || len(r.stdoutLines) != 2 || !strings.HasPrefix(r.stdoutLines[0], "NAME    DTYPE    SHAPE      MIN") || !strings.Contains(r.stdoutLines[1], "  [1 3 256]  ") {
			t.Errorf("exit %d, table:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("run errors", func(t *testing.T) {
		r := xt2onnx(t, "run", path, "--random", "--seq", "129")
		if r.code != 1 || r.stderr != "xt2onnx: --seq 129 is longer than the model's max_seq_len 128: use --seq 128 or less\n" {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		r = xt2onnx(t, "run", path, "--inputs", filepath.Join(fixtures, "dec_basic", "io.safetensors"))
		if r.code != 1 || !strings.Contains(r.stderr, `no tensor "x" for model input x`) || !strings.Contains(r.stderr, "add --prefix input.") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}

func TestRunFixtureInputs(t *testing.T) {
	dir := filepath.Join(fixtures, "dec_basic")
	model := filepath.Join(t.TempDir(), "dec_basic.onnx")
	r := xt2onnx(t, "export", "--config", filepath.Join(dir, "config.json"), "--weights", filepath.Join(dir, "model.safetensors"), "-o", model)
	if r.code != 0 {
		t.Fatalf("export: exit %d: %s", r.code, r.stderr)
	}
	r = xt2onnx(t, "run", model, "--inputs", filepath.Join(dir, "io.safetensors"), "--prefix", "input.", "--json")
	if r.code != 0 {
		t.Fatalf("run: exit %d: %s", r.code, r.stderr)
	}
	var stats []struct {
		Shape []int64 `json:"shape"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &stats); err != nil || len(stats) != 1 || !reflect.DeepEqual(stats[0].Shape, []int64{2, 17, 64}) {
		t.Errorf("%v: %s", err, r.stdout)
	}
}

// TestRunRandomEveryKind runs --random on one fixture of each wrapper kind:
// int64 src/tgt with *_seq dims, float embeddings, images, context inputs.
func TestRunRandomEveryKind(t *testing.T) {
	for c, want := range map[string]string{
		"enc_dec":        "logits\tfloat32\t[2 5 64]",
		"cross_attender": "out\tfloat32\t[2 5 32]",
		"continuous_enc": "out\tfloat32\t[2 5 5]",
		"vit":            "logits\tfloat32\t[2 10]",
	} {
		dir := filepath.Join(fixtures, c)
		model := filepath.Join(t.TempDir(), c+".onnx")
		r := xt2onnx(t, "export", "--config", filepath.Join(dir, "config.json"), "--weights", filepath.Join(dir, "model.safetensors"), "-o", model)
		if r.code != 0 {
			t.Errorf("%s: export: exit %d: %s", c, r.code, r.stderr)
			continue
		}
		r = xt2onnx(t, "run", model, "--random", "--batch", "2", "--seq", "5")
		if r.code != 0 || len(r.stdoutLines) != 1 || !strings.HasPrefix(r.stdoutLines[0], want+"\t") || r.stderr != "" {
			t.Errorf("%s: run: exit %d, stdout %q (want it to start %q), stderr %q", c, r.code, r.stdout, want, r.stderr)
		}
	}
}

func TestVerify(t *testing.T) {
	r := xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "dec_basic"))
	if r.code != 0 || !strings.HasPrefix(r.lastLine(), "PASS dec_basic graph=built backend=ort max_abs_diff=") {
		t.Errorf("dec_basic: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if len(r.stdoutLines) != 2 || !strings.HasPrefix(r.stdoutLines[0], "output logits shape=[2 17 64] max_abs_diff=") {
		t.Errorf("dec_basic: want an output line before the verdict:\n%s", r.stdout)
	}

	r = xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "dec_alibi"), "--graph", "torch_dynamo")
	if r.code != 0 || !strings.HasPrefix(r.lastLine(), "PASS dec_alibi graph=torch_dynamo backend=ort max_abs_diff=") {
		t.Errorf("dec_alibi torch_dynamo: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	// A config the builder refuses is a FAIL with the builder's message.
	r = xt2onnx(t, "verify", "--fixture", unsupportedFixture(t))
	if r.code != 1 || !strings.HasPrefix(r.lastLine(), "FAIL dec_unsupported graph=built backend=ort attn_layers.dynamic_pos_bias") {
		t.Errorf("unsupported: exit %d, stdout:\n%s", r.code, r.stdout)
	}
	if r.stderr != "" {
		t.Errorf("unsupported: a FAIL is reported on stdout only, stderr has %q", r.stderr)
	}

	// A difference above --tol is a FAIL that names both numbers.
	r = xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "dec_basic"), "--tol", "1e-12")
	if r.code != 1 || !strings.HasPrefix(r.lastLine(), "FAIL dec_basic graph=built backend=ort max_abs_diff=") || !strings.Contains(r.lastLine(), " exceeds tol=1e-12 (PyTorch's own float32 error: ") {
		t.Errorf("--tol 1e-12: exit %d, stdout:\n%s", r.code, r.stdout)
	}

	r = xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "dec_basic"), "--json", "--inline")
	var res struct {
		Pass       bool     `json:"pass"`
		Inline     bool     `json:"inline"`
		MaxAbsDiff *float64 `json:"max_abs_diff"`
		Line       string   `json:"line"`
	}
	// Indented, as every --json output is.
	if !strings.HasPrefix(r.stdout, "{\n  \"") {
		t.Errorf("--json is not indented: %.40q", r.stdout)
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || r.code != 0 || !res.Pass || !res.Inline || res.MaxAbsDiff == nil || !strings.HasPrefix(res.Line, "PASS dec_basic") {
		t.Errorf("--json: exit %d, %v, %+v\n%s", r.code, err, res, r.stdout)
	}

	r = xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "no_such_case"))
	if r.code != 1 || !strings.Contains(r.stderr, "no_such_case: no such directory") {
		t.Errorf("missing fixture: exit %d, stderr %q", r.code, r.stderr)
	}
}

// assertNoFiles fails when dir holds any file (a partial output or a
// leftover temporary file).
func assertNoFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("%s left behind", e.Name())
	}
}

func TestExportFailuresLeaveNoFile(t *testing.T) {
	basic := filepath.Join(fixtures, "dec_basic")
	unsupported := filepath.Join(unsupportedFixture(t), "config.json")
	malformed := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(malformed, []byte("{\"kind\": \"TransformerWrapper\",\n \"wrapper\": {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"missing weights file", []string{"--config", filepath.Join(basic, "config.json"), "--weights", filepath.Join(basic, "nope.safetensors")}, 1, "nope.safetensors"},
		{"malformed config", []string{"--config", malformed, "--weights", filepath.Join(basic, "model.safetensors")}, 1, malformed + ":2:14: malformed JSON"},
		{"missing config", []string{"--config", filepath.Join(basic, "nope.json"), "--random-weights"}, 1, "nope.json"},
		{"weights of another model", []string{"--config", filepath.Join(basic, "config.json"), "--weights", filepath.Join(fixtures, "dec_mqa", "model.safetensors")}, 1, "do not match the config\n  wrong shape (4):"},
		{"unsupported option", []string{"--config", unsupported, "--random-weights"}, 3, "xt2onnx: attn_layers.dynamic_pos_bias together with attn_num_mem_kv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			r := xt2onnx(t, append([]string{"export", "-o", filepath.Join(dir, "m.onnx")}, tt.args...)...)
			if r.code != tt.code || !strings.HasPrefix(r.stderr, "xt2onnx: ") || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d (want %d), stderr %q (want it to contain %q)", r.code, tt.code, r.stderr, tt.want)
			}
			if r.stdout != "" {
				t.Errorf("stdout %q", r.stdout)
			}
			assertNoFiles(t, dir)
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // the first stderr line
		use  string // the usage line's command path
	}{
		{[]string{"export", "--preset", "tiny"}, "xt2onnx: -o/--output is required: name the .onnx file to write", "xt2onnx export"},
		{[]string{"export", "--preset", "tiny", "--config", "c.json", "-o", "m.onnx"}, "xt2onnx: --preset and --config cannot be used together: choose a built-in model or a config file", "xt2onnx export"},
		{[]string{"export", "--preset", "tiny", "--mask", "maybe", "-o", "m.onnx"}, `xt2onnx: invalid argument "maybe" for "--mask" flag: want auto, on or off`, "xt2onnx export"},
		{[]string{"export", "--preset", "tiny", "--opset", "16", "-o", "m.onnx"}, "xt2onnx: --opset 16 is not supported: want " + cmdutil.OrList(xtexport.Opsets()), "xt2onnx export"},
		{[]string{"export", "--frobnicate"}, "xt2onnx: unknown flag: --frobnicate", "xt2onnx export"},
		{[]string{"run", "--random"}, "xt2onnx: no model given: name a MODEL.onnx file, or use --preset base|small|tiny", "xt2onnx run"},
		{[]string{"verify"}, "xt2onnx: --fixture is required: name the fixture directory", "xt2onnx verify"},
		{[]string{"frobnicate"}, `xt2onnx: unknown command "frobnicate" for "xt2onnx"`, "xt2onnx"},
	}
	for _, tt := range tests {
		r := xt2onnx(t, tt.args...)
		lines := strings.Split(r.stderr, "\n")
		if r.code != exitUsage || lines[0] != tt.want || len(lines) < 3 || !strings.HasPrefix(lines[1], "Usage: "+tt.use) || lines[2] != "Run '"+tt.use+" --help' for more." {
			t.Errorf("%v: exit %d, stderr:\n%s", tt.args, r.code, r.stderr)
		}
		if r.stdout != "" {
			t.Errorf("%v: stdout %q", tt.args, r.stdout)
		}
	}
}

func TestExitStatus(t *testing.T) {
	unsupported := &builder.UnsupportedError{Options: []string{"attn_layers.x"}}
	tests := []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"nil", nil, 0, ""},
		{"error", errors.New("boom"), 1, "xt2onnx: boom\n"},
		{"silent", cmdutil.ErrSilent, 1, ""},
		{"usage", cmdutil.FlagErrorf("bad flag"), 2, "xt2onnx: bad flag\n"},
		// Without the Go package prefix ("builder: ", "onnximport: ").
		{"unsupported", unsupported, 3, "xt2onnx: attn_layers.x is not supported\n"},
		{"wrapped unsupported", fmt.Errorf("building: %w", unsupported), 3, "xt2onnx: building: attn_layers.x is not supported\n"},
		{"unsupported ONNX", &onnximport.UnsupportedError{Feature: "string tensors"}, 3, "xt2onnx: unsupported model: string tensors\n"},
		{"canceled", context.Canceled, 1, "xt2onnx: context canceled\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		if code := exitStatus(tt.err, nil, &b); code != tt.code || b.String() != tt.stderr {
			t.Errorf("%s: exit %d, stderr %q; want %d, %q", tt.name, code, b.String(), tt.code, tt.stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	// Without -ldflags the version is the build information's (the test
	// binary records none: "dev"); with it, the ldflags value.
	version := buildinfo.Version(version)
	if version == "" {
		t.Fatal("buildinfo.Version gave an empty version")
	}
	r := xt2onnx(t, "version")
	if r.code != 0 || len(r.stdoutLines) != 3 || r.stdoutLines[0] != "xt2onnx "+version || !strings.HasPrefix(r.stdoutLines[2], "onnxruntime 1.") {
		t.Errorf("exit %d, stdout:\n%s", r.code, r.stdout)
	}
	r = xt2onnx(t, "--version")
	if r.code != 0 || r.stdout != "xt2onnx "+version+"\n" {
		t.Errorf("--version: exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestCompletion(t *testing.T) {
	r := xt2onnx(t, "completion", "bash")
	if r.code != 0 || !strings.Contains(r.stdout, "__start_xt2onnx") {
		t.Errorf("exit %d, %d bytes of stdout", r.code, len(r.stdout))
	}
}
