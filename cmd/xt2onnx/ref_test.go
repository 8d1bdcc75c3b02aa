//go:build oracle

// The developer test of python/xt2onnx_ref: it needs the oracle venv
// (make oracle-venv) and runs with `make test-ref`, never in `make test`.

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// userModels builds three models the way a user would (constructor kwargs,
// a few training steps), checks that a wrong kwarg is named, and writes a
// reference folder for each with xt2onnx_ref.
const userModels = `
import sys, torch
import xt2onnx_ref as ref
from x_transformers import TransformerWrapper, Decoder, Encoder, XTransformer

out = sys.argv[1]
torch.manual_seed(0)

def train(model, batch, steps=5):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        loss = batch(model)
        opt.zero_grad(); loss.backward(); opt.step()
    return model.eval()

# 1. a GPT-style decoder: rotary, GLU, RMSNorm, qk-norm with learned scales
gpt_kw = dict(num_tokens=96, max_seq_len=48)
gpt_layers = dict(dim=64, depth=2, heads=4, attn_dim_head=32, rotary_pos_emb=True, ff_glu=True,
                  use_rmsnorm=True, attn_qk_norm=True, attn_qk_norm_dim_scale=True)
gpt = TransformerWrapper(**gpt_kw, attn_layers=Decoder(**gpt_layers))
def lm_loss(m):
    x = torch.randint(0, 96, (4, 24))
    return torch.nn.functional.cross_entropy(m(x[:, :-1]).transpose(1, 2), x[:, 1:])
train(gpt, lm_loss)
cfg = ref.config("TransformerWrapper", wrapper=gpt_kw, attn_layers=dict(type="Decoder", **gpt_layers))
ref.write(gpt, cfg, out + "/gpt", seq_len=20, generate=12)

# a wrong kwarg is named
wrong = ref.config("TransformerWrapper", wrapper=gpt_kw, attn_layers=dict(type="Decoder", **dict(gpt_layers, heads=8)))
try:
    ref.check_kwargs(gpt, wrong)
    sys.exit("check_kwargs accepted heads=8")
except ref.KwargsError as e:
    assert "attn_layers.heads=4" in str(e), str(e)
    print("kwargs error names:", e.fixes)

# 2. an encoder with padding masks, T5 relative bias, pre-norm + residual gating
enc_kw = dict(num_tokens=50, max_seq_len=32, num_memory_tokens=2)
enc_layers = dict(dim=48, depth=3, heads=3, attn_dim_head=16, rel_pos_bias=True, gate_residual=True, attn_num_mem_kv=2)
enc = TransformerWrapper(**enc_kw, attn_layers=Encoder(**enc_layers))
def mlm_loss(m):
    x = torch.randint(0, 50, (4, 16))
    return torch.nn.functional.cross_entropy(m(x).transpose(1, 2), x)
train(enc, mlm_loss)
ref.write(enc, ref.config("TransformerWrapper", wrapper=enc_kw, attn_layers=dict(type="Encoder", **enc_layers)),
          out + "/encoder", seq_len=16, batch=3)

# 3. an encoder-decoder (XTransformer) for translation
xt_kw = dict(dim=32, enc_num_tokens=40, enc_depth=2, enc_heads=2, enc_max_seq_len=24,
             dec_num_tokens=44, dec_depth=2, dec_heads=2, dec_max_seq_len=24, dec_ff_glu=True, tie_token_emb=False)
xt = XTransformer(**xt_kw)
def s2s_loss(m):
    src, tgt = torch.randint(0, 40, (4, 12)), torch.randint(0, 40, (4, 10))
    return m(src, tgt, mask=torch.ones_like(src).bool())
train(xt, s2s_loss)
ref.write(xt, ref.config("XTransformer", wrapper=xt_kw), out + "/seq2seq", seq_len=12, context_len=9)
print("wrote 3 references")
`

func oracleVenv(t *testing.T) string {
	t.Helper()
	venv := os.Getenv("ORACLE_VENV")
	if venv == "" {
		home, _ := os.UserHomeDir()
		venv = filepath.Join(home, ".cache", "xt2onnx", "oracle-venv")
	}
	if _, err := os.Stat(filepath.Join(venv, "bin", "python")); err != nil {
		t.Fatalf("no oracle venv at %s: run 'make oracle-venv' (this developer test needs PyTorch and x-transformers)", venv)
	}
	return venv
}

// TestUserReferences builds references with python/xt2onnx_ref, installed
// with pip into the oracle venv, for three user-style models; export
// --validate passes on each, and fails with a table naming the output when
// one weight is perturbed.
func TestUserReferences(t *testing.T) {
	venv := oracleVenv(t)
	pip := exec.Command(filepath.Join(venv, "bin", "pip"), "install", "-q", "--no-deps", "--force-reinstall", "../../python")
	if b, err := pip.CombinedOutput(); err != nil {
		t.Fatalf("pip install ./python: %v\n%s", err, b)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "user.py")
	if err := os.WriteFile(script, []byte(userModels), 0o644); err != nil {
		t.Fatal(err)
	}
	py := exec.Command(filepath.Join(venv, "bin", "python"), script, dir)
	py.Dir = dir // import the installed package, not the repository's copy
	b, err := py.CombinedOutput()
	if err != nil {
		t.Fatalf("user script: %v\n%s", err, b)
	}
	t.Logf("%s", b)
	for _, tt := range []struct {
		name   string
		args   []string
		weight string
	}{
		{"gpt", []string{"--kv-cache", "--validate-backend", "ort,native"}, "attn_layers.layers.0.1.to_q.weight"},
		{"encoder", []string{"--validate-backend", "ort,native"}, "attn_layers.rel_pos.relative_attention_bias.weight"},
		{"seq2seq", nil, "decoder.net.attn_layers.layers.1.1.to_k.weight"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ref := filepath.Join(dir, tt.name)
			out := filepath.Join(dir, tt.name+".onnx")
			r := validateRef(t, ref, filepath.Join(ref, "model.safetensors"), out, tt.args...)
			t.Logf("export --validate:\n%s", r.stdout)
			if r.code != 0 || !strings.HasPrefix(r.lastLine(), "PASS "+tt.name+".onnx") {
				t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			bad := filepath.Join(dir, tt.name+"-perturbed.safetensors")
			perturbWeights(t, filepath.Join(ref, "model.safetensors"), bad, tt.weight, 0.05)
			r = validateRef(t, ref, bad, out, tt.args...)
			t.Logf("perturbed %s:\n%s", tt.weight, r.stdout)
			if r.code != 1 || !strings.HasPrefix(r.lastLine(), "FAIL "+tt.name+".onnx") || !strings.Contains(r.lastLine(), "exceeds tol=") {
				t.Fatalf("perturbed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, " max_abs_diff=") || !strings.Contains(r.stdout, " FAIL") {
				t.Errorf("perturbed: want a table row marked FAIL:\n%s", r.stdout)
			}
		})
	}
}
