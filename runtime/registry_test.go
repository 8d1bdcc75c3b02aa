package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type fakeSession struct {
	src  ModelSource
	opts Options
}

func (s *fakeSession) Inputs() []ValueInfo  { return nil }
func (s *fakeSession) Outputs() []ValueInfo { return nil }
func (s *fakeSession) Run(context.Context, map[string]*Tensor) (map[string]*Tensor, error) {
	return nil, nil
}
func (s *fakeSession) Close() error { return nil }

func init() {
	Register("fake-test", func(src ModelSource, opts Options) (Session, error) {
		return &fakeSession{src: src, opts: opts}, nil
	})
}

func TestOpenDispatchesToBackend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.onnx")
	if err := os.WriteFile(path, []byte("model"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{Backend: "fake-test", IntraOpThreads: 3})
	if err != nil {
		t.Fatal(err)
	}
	fs := s.(*fakeSession)
	if fs.src.Path != path || fs.src.Bytes != nil || fs.opts.IntraOpThreads != 3 {
		t.Errorf("backend got %+v, %+v", fs.src, fs.opts)
	}
	b, err := fs.src.ReadAll()
	if err != nil || string(b) != "model" {
		t.Errorf("ReadAll() = %q, %v", b, err)
	}

	s, err = OpenBytes([]byte("abc"), Options{Backend: "fake-test"})
	if err != nil {
		t.Fatal(err)
	}
	fs = s.(*fakeSession)
	if fs.src.Path != "" || string(fs.src.Bytes) != "abc" || fs.src.Name() != "<model bytes, 3 bytes>" {
		t.Errorf("backend got %+v (%s)", fs.src, fs.src.Name())
	}

	if !slices.Contains(Backends(), "fake-test") {
		t.Errorf("Backends() = %v lacks fake-test", Backends())
	}
	if !slices.IsSorted(Backends()) {
		t.Errorf("Backends() = %v is not sorted", Backends())
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"missing file", second(Open(filepath.Join(t.TempDir(), "nope.onnx"), Options{Backend: "fake-test"})),
			[]string{"runtime: open model: ", "nope.onnx", "no such file"}},
		{"empty path", second(Open("", Options{Backend: "fake-test"})), []string{"runtime: Open: empty model path"}},
		{"empty bytes", second(OpenBytes(nil, Options{Backend: "fake-test"})), []string{"runtime: OpenBytes: empty model"}},
		{"native not linked", second(OpenBytes([]byte("x"), Options{Backend: "native"})),
			[]string{`runtime: unknown backend "native"; registered: `, "fake-test",
				`backend "native" registers when its package is imported: import _ "github.com/xt2onnx/xt2onnx/runtime/native"`}},
		{"default ort not linked", second(OpenBytes([]byte("x"), Options{})),
			[]string{`runtime: unknown backend "ort"`, `import _ "github.com/xt2onnx/xt2onnx/runtime/ort"`}},
		{"made-up backend", second(OpenBytes([]byte("x"), Options{Backend: "tpu"})),
			[]string{`runtime: unknown backend "tpu"`, `"ort" by import _ "github.com/xt2onnx/xt2onnx/runtime/ort"`,
				`"native" by import _ "github.com/xt2onnx/xt2onnx/runtime/native"`}},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, tc.err, w)
			}
		}
	}
	var ube *UnknownBackendError
	if err := second(OpenBytes([]byte("x"), Options{Backend: "tpu"})); !errors.As(err, &ube) || ube.Name != "tpu" {
		t.Errorf("error %v is not an *UnknownBackendError for tpu", err)
	}
}

func TestRegisterPanicsOnMisuse(t *testing.T) {
	open := func(ModelSource, Options) (Session, error) { return nil, nil }
	tests := []struct {
		name string
		call func()
	}{
		{"duplicate", func() { Register("fake-test", open) }},
		{"empty name", func() { Register("", open) }},
		{"nil func", func() { Register("fake-nil", nil) }},
	}
	for _, tc := range tests {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: Register did not panic", tc.name)
				}
			}()
			tc.call()
		}()
	}
}

func TestOptionsBackendName(t *testing.T) {
	if got := (Options{}).BackendName(); got != "ort" {
		t.Errorf("default backend = %q", got)
	}
	if got := (Options{Backend: "native"}).BackendName(); got != "native" {
		t.Errorf("backend = %q", got)
	}
}
