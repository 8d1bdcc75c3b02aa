package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
)

// perturbWeights copies a safetensors file to dst with tensor name's
// values moved by delta·(i mod 7 − 3) (not uniformly: a uniform shift of a
// position bias or a key projection leaves the softmax unchanged).
func perturbWeights(t *testing.T, src, dst, name string, delta float32) {
	t.Helper()
	f, err := safetensors.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ts []safetensors.Tensor
	found := false
	for _, n := range f.Names() {
		info, _ := f.Info(n)
		v, err := f.Float32s(n)
		if err != nil {
			t.Fatal(err)
		}
		if n == name {
			found = true
			for i := range v {
				v[i] += delta * float32(i%7-3)
			}
		}
		ts = append(ts, safetensors.F32(n, info.Shape, v))
	}
	if !found {
		t.Fatalf("%s has no tensor %q", src, name)
	}
	if err := safetensors.Write(dst, ts, nil); err != nil {
		t.Fatal(err)
	}
}

// validateRef exports the reference folder ref's model to out with
// --validate ref and the extra args.
func validateRef(t *testing.T, ref, weights, out string, args ...string) result {
	t.Helper()
	return xt2onnx(t, append([]string{"export", "--config", filepath.Join(ref, "config.json"), "--weights", weights, "-o", out, "--validate", ref}, args...)...)
}

