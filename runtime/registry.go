package runtime

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
)

// OpenFunc opens a model for one backend. Backends receive a source with
// exactly one of Path and Bytes set, and must name the source (with
// [ModelSource.Name]) in their errors.
type OpenFunc func(src ModelSource, opts Options) (Session, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]OpenFunc{}
)

// knownBackends maps the backends this module ships to the package whose
// import registers them, for the unknown-backend error.
var knownBackends = map[string]string{
	"ort":    "github.com/xt2onnx/xt2onnx/runtime/ort",
	"native": "github.com/xt2onnx/xt2onnx/runtime/native",
}

// Register makes a backend available under name. Backend packages call it
// from init, so that importing the package (for its side effect, with
// import _ "...") is all a program needs to use the backend.
//
// As with database/sql.Register, registering two backends under one name,
// an empty name or a nil open function is a programming error found at
// start-up, and Register panics.
func Register(name string, open OpenFunc) {
	if name == "" {
		panic("runtime: Register with an empty backend name")
	}
	if open == nil {
		panic("runtime: Register of backend " + name + " with a nil OpenFunc")
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("runtime: Register called twice for backend " + name)
	}
	registry[name] = open
}

// Backends returns the names of the registered backends, sorted.
func Backends() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// UnknownBackendError is returned by Open and OpenBytes when the requested
// backend is not registered.
type UnknownBackendError struct {
	// Name is the requested backend.
	Name string
	// Registered lists the registered backends, sorted.
	Registered []string
}

// Error lists the registered backends and the imports that register the
// backends this module ships.
func (e *UnknownBackendError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runtime: unknown backend %q; registered: ", e.Name)
	if len(e.Registered) == 0 {
		b.WriteString("none")
	} else {
		b.WriteString(strings.Join(e.Registered, ", "))
	}
	if pkg, ok := knownBackends[e.Name]; ok {
		fmt.Fprintf(&b, "; backend %q registers when its package is imported: import _ %q", e.Name, pkg)
		return b.String()
	}
	known := make([]string, 0, len(knownBackends))
	for n := range knownBackends {
		known = append(known, n)
	}
	slices.Sort(known)
	b.WriteString("; backends register when their package is imported:")
	for i, n := range known {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %q by import _ %q", n, knownBackends[n])
	}
	return b.String()
}

func lookup(opts Options) (OpenFunc, error) {
	name := opts.BackendName()
	registryMu.RLock()
	open, ok := registry[name]
	registryMu.RUnlock()
	if !ok {
		return nil, &UnknownBackendError{Name: name, Registered: Backends()}
	}
	return open, nil
}

// Open opens the ONNX model file at path with the backend opts selects.
func Open(path string, opts Options) (Session, error) {
	if path == "" {
		return nil, errors.New("runtime: Open: empty model path")
	}
	open, err := lookup(opts)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("runtime: open model: %w", err)
	}
	return open(ModelSource{Path: path}, opts)
}

// OpenBytes opens a serialized ONNX model with the backend opts selects. The
// backend may keep model until the session is closed; do not change it.
func OpenBytes(model []byte, opts Options) (Session, error) {
	if len(model) == 0 {
		return nil, errors.New("runtime: OpenBytes: empty model")
	}
	open, err := lookup(opts)
	if err != nil {
		return nil, err
	}
	return open(ModelSource{Bytes: model}, opts)
}
