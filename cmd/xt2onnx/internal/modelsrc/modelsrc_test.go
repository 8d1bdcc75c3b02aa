package modelsrc

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/generate"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort" // registers "ort"
)

func TestPreset(t *testing.T) {
	for _, kv := range []bool{false, true} {
		m, err := Preset("tiny", 0, kv)
		if err != nil {
			t.Fatal(err)
		}
		if want := (generate.Meta{MaxSeqLen: 128, NumTokens: 256, KVCache: kv, Kind: generate.KindTransformerWrapper, Causal: true}); m.Meta != want {
			t.Errorf("kv %v: meta %+v, want %+v", kv, m.Meta, want)
		}
		if (m.Name == "preset tiny (KV cache)") != kv || !strings.HasPrefix(m.Name, "preset tiny") {
			t.Errorf("kv %v: name %q", kv, m.Name)
		}
		sess, err := m.Open(runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(sess.Inputs()); (n > 1) != kv {
			t.Errorf("kv %v: %d inputs", kv, n)
		}
		sess.Close()
	}
}

func TestErrors(t *testing.T) {
	if _, err := File(filepath.Join(t.TempDir(), "none.onnx")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if err := CheckPreset("huge"); err == nil || err.Error() != `unknown preset "huge": want base, small or tiny` {
		t.Errorf("CheckPreset: %v", err)
	}
	if err := CheckBackend("tpu"); err == nil || err.Error() != `unknown backend "tpu": want ort` {
		t.Errorf("CheckBackend: %v", err)
	}
	if err := CheckBackend("ort"); err != nil {
		t.Errorf("CheckBackend(ort): %v", err)
	}
}

// TestPresetErrorsNameThePreset checks that errors about a preset built in
// memory name it ("preset tiny"), not "<model bytes, N bytes>".
func TestPresetErrorsNameThePreset(t *testing.T) {
	m, err := Preset("tiny", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := m.Open(runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	x, _ := runtime.NewInt64([]int64{1, 2}, []int64{1, 9999})
	_, err = sess.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if err == nil || !strings.Contains(err.Error(), "preset tiny") || strings.Contains(err.Error(), "model bytes") {
		t.Errorf("error %v: want it to name preset tiny", err)
	}
	var ie *runtime.InputError
	if !errors.As(err, &ie) {
		t.Errorf("error %T: the runtime's error type is lost", err)
	}
}
