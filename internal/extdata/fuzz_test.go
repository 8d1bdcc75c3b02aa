//go:build unix

package extdata

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/xt2onnx/xt2onnx/internal/fuzzutil"
)

// fuzzTree makes a model folder with regular files, a sub-folder, and
// symlinks and a FIFO that lead out of it or nowhere, next to a secret
// file outside it.
func fuzzTree(tb testing.TB) (dir string, inside []os.FileInfo) {
	root := tb.TempDir()
	dir = filepath.Join(root, "model")
	mk := func(err error) {
		if err != nil {
			tb.Fatal(err)
		}
	}
	mk(os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o755))
	mk(os.WriteFile(filepath.Join(root, "secret.bin"), []byte("secret"), 0o644))
	for _, f := range []string{"w.bin", "sub/v.bin", "sub/deeper/u.bin"} {
		mk(os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644))
		fi, err := os.Stat(filepath.Join(dir, f))
		mk(err)
		inside = append(inside, fi)
	}
	links := map[string]string{
		"to-secret":     "../secret.bin",
		"to-root":       "/",
		"to-passwd":     "/etc/passwd",
		"to-zero":       "/dev/zero",
		"to-w":          "w.bin",
		"sub/to-w":      "../w.bin",
		"sub/up":        "../..",
		"loop":          "loop",
		"dangling":      "absent.bin",
		"sub/to-secret": "../../secret.bin",
	}
	for name, target := range links {
		mk(os.Symlink(target, filepath.Join(dir, name)))
	}
	mk(syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	return dir, inside
}

// FuzzOpen checks the confinement property on fuzzed locations: Open either
// refuses, fails, or returns one of the regular files inside the folder;
// it never returns anything outside it, never a FIFO, and never blocks.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"w.bin", "./w.bin", "sub/v.bin", "sub/deeper/u.bin", "to-w", "sub/to-w",
		"to-secret", "to-root/etc/passwd", "to-passwd", "to-zero", "fifo", "sub/up/secret.bin", "../secret.bin",
		"/etc/passwd", "sub/../w.bin", "sub/../../secret.bin", "loop", "dangling", "w.bin\x00", `sub\v.bin`, "", ".", "sub"} {
		f.Add(s)
	}
	dir, inside := fuzzTree(f)
	f.Fuzz(func(t *testing.T, location string) {
		defer fuzzutil.Watchdog(5*time.Second, "Open")()
		d := New(dir)
		defer d.Close()
		file, problem, err := d.Open(location)
		if err != nil || problem != "" {
			if file != nil {
				t.Fatalf("Open(%q) returned a file along with %q / %v", location, problem, err)
			}
			return
		}
		fi, err := file.f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range inside {
			if os.SameFile(fi, in) {
				if file.Size != in.Size() {
					t.Fatalf("Open(%q): size %d, the file has %d", location, file.Size, in.Size())
				}
				return
			}
		}
		t.Fatalf("Open(%q) opened %v, which is not a regular file inside the model's folder", location, fi.Name())
	})
}
