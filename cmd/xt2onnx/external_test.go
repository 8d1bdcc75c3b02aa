package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	xtexport "github.com/xt2onnx/xt2onnx/export"
)

// Every command that takes a model file works on one whose weights are
// external data, and gives what it gives on the same model in one file.
func TestExternalDataModel(t *testing.T) {
	fixture := filepath.Join(fixtures, "dec_basic")
	dir := t.TempDir()
	inline, ext := filepath.Join(dir, "inline.onnx"), filepath.Join(dir, "ext.onnx")
	base := []string{"export", "--config", filepath.Join(fixture, "config.json"), "--weights", filepath.Join(fixture, "model.safetensors")}
	if r := xt2onnx(t, append(base, "-o", inline)...); r.code != 0 {
		t.Fatalf("export: exit %d\n%s", r.code, r.stderr)
	}
	// export --validate is verify on the written file.
	r := xt2onnx(t, append(base, "-o", ext, "--external-data", "--validate", fixture, "--validate-backend", "ort,native")...)
	if r.code != 0 || !strings.HasPrefix(r.lastLine(), "PASS") {
		t.Fatalf("export --external-data --validate: exit %d, last line %q\n%s%s", r.code, r.lastLine(), r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "external_data\t"+ext+".data\n") {
		t.Errorf("the summary does not name the data file:\n%s", r.stdout)
	}
	mi, err := os.Stat(ext)
	if err != nil {
		t.Fatal(err)
	}
	di, err := os.Stat(xtexport.ExternalDataPath(ext))
	if err != nil {
		t.Fatal(err)
	}
	ii, err := os.Stat(inline)
	if err != nil {
		t.Fatal(err)
	}
	if mi.Size()*4 > ii.Size() || di.Size() < ii.Size()/2 {
		t.Fatalf("model %d bytes and data %d bytes, the one-file model %d: the weights are not in the data file", mi.Size(), di.Size(), ii.Size())
	}

	same := func(t *testing.T, args ...string) {
		t.Helper()
		var outs [2]result
		for i, path := range []string{inline, ext} {
			a := make([]string, len(args))
			for j, s := range args {
				a[j] = strings.ReplaceAll(s, "MODEL", path)
			}
			outs[i] = xt2onnx(t, a...)
			if outs[i].code != 0 {
				t.Fatalf("%v on %s: exit %d\n%s", a, path, outs[i].code, outs[i].stderr)
			}
		}
		if got, want := strings.ReplaceAll(outs[1].stdout, ext, "MODEL"), strings.ReplaceAll(outs[0].stdout, inline, "MODEL"); got != want {
			t.Errorf("%v: external data gives\n%s\none file gives\n%s", args, got, want)
		}
	}
	t.Run("inspect", func(t *testing.T) {
		r := xt2onnx(t, "inspect", ext)
		if r.code != 0 || !strings.Contains(r.stdout, "params\t") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		same(t, "inspect", "MODEL")
	})
	for _, backend := range []string{"ort", "native"} {
		t.Run("run "+backend, func(t *testing.T) {
			same(t, "run", "MODEL", "--random", "--batch", "2", "--seq", "8", "--backend", backend)
			out := filepath.Join(t.TempDir(), "out.safetensors")
			if r := xt2onnx(t, "run", ext, "--random", "--batch", "1", "--seq", "8", "--backend", backend, "-o", out); r.code != 0 {
				t.Fatalf("run -o: exit %d\n%s", r.code, r.stderr)
			}
			if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
				t.Fatalf("run -o wrote nothing: %v", err)
			}
		})
		t.Run("generate "+backend, func(t *testing.T) {
			same(t, "generate", "--model", "MODEL", "--prompt-tokens", "1,2,3", "--max-new", "8", "--greedy", "--backend", backend)
		})
		t.Run("bench "+backend, func(t *testing.T) {
			r := xt2onnx(t, "bench", ext, "--backend", backend, "--seq", "8", "--warmup", "0", "--iters", "2", "--json")
			if r.code != 0 || !strings.Contains(r.stdout, `"p50`) {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
	t.Run("parity", func(t *testing.T) {
		r := xt2onnx(t, "parity", ext, "--random", "--batch", "1", "--seq", "8")
		if r.code != 0 || !strings.HasPrefix(r.lastLine(), "PASS") {
			t.Fatalf("exit %d, last line %q\n%s%s", r.code, r.lastLine(), r.stdout, r.stderr)
		}
	})
	t.Run("triton", func(t *testing.T) {
		repo := filepath.Join(t.TempDir(), "models")
		r := xt2onnx(t, "export", "--preset", "tiny", "--external-data", "--triton-repo", repo, "--name", "tiny")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		for _, f := range []string{"config.pbtxt", "1/model.onnx", "1/model.onnx.data"} {
			if _, err := os.Stat(filepath.Join(repo, "tiny", f)); err != nil {
				t.Errorf("the repository lacks %s: %v", f, err)
			}
		}
	})
}

// export --dtype and --quantize write what they say, runnable by run on
// both backends; contradictory flags are usage errors (exit 2).
func TestExportPrecisions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args  []string
		dtype string
		opset string
	}{
		{[]string{"--dtype", "float16"}, "float16", "18"},
		{[]string{"--dtype", "bfloat16", "--external-data"}, "bfloat16", "18"},
		{[]string{"--quantize", "int8"}, "int8", "23"},
		{[]string{"--quantize", "int4", "--block-size", "16", "--external-data"}, "int4", "23"},
		{[]string{"--quantize", "int4", "--quantize-format", "matmulnbits", "--accuracy-level", "4"}, "int4", "18"},
		{[]string{"--quantize", "int8", "--quantize-format", "matmulnbits", "--external-data"}, "int8", "18"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			path := filepath.Join(dir, strings.Join(tc.args, "")+".onnx")
			r := xt2onnx(t, append([]string{"export", "--preset", "tiny", "-o", path}, tc.args...)...)
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			for _, want := range []string{"dtype\t" + tc.dtype + "\n", "opset\t" + tc.opset + "\n"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("summary lacks %q:\n%s", want, r.stdout)
				}
			}
			for _, backend := range []string{"ort", "native"} {
				if r := xt2onnx(t, "run", path, "--random", "--seq", "8", "--backend", backend); r.code != 0 {
					t.Errorf("run --backend %s: exit %d\n%s", backend, r.code, r.stderr)
				}
			}
		})
	}
	for _, args := range [][]string{
		{"--block-size", "16"},
		{"--quantize", "int8", "--dtype", "float16"},
		{"--quantize", "int8", "--opset", "18"},
		{"--quantize", "int4", "--block-size", "1"},
		{"--quantize", "int4", "--quantize-format", "matmulnbits", "--block-size", "8"},
		{"--quantize-format", "matmulnbits"},
		{"--dtype", "float8"},
	} {
		r := xt2onnx(t, append([]string{"export", "--preset", "tiny", "-o", filepath.Join(dir, "bad.onnx")}, args...)...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", args, r.code, r.stderr)
		}
	}
}
