package ort

import (
	"fmt"
	"os"
	"strings"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"
)

// libState is the process-wide ONNX Runtime state.
type libState struct {
	mu      sync.Mutex
	path    string           // library loaded, "" before a successful load
	version string           // its version
	failed  map[string]error // load errors by requested path ("" = discover)
}

// env is the one libState of the process.
var env libState

// Init loads the ONNX Runtime library and creates the process-wide ONNX
// Runtime environment, if that has not happened yet. libraryPath is the
// library to load; empty means discover it (see the package documentation).
// Open calls Init with Options.LibraryPath, so calling it is only needed to
// check the set-up early or to read [Version].
//
// Once a library is loaded, Init with an empty path or the same file returns
// nil, and with another file returns an error: one process holds one ONNX
// Runtime. A failed load is not retried: later calls with the same
// libraryPath return the same error.
func Init(libraryPath string) error {
	_, err := ensure(libraryPath)
	return err
}

// Version returns the version of the loaded ONNX Runtime library, e.g.
// "1.30.0", or "" when none is loaded yet (see [Init]).
func Version() string {
	env.mu.Lock()
	defer env.mu.Unlock()
	return env.version
}

// ensure loads the library once and returns its path.
func ensure(libraryPath string) (string, error) {
	return env.ensure(libraryPath, load)
}

// ensure returns the loaded library, loading it with load on the first
// successful call.
func (st *libState) ensure(libraryPath string, load func(string) (path, version string, err error)) (string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.path != "" {
		if libraryPath != "" && !sameFile(libraryPath, st.path) {
			return "", fmt.Errorf("ort: Options.LibraryPath %q: ONNX Runtime is already loaded from %s in this process, and onnxruntime_go holds one ONNX Runtime per process; use that library or run a separate process", libraryPath, st.path)
		}
		return st.path, nil
	}
	if err, ok := st.failed[libraryPath]; ok {
		return "", err
	}
	path, version, err := load(libraryPath)
	if err != nil {
		if st.failed == nil {
			st.failed = map[string]error{}
		}
		st.failed[libraryPath] = err
		return "", err
	}
	st.path, st.version = path, version
	return path, nil
}

// load discovers and loads the library and returns its path and version.
// It is called with env.mu held.
func load(libraryPath string) (string, string, error) {
	if onnx.IsInitialized() {
		// Another package in this process initialised onnxruntime_go; use
		// its environment.
		return "(loaded by another package through onnxruntime_go)", onnx.GetVersion(), nil
	}
	path, err := discover(libraryPath, defaultDiscovery())
	if err != nil {
		return "", "", err
	}
	onnx.SetSharedLibraryPath(path)
	// ONNX Runtime's own log goes to stderr; a library must not print, so
	// only fatal messages pass. Errors still reach callers as Go errors.
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelFatal()); err != nil {
		hint := fixHint
		if strings.Contains(err.Error(), "ORT API base") {
			hint = "onnxruntime_go v1.27.0 needs ONNX Runtime >= 1.24 (C API version 24), so this library is probably too old; " + fixHint
		}
		return "", "", fmt.Errorf("ort: load ONNX Runtime library %s: %w; %s", path, err, hint)
	}
	return path, onnx.GetVersion(), nil
}

// sameFile reports whether a and b name the same file.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(fa, fb)
}
