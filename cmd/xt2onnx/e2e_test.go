package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEndToEndTiny drives export → inspect → run → generate → bench on the
// tiny preset exported with a KV cache and a Triton repository, in-process,
// streams off a terminal.
func TestEndToEndTiny(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "tiny.onnx")
	repo := filepath.Join(dir, "models")

	r := xt2onnx(t, "export", "--preset", "tiny", "--kv-cache", "-o", model, "--triton-repo", repo, "--json")
	if r.code != 0 {
		t.Fatalf("export: exit %d\n%s", r.code, r.stderr)
	}
	var exp struct {
		Path         string `json:"path"`
		KVCache      bool   `json:"kv_cache"`
		TritonConfig string `json:"triton_config"`
		TritonModel  string `json:"triton_model"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &exp); err != nil {
		t.Fatalf("export --json: %v\n%s", err, r.stdout)
	}
	if exp.Path != model || !exp.KVCache || exp.TritonConfig != filepath.Join(repo, "tiny", "config.pbtxt") || exp.TritonModel != filepath.Join(repo, "tiny", "1", "model.onnx") {
		t.Errorf("export summary %+v", exp)
	}
	for _, f := range []string{exp.TritonConfig, exp.TritonModel} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}

	r = xt2onnx(t, "inspect", model)
	if r.code != 0 {
		t.Fatalf("inspect: exit %d\n%s", r.code, r.stderr)
	}
	for _, l := range []string{"input\tx\tint64\t[batch seq]", "input\tcache_key_0\tfloat32\t[batch 4 16 cache_capacity]", "input\tcache_len\tint64\t[1]", "output\tnew_value_1\tfloat32\t[batch 4 seq 16]"} {
		if !strings.Contains(r.stdout, l+"\n") {
			t.Errorf("inspect output lacks %q:\n%s", l, r.stdout)
		}
	}

	r = xt2onnx(t, "run", model, "--random", "--batch", "2", "--seq", "4")
	if r.code != 0 {
		t.Fatalf("run: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "logits\tfloat32\t[2 4 256]\t") {
		t.Errorf("run output:\n%s", r.stdout)
	}

	// Greedy generation gives the same tokens with and without the cache.
	var rows []string
	for _, extra := range []string{"", "--no-cache"} {
		args := []string{"generate", "--model", model, "--batch-prompts", "1,2,3;9,8,7", "--max-new", "6", "--greedy"}
		if extra != "" {
			args = append(args, extra)
		}
		r = xt2onnx(t, args...)
		if r.code != 0 {
			t.Fatalf("generate %s: exit %d\n%s", extra, r.code, r.stderr)
		}
		if len(r.stdoutLines) != 2 || len(strings.Fields(r.stdoutLines[0])) != 6 {
			t.Fatalf("generate %s: stdout %q, want 2 rows of 6 tokens", extra, r.stdout)
		}
		if !strings.Contains(r.stderr, "tokens/s") {
			t.Errorf("generate %s: no rate on stderr: %q", extra, r.stderr)
		}
		if rows == nil {
			rows = r.stdoutLines
		} else if strings.Join(rows, "\n") != strings.Join(r.stdoutLines, "\n") {
			t.Errorf("generate --no-cache gave %q, with the cache %q", r.stdoutLines, rows)
		}
	}

	r = xt2onnx(t, "bench", model, "--seq", "8", "--warmup", "0", "--iters", "2")
	if r.code != 0 {
		t.Fatalf("bench: exit %d\n%s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "seq\t8\n") || !strings.Contains(r.stdout, "latency_ms.p99\t") {
		t.Errorf("bench output:\n%s", r.stdout)
	}
	r = xt2onnx(t, "bench", model, "--generate", "4", "--prompt-len", "3", "--warmup", "0", "--iters", "1", "--json")
	if r.code != 0 {
		t.Fatalf("bench --generate: exit %d\n%s", r.code, r.stderr)
	}
	var bench struct {
		Variants []struct {
			Name string `json:"name"`
		} `json:"variants"`
		TokensMatch *bool `json:"tokens_match"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &bench); err != nil {
		t.Fatalf("bench --json: %v\n%s", err, r.stdout)
	}
	if len(bench.Variants) != 2 || bench.Variants[0].Name != "kv-cache" || bench.Variants[1].Name != "no-cache" || bench.TokensMatch == nil || !*bench.TokensMatch {
		t.Errorf("bench --generate: %s", r.stdout)
	}
}

// TestCompletionHelpAndFlags checks that help mentions shell completion
// (TestCompletion checks the script) and that flag values complete.
func TestCompletionHelpAndFlags(t *testing.T) {
	r := xt2onnx(t, "--help")
	if !strings.Contains(r.stdout, "xt2onnx completion bash") || !strings.Contains(r.stdout, "\n  completion ") {
		t.Errorf("help does not mention completion:\n%s", r.stdout)
	}
	for _, cmd := range []string{"export", "generate", "bench"} {
		r = xt2onnx(t, "__complete", cmd, "--preset", "")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "base\nsmall\ntiny\n") {
			t.Errorf("completing %s --preset: %q", cmd, r.stdout)
		}
	}
}
