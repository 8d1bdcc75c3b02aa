package modelsrc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/inputs"
	xtexport "github.com/xt2onnx/xt2onnx/export"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/generate"
)

// Model is a model ready to open: a file (Path) or serialized ONNX bytes
// built in memory (Bytes).
type Model struct {
	// Name describes the model in messages: the path or "preset tiny".
	Name string
	// Path is the .onnx file; empty for an in-memory model.
	Path string
	// Bytes is the serialized model when Path is empty.
	Bytes []byte
	// Meta is the generation metadata (max_seq_len, vocabulary, cache).
	Meta generate.Meta
}

// File returns the model in the ONNX file at path, with its metadata.
func File(path string) (*Model, error) {
	if err := CheckFile(path); err != nil {
		return nil, err
	}
	meta, err := generate.ReadMeta(path)
	if err != nil {
		return nil, err
	}
	return &Model{Name: path, Path: path, Meta: meta}, nil
}

// CheckFile returns an error saying what is wrong when path is not a
// non-empty regular file: missing, a directory, empty.
func CheckFile(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file or directory", path)
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("%s is a directory, not an ONNX model file", path)
	case fi.Size() == 0:
		return fmt.Errorf("%s is empty: not an ONNX model", path)
	}
	return nil
}

// Progress is the part of iostreams.IOStreams that Resolve reports with.
type Progress interface {
	StartProgress(format string, args ...any)
	StopProgress()
}

// Resolve returns the model a command was given: the built-in preset when
// preset is set (built in memory with random weights, seed 0, reporting on
// p while it builds), else the file at path, checked to be a non-empty
// regular file.
func Resolve(p Progress, path, preset string) (*Model, error) {
	if preset == "" {
		if err := CheckFile(path); err != nil {
			return nil, err
		}
		return &Model{Name: path, Path: path}, nil
	}
	p.StartProgress("building preset %s", preset)
	defer p.StopProgress()
	return Preset(preset, 0, false)
}

// Limits returns what the model's metadata says about valid inputs.
func (m *Model) Limits() inputs.Limits {
	if m.Path != "" {
		return inputs.ReadLimits(m.Path)
	}
	g, err := onnximport.Read(m.Bytes)
	if err != nil {
		return inputs.Limits{Vocab: map[string]int64{}}
	}
	return inputs.LimitsOf(g)
}

// Preset builds the built-in preset name with random weights (seed) in
// memory, with the KV cache (in the buffer layout, which the runtime reads
// in place) when kvCache is set.
func Preset(name string, seed uint64, kvCache bool) (*Model, error) {
	cfg, err := builder.Preset(name)
	if err != nil {
		return nil, err
	}
	bo := builder.Options{KVCache: kvCache}
	if kvCache {
		bo.KVLayout = builder.KVLayoutBuffer
	}
	m, err := builder.Build(cfg, builder.RandomWeights{Seed: seed}, fmt.Sprintf("random weights (seed %d)", seed), bo)
	if err != nil {
		return nil, err
	}
	b, err := xtexport.Marshal(m, xtexport.Options{})
	if err != nil {
		return nil, err
	}
	desc := "preset " + name
	if kvCache {
		desc += " (KV cache)"
	}
	meta, err := generate.MetaOf(m)
	if err != nil {
		return nil, err
	}
	return &Model{Name: desc, Bytes: b, Meta: meta}, nil
}

// Open opens the model with the session options. The errors of a model
// built in memory (opening it, running it) name it by m.Name ("preset
// tiny") instead of the runtime's "<model bytes, N bytes>".
func (m *Model) Open(opts runtime.Options) (runtime.Session, error) {
	if m.Path != "" {
		return runtime.Open(m.Path, opts)
	}
	from := runtime.ModelSource{Bytes: m.Bytes}.Name()
	sess, err := runtime.OpenBytes(m.Bytes, opts)
	if err != nil {
		return nil, &renamedError{err: err, from: from, to: m.Name}
	}
	return &namedSession{Session: sess, from: from, to: m.Name}, nil
}

// namedSession is a session whose Run errors name the model as to, not
// from.
type namedSession struct {
	runtime.Session
	from, to string
}

func (s *namedSession) Run(ctx context.Context, inputs map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	out, err := s.Session.Run(ctx, inputs)
	if err != nil {
		return out, &renamedError{err: err, from: s.from, to: s.to}
	}
	return out, nil
}

// renamedError is err with from replaced by to in its message; it unwraps
// to err, so its kind (errors.As, errors.Is) is kept.
type renamedError struct {
	err      error
	from, to string
}

func (e *renamedError) Error() string { return strings.ReplaceAll(e.err.Error(), e.from, e.to) }
func (e *renamedError) Unwrap() error { return e.err }

// CheckPreset returns a *cmdutil.FlagError unless name is a built-in preset.
func CheckPreset(name string) error {
	if !slices.Contains(builder.Presets(), name) {
		return cmdutil.FlagErrorf("unknown preset %q: want %s", name, cmdutil.OrList(builder.Presets()))
	}
	return nil
}

// CheckBackend returns a *cmdutil.FlagError unless name is a registered
// runtime backend.
func CheckBackend(name string) error {
	if !slices.Contains(runtime.Backends(), name) {
		return cmdutil.FlagErrorf("unknown backend %q: want %s", name, cmdutil.OrList(runtime.Backends()))
	}
	return nil
}

// PresetUsage is the help text of a --preset flag.
func PresetUsage(what string) string {
	return "built-in decoder `NAME` (" + strings.Join(builder.Presets(), ", ") + ") " + what
}

// KVLayouts are the values of --kv-layout, the default first.
var KVLayouts = []string{"buffer", "concat"}

// KVLayout maps a --kv-layout value to the builder's layout.
func KVLayout(name string) builder.KVLayout {
	if name == "concat" {
		return builder.KVLayoutConcat
	}
	return builder.KVLayoutBuffer
}

// KVLayoutName is the --kv-layout name of a layout.
func KVLayoutName(l builder.KVLayout) string {
	if l == builder.KVLayoutConcat {
		return "concat"
	}
	return string(l)
}
