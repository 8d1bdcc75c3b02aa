package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// goisms are what a user should not read: Go package prefixes, library
// option names, a temporary file's name, a rename.
var goisms = regexp.MustCompile(`(^|[\s(])(builder|onnximport|safetensors|native|ort|generate|runtime|export):|\bOptions\.|\brename |tmp-|has no graph`)

// TestErrorsForUsers checks that what a user reads names files, flags and
// fixes: no Go package prefixes, no library option names, no raw system
// call failures.
func TestErrorsForUsers(t *testing.T) {
	dir := t.TempDir()
	tiny := exportTiny(t)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("c.json", `{"kind": "TransformerWrapper", "wrapper": {"num_tokens": 10, "max_seq_len": 8},
 "attn_layers": {"type": "Decoder", "dim": 8, "depth": 1, "heads": 2, "attn_qk_nrom": true}}`)
	garbage := write("w.safetensors", "garbage, not a safetensors file")
	badModel := write("bad.onnx", "x")
	empty := write("empty.onnx", "")
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown config key", []string{"export", "--config", cfg, "--random-weights", "-o", filepath.Join(dir, "m.onnx")}, `unknown key "attn_qk_nrom"`},
		{"not safetensors", []string{"run", tiny, "--inputs", garbage}, "w.safetensors"},
		{"not ONNX", []string{"inspect", badModel}, "bad.onnx"},
		{"not ONNX, native", []string{"run", badModel, "--random", "--backend", "native"}, "bad.onnx"},
		{"empty file", []string{"inspect", empty}, "empty.onnx is empty: not an ONNX model"},
		{"empty file, generate", []string{"generate", empty, "--prompt-tokens", "1"}, "empty.onnx is empty: not an ONNX model"},
		{"-o a directory", []string{"export", "--preset", "tiny", "-o", outDir}, "-o " + outDir + " is a directory: name the file to write, such as " + filepath.Join(outDir, "model.onnx")},
		{"-o . ", []string{"export", "--preset", "tiny", "-o", "."}, "-o . is a directory: name the file to write, such as model.onnx"},
		{"run -o a directory", []string{"run", tiny, "--random", "-o", outDir}, "-o " + outDir + " is a directory: name the file to write, such as " + filepath.Join(outDir, "outputs.safetensors")},
		{"tensor budget", []string{"run", tiny, "--random", "--backend", "native", "--max-tensor-bytes", "1KB"}, "raise it with --max-tensor-bytes"},
	}
	for _, tt := range tests {
		r := xt2onnx(t, tt.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want it to hold %q", tt.name, r.code, r.stderr, tt.want)
		}
		if bad := goisms.FindString(r.stderr); bad != "" {
			t.Errorf("%s: stderr holds %q: %s", tt.name, bad, r.stderr)
		}
	}
	assertNoFiles(t, outDir)
}

// TestNoONNXRuntimeSuggestsNative runs xt2onnx where no ONNX Runtime
// library can be found (as after `make build` without `make ort`): the error
// says how to get one and that --backend native needs none.
func TestNoONNXRuntimeSuggestsNative(t *testing.T) {
	cmd := exec.Command(os.Args[0], "run", "--preset", "tiny", "--random")
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ONNXRUNTIME_LIB=") && !strings.HasPrefix(kv, "XT2ONNX_CACHE=") && !strings.HasPrefix(kv, "LD_LIBRARY_PATH=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "XT2ONNX_TEST_MAIN=1", "XT2ONNX_CACHE="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1; stderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{"ONNX Runtime shared library not found", "make ort", "--backend native"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}
