package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		write   func(w io.Writer) error
		rename  func(string, string) error
		want    string // content of path afterwards
		wantErr string
	}{
		{name: "replaces", write: func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }, want: "new"},
		{name: "write fails", write: func(w io.Writer) error { io.WriteString(w, "half"); return errors.New("boom") }, want: "new", wantErr: "boom"},
		{name: "rename fails", write: func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err },
			rename: func(string, string) error { return errors.New("no rename") }, want: "new", wantErr: "no rename"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rename != nil {
				rename = tt.rename
				defer func() { rename = os.Rename }()
			}
			err := Write(path, tt.write)
			if (err != nil) != (tt.wantErr != "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			b, _ := os.ReadFile(path)
			if string(b) != tt.want {
				t.Errorf("content %q, want %q", b, tt.want)
			}
			if names := listDir(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v, want only out.bin", names)
			}
			if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode().Perm())
			}
		})
	}
}

// TestAbort interrupts a write in the middle: the temporary file goes at
// once, the target keeps its old content, and later writes are refused.
func TestAbort(t *testing.T) {
	defer reset()
	dir := t.TempDir()
	path := filepath.Join(dir, "out.bin")
	if err := WriteBytes(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	err := Write(path, func(w io.Writer) error {
		io.WriteString(w, "partial")
		if names := listDir(t, dir); len(names) != 2 {
			t.Errorf("while writing the directory holds %v, want out.bin and a temporary file", names)
		}
		Abort()
		if names := listDir(t, dir); len(names) != 1 {
			t.Errorf("after Abort the directory holds %v, want only out.bin", names)
		}
		return nil
	})
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("Write after Abort: %v, want ErrAborted", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("target holds %q, want its old content", b)
	}
	if err := WriteBytes(filepath.Join(dir, "later"), nil); !errors.Is(err, ErrAborted) {
		t.Errorf("a write after Abort: %v, want ErrAborted", err)
	}
	if !Aborted() {
		t.Error("Aborted() = false")
	}
}

// TestAbortStopsLargeWrite checks that a write in progress stops within a
// chunk once Abort is called, instead of writing (and syncing) the rest.
func TestAbortStopsLargeWrite(t *testing.T) {
	defer reset()
	dir := t.TempDir()
	var written int
	err := Write(filepath.Join(dir, "big.bin"), func(w io.Writer) error {
		buf := make([]byte, chunk)
		for i := 0; i < 64; i++ {
			if i == 3 {
				Abort()
			}
			n, err := w.Write(buf)
			written += n
			if err != nil {
				return err
			}
		}
		return nil
	})
	if !errors.Is(err, ErrAborted) {
		t.Fatalf("error %v, want ErrAborted", err)
	}
	if written > 5*chunk {
		t.Errorf("%d bytes written after Abort at 3 MiB, want the write stopped within a chunk or two", written)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v, want nothing", names)
	}
}
