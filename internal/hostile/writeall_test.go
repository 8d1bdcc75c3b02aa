package hostile

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWriteAll writes every hostile model to $HOSTILE_OUT, for reproducing
// the cases by hand against a binary; it does nothing otherwise.
func TestWriteAll(t *testing.T) {
	out := os.Getenv("HOSTILE_OUT")
	if out == "" {
		t.Skip("set HOSTILE_OUT to write the hostile models there")
	}
	for _, m := range ShapeBombs() {
		if err := os.WriteFile(filepath.Join(out, m.Name+".onnx"), m.Bytes, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_ = os.WriteFile(filepath.Join(out, "inline-bomb.onnx"), InlineBomb(14, 4), 0o644)
	_ = os.WriteFile(filepath.Join(out, "huge-input.onnx"), HugeInput(), 0o644)
	ext := filepath.Join(out, "ext")
	_ = os.MkdirAll(ext, 0o755)
	if _, err := WriteExternalCases(ext); err != nil {
		t.Fatal(err)
	}
}