func TestExportValidate(t *testing.T) {
	ref := filepath.Join("..", "..", "fixtures", "corners-1.9.2", "kv_cache_generation")
	dir := t.TempDir()
	out := filepath.Join(dir, "m.onnx")

	r := validateRef(t, ref, filepath.Join(ref, "model.safetensors"), out, "--kv-cache", "--validate-backend", "ort,native")
	if r.code != 0 || !strings.HasPrefix(r.lastLine(), "PASS m.onnx graph=built backend=ort,native max_abs_diff=") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"output logits shape=[2 10 64] max_abs_diff=",
		" check=kv-cache_steps backend=native ok",
		"generate_kv-cache tokens=24/24 shape=[2 12] backend=ort ok",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	// A perturbed weight: FAIL, exit 1, a table naming the output, the file
	// stays written.
	bad := filepath.Join(dir, "bad.safetensors")
	perturbWeights(t, filepath.Join(ref, "model.safetensors"), bad, "attn_layers.layers.0.1.fn.to_q.weight", 0.01)
	os.Remove(out)
	r = validateRef(t, ref, bad, out)
	if r.code != 1 || !strings.HasPrefix(r.lastLine(), "FAIL m.onnx graph=built backend=ort max_abs_diff=") || !strings.Contains(r.lastLine(), "exceeds tol=1e-05") {
		t.Fatalf("perturbed: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "output logits shape=[2 10 64] max_abs_diff=") || !strings.Contains(r.stdout, " FAIL") {
		t.Errorf("perturbed: want a FAIL row for logits:\n%s", r.stdout)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("the file should stay written on FAIL: %v", err)
	}

	// --json holds the validation and its verdict line
	r = validateRef(t, ref, filepath.Join(ref, "model.safetensors"), out, "--json", "--atol", "1e-4")
	var s struct {
		Validation struct {
			Pass    bool    `json:"pass"`
			Tol     float64 `json:"tol"`
			TolRule string  `json:"tol_rule"`
			Line    string  `json:"line"`
		} `json:"validation"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil || r.code != 0 || !s.Validation.Pass || s.Validation.Tol != 1e-4 || s.Validation.TolRule != "given" || !strings.HasPrefix(s.Validation.Line, "PASS") {
		t.Errorf("--json: exit %d, %v, %+v\n%s", r.code, err, s, r.stdout)
	}

	for _, tt := range []struct{ args []string }{
		{[]string{"--atol", "-1"}},
		{[]string{"--validate-backend", "tvm"}},
	} {
		r := validateRef(t, ref, filepath.Join(ref, "model.safetensors"), out, tt.args...)
		if r.code != 2 {
			t.Errorf("%v: exit %d, want 2 (usage)\n%s", tt.args, r.code, r.stderr)
		}
	}
	r = xt2onnx(t, "export", "--preset", "tiny", "-o", out, "--atol", "1e-4")
	if r.code != 2 || !strings.Contains(r.stderr, "--validate-backend, --atol, --rtol and --device apply to --validate only") {
		t.Errorf("--atol without --validate: exit %d, %s", r.code, r.stderr)
	}
	r = validateRef(t, ref, filepath.Join(ref, "model.safetensors"), out)
	r2 := xt2onnx(t, "export", "--preset", "tiny", "-o", out, "--validate", filepath.Join(dir, "missing"))
	if r.code != 0 || r2.code != 1 || !strings.Contains(r2.stderr, "no such file or folder") {
		t.Errorf("missing reference: exit %d, %s", r2.code, r2.stderr)
	}
}

func TestVerifyGenerateAndCache(t *testing.T) {
	dir := filepath.Join("..", "..", "fixtures", "corners-1.9.2", "kv_cache_generation")
	r := xt2onnx(t, "verify", "--fixture", dir, "--generate", "--kv-cache", "--backend", "native")
	if r.code != 0 || !strings.HasSuffix(r.lastLine(), " generate=24/24 generate_kv-cache=24/24") || len(r.stdoutLines) != 6 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// a model the cache refuses gets a note, not a FAIL
	r = xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "dec_rotary_xpos"), "--generate", "--kv-cache")
	if r.code != 0 || !strings.Contains(r.stderr, "note: kv-cache: not checked: KV cache with attn_layers.rotary_xpos") || !strings.Contains(r.lastLine(), " generate=16/16") {
		t.Errorf("xpos: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// no generation in the reference: a note
	r = xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "enc_relpos_mask"), "--generate")
	if r.code != 0 || !strings.Contains(r.stderr, "note: generate: not checked: the reference has no gen.start/gen.out") {
		t.Errorf("enc_relpos_mask: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// an XTransformer generates from its encoder and decoder parts
	r = xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "enc_dec"), "--generate", "--kv-cache")
	if r.code != 0 || !strings.Contains(r.stdout, "generate tokens=16/16 shape=[2 8] ok") || !strings.Contains(r.stdout, "generate_kv-cache tokens=16/16 shape=[2 8] ok") {
		t.Errorf("enc_dec: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestConfigInfer(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "config.json")
	src := filepath.Join(fixtures, "dec_qknorm_dimscale")
	r := xt2onnx(t, "config", "infer", "--weights", filepath.Join(src, "model.safetensors"), "-o", out)
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"check: attn_layers.type: Encoder and Decoder", "check: x_transformers_version:", "left at the x-transformers defaults"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	cfg, err := builder.LoadConfig(out)
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Layers
	if cfg.Wrapper.NumTokens != 64 || cfg.Wrapper.MaxSeqLen != 64 || l.Dim != 32 || l.Depth != 2 || l.Heads != 4 || l.Attn.DimHead != 8 || !l.Attn.QKNormDimScale {
		t.Errorf("inferred %+v %+v", cfg.Wrapper, l)
	}
	// the inferred config exports with the weights
	r = xt2onnx(t, "export", "--config", out, "--weights", filepath.Join(src, "model.safetensors"), "-o", filepath.Join(dir, "m.onnx"), "--validate", src)
	if r.code != 0 {
		t.Errorf("export with the inferred config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = xt2onnx(t, "config", "infer", "--weights", filepath.Join(src, "model.safetensors"), "--json")
	var j struct {
		Config  map[string]any    `json:"config"`
		Unknown []builder.Unknown `json:"unknown"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil || r.code != 0 || j.Config["kind"] != "TransformerWrapper" || len(j.Unknown) == 0 {
		t.Errorf("--json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	if r := xt2onnx(t, "config", "infer"); r.code != 2 {
		t.Errorf("no --weights: exit %d", r.code)
	}
	if r := xt2onnx(t, "config", "infer", "--weights", filepath.Join(src, "io.safetensors")); r.code != 1 || !strings.Contains(r.stderr, "cannot tell the model kind") {
		t.Errorf("not a state_dict: exit %d %s", r.code, r.stderr)
	}

	// a config that does not match its weights points at config infer
	bad := strings.Replace(readFile(t, filepath.Join(src, "config.json")), `"heads": 4`, `"heads": 2`, 1)
	badPath := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(badPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	r = xt2onnx(t, "export", "--config", badPath, "--weights", filepath.Join(src, "model.safetensors"), "-o", filepath.Join(dir, "x.onnx"))
	if r.code != 1 || !strings.Contains(r.stderr, "'xt2onnx config infer --weights ") {
		t.Errorf("mismatch: exit %d %s", r.code, r.stderr)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
