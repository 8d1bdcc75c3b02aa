package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	xtexport "github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/graph"
)

// TestNativeBackend checks that the native backend is linked in and runs
// through verify, run and parity, and that conformance runs.
func TestNativeBackend(t *testing.T) {
	for _, g := range []string{"built", "torch_ts", "torch_dynamo"} {
		r := xt2onnx(t, "verify", "--fixture", filepath.Join(fixtures, "dec_basic"), "--backend", "native", "--graph", g)
		if r.code != 0 || !strings.HasPrefix(r.lastLine(), "PASS dec_basic graph="+g+" backend=native max_abs_diff=") {
			t.Errorf("verify --graph %s --backend native: exit %d, stdout:\n%s\nstderr: %s", g, r.code, r.stdout, r.stderr)
		}
	}

	r := xt2onnx(t, "run", exportTiny(t), "--random", "--backend", "native", "--batch", "2", "--seq", "5")
	if r.code != 0 || len(r.stdoutLines) != 1 || !strings.HasPrefix(r.stdoutLines[0], "logits\tfloat32\t[2 5 256]\t") {
		t.Errorf("run --backend native: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	r = xt2onnx(t, "parity", filepath.Join(fixtures, "dec_basic", "torch_ts.onnx"), "--random", "--seq", "7")
	if r.code != 0 || r.lastLine() != "PASS parity native vs ort: 1 output within atol=1e-05 rtol=0" {
		t.Errorf("parity: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}

	r = xt2onnx(t, "conformance", "--dir", "../../fixtures/onnx-node-tests/v1.22.0", "--op", "Softmax")
	if r.code != 0 || !strings.HasSuffix(r.lastLine(), " passed, 0 failed, 0 skipped") {
		t.Errorf("conformance --op Softmax: exit %d, stdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

// TestUnsupportedOpsExitStatus: a model with operators the native backend
// lacks fails with exit status 3, naming every one of them.
func TestUnsupportedOpsExitStatus(t *testing.T) {
	g := &graph.Graph{
		Name:   "unsupported",
		Inputs: []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: []graph.Dim{graph.Sym("batch"), graph.Fixed(4)}}},
		Nodes: []*graph.Node{
			{Name: "a", OpType: "NoSuchOp", Inputs: []string{"x"}, Outputs: []string{"y"}},
			{Name: "b", OpType: "Relu", Inputs: []string{"y"}, Outputs: []string{"z"}},
		},
		Outputs: []graph.ValueInfo{{Name: "z", DType: graph.Float}},
	}
	data, err := xtexport.Marshal(&graph.Model{Opsets: []graph.OpsetImport{{Version: 18}}, Graph: g}, xtexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "unsupported.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", path, "--random", "--backend", "native"},
		{"parity", path, "--random"},
	} {
		r := xt2onnx(t, args...)
		if r.code != exitUnsupported || !strings.Contains(r.stderr, `: unsupported operator NoSuchOp (opset 18; node "a")`) {
			t.Errorf("%s: exit %d, stderr %q", args[0], r.code, r.stderr)
		}
	}
}
