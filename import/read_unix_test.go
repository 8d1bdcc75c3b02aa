//go:build unix

package onnximport_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
)

// TestExternalDataConfined reproduces the escapes of issue 8: external data
// must resolve inside the model's folder, be a regular file, and have the
// bytes the tensor claims, all checked before anything is read or
// allocated. Each case runs under a deadline, since a FIFO used to hang.
func TestExternalDataConfined(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "model")
	must(t, os.Mkdir(dir, 0o755))
	must(t, os.WriteFile(filepath.Join(parent, "outside.bin"), make([]byte, 64), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "inside.bin"), le32(1, 2, 3), 0o644))
	must(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
	must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")))
	must(t, os.Symlink("/", filepath.Join(dir, "rootdir")))
	must(t, os.Symlink("/dev/zero", filepath.Join(dir, "zero")))
	must(t, os.Symlink("../outside.bin", filepath.Join(dir, "up")))
	must(t, os.Symlink("inside.bin", filepath.Join(dir, "alias.bin")))
	must(t, os.Symlink("../inside.bin", filepath.Join(dir, "sub", "back.bin")))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	// A sparse file that claims a terabyte costs nothing on disk.
	f, err := os.Create(filepath.Join(dir, "sparse.bin"))
	must(t, err)
	must(t, f.Truncate(1<<40))
	must(t, f.Close())

	tensor := func(dims []int64, dtype graph.DType, kv ...string) *onnxpb.TensorProto {
		tp := &onnxpb.TensorProto{Name: proto.String("w"), DataType: dt(dtype), Dims: dims, DataLocation: onnxpb.TensorProto_EXTERNAL.Enum()}
		for i := 0; i < len(kv); i += 2 {
			tp.ExternalData = append(tp.ExternalData, &onnxpb.StringStringEntryProto{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
		}
		return tp
	}
	three := []int64{3}
	tests := []struct {
		name   string
		tp     *onnxpb.TensorProto
		budget int64
		want   string // "" means success
		escape bool   // an *ExternalDataError is expected
	}{
		{name: "symlink to /etc/passwd", tp: tensor([]int64{8}, graph.Uint8, "location", "passwd"), want: `location "passwd": external data path escapes model directory`, escape: true},
		{name: "symlink to /", tp: tensor([]int64{8}, graph.Uint8, "location", "rootdir/etc/passwd"), want: "external data path escapes model directory", escape: true},
		{name: "symlink to /dev/zero", tp: tensor([]int64{8}, graph.Uint8, "location", "zero"), want: "external data path escapes model directory", escape: true},
		{name: "symlink up and out", tp: tensor([]int64{8}, graph.Uint8, "location", "up"), want: "escapes model directory", escape: true},
		{name: "dot dot", tp: tensor([]int64{8}, graph.Uint8, "location", "sub/../../outside.bin"), want: "escapes model directory", escape: true},
		{name: "absolute", tp: tensor([]int64{8}, graph.Uint8, "location", filepath.Join(parent, "outside.bin")), want: "is an absolute path", escape: true},
		{name: "NUL byte", tp: tensor([]int64{8}, graph.Uint8, "location", "inside.bin\x00/etc/passwd"), want: "contains a NUL byte", escape: true},
		{name: "FIFO", tp: tensor([]int64{8}, graph.Uint8, "location", "fifo"), want: `location "fifo": is a named pipe (FIFO), not a regular file`, escape: true},
		{name: "directory", tp: tensor([]int64{8}, graph.Uint8, "location", "sub"), want: "is a directory, not a regular file", escape: true},
		{name: "terabyte declared, 12 bytes there", tp: tensor([]int64{1_000_000_000_000}, graph.Uint8, "location", "inside.bin"), want: `external data file "inside.bin" holds 12 bytes, the tensor needs offset 0 + length 1000000000000`},
		{name: "sparse terabyte over the budget", tp: tensor([]int64{1 << 40}, graph.Uint8, "location", "sparse.bin"), budget: 1 << 30, want: "external data of 1.0 TiB exceeds the tensor budget of 1.0 GiB"},
		{name: "symlink inside the folder", tp: tensor(three, graph.Float, "location", "alias.bin")},
		{name: "symlink back into the folder", tp: tensor(three, graph.Float, "location", "sub/back.bin")},
		{name: "plain file", tp: tensor(three, graph.Float, "location", "./inside.bin")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "m.onnx")
			must(t, os.WriteFile(path, model(t, []*onnxpb.TensorProto{tc.tp}), 0o644))
			done := make(chan struct{})
			var m *graph.Model
			var err error
			go func() {
				defer close(done)
				m, err = onnximport.ReadFileWith(path, onnximport.ReadOptions{MaxTensorBytes: tc.budget})
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("ReadFile hangs")
			}
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if raw := m.Graph.Initializers[0].Raw; string(raw) != string(le32(1, 2, 3)) {
					t.Errorf("data = %v, want the bytes of inside.bin", raw)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v\nwant one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), `initializer "w"`) {
				t.Errorf("error %q does not name the tensor", err)
			}
			var ee *onnximport.ExternalDataError
			if tc.escape != errors.As(err, &ee) {
				t.Errorf("errors.As(*ExternalDataError) = %v, want %v", !tc.escape, tc.escape)
			}
		})
	}
}

// TestReadFileNotRegular checks that a model path naming a FIFO or a
// device is refused at once instead of blocking or reading forever.
func TestReadFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "m.onnx")
	must(t, syscall.Mkfifo(fifo, 0o644))
	for _, tc := range []struct{ path, want string }{
		{fifo, "is a named pipe (FIFO), not a regular file"},
		{"/dev/zero", "is a device, not a regular file"},
		{dir, "is a directory, not a regular file"},
	} {
		done := make(chan error, 1)
		go func() { _, err := onnximport.ReadFile(tc.path); done <- err }()
		select {
		case err := <-done:
			var fe *onnximport.FormatError
			if !errors.As(err, &fe) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadFile(%s) = %v, want a *FormatError containing %q", tc.path, err, tc.want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ReadFile(%s) hangs", tc.path)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
