package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
)

// PinnedVersion is the ONNX Runtime version that scripts/fetch-onnxruntime.sh
// installs.
const PinnedVersion = "1.30.0"

// fixHint tells the user how to get a library.
const fixHint = "run `make ort` (scripts/fetch-onnxruntime.sh) or set ONNXRUNTIME_LIB to the path of an ONNX Runtime >= 1.24 shared library"

// EnvLibrary is the environment variable naming the ONNX Runtime library.
const EnvLibrary = "ONNXRUNTIME_LIB"

// FetchedLibraryPath returns where scripts/fetch-onnxruntime.sh installs the
// library: ${XT2ONNX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xt2onnx}/onnxruntime/1.30.0/libonnxruntime.so.1.
// It returns "" when neither XT2ONNX_CACHE, XDG_CACHE_HOME nor HOME is set.
func FetchedLibraryPath() string { return fetchedPath(os.Getenv) }

func fetchedPath(getenv func(string) string) string {
	root := getenv("XT2ONNX_CACHE")
	if root == "" {
		cache := getenv("XDG_CACHE_HOME")
		if cache == "" {
			home := getenv("HOME")
			if home == "" {
				return ""
			}
			cache = filepath.Join(home, ".cache")
		}
		root = filepath.Join(cache, "xt2onnx")
	}
	return filepath.Join(root, "onnxruntime", PinnedVersion, "libonnxruntime.so.1")
}

// LibraryNotFoundError is returned when no ONNX Runtime library is found.
type LibraryNotFoundError struct {
	// Tried lists each place looked at, with why it did not serve.
	Tried []string
}

// Error lists what was tried and how to fix it.
func (e *LibraryNotFoundError) Error() string {
	return "ort: ONNX Runtime shared library not found; tried: " + strings.Join(e.Tried, "; ") + "; fix: " + fixHint
}

// LibraryPath returns the ONNX Runtime shared library that discovery finds
// without an explicit path: ONNXRUNTIME_LIB, then the fetched copy, then the
// system (see the package documentation). It loads nothing into the process
// except a dynamic-loader probe, which it unloads again. When nothing is
// found the error is a *LibraryNotFoundError.
func LibraryPath() (string, error) {
	return discover("", defaultDiscovery())
}

// discovery holds discover's dependencies, replaced in tests.
type discovery struct {
	getenv func(string) string
	// probe asks the dynamic loader for name and returns the file it
	// loads.
	probe func(name string) (string, error)
	// dirs are searched for names after the loader.
	dirs  []string
	names []string
}

func defaultDiscovery() discovery {
	return discovery{
		getenv: os.Getenv,
		probe:  probeLoader,
		dirs:   []string{"/usr/local/lib", "/usr/local/lib64", "/opt/onnxruntime/lib"},
		names:  systemNames(goruntime.GOOS),
	}
}

func systemNames(goos string) []string {
	switch goos {
	case "darwin", "ios":
		return []string{"libonnxruntime.dylib"}
	case "windows":
		return []string{"onnxruntime.dll"}
	}
	return []string{"libonnxruntime.so", "libonnxruntime.so.1"}
}

// checkFile returns nil when path is an existing regular file (after
// symlinks).
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return errors.New("no such file")
		}
		return err
	}
	if fi.IsDir() {
		return errors.New("is a directory")
	}
	return nil
}

// discover finds the library: explicit, then the environment, the fetched
// copy and the system.
func discover(explicit string, d discovery) (string, error) {
	if explicit != "" {
		if !strings.ContainsRune(explicit, os.PathSeparator) {
			p, err := d.probe(explicit)
			if err != nil {
				return "", fmt.Errorf("ort: Options.LibraryPath %q: the dynamic loader cannot load it: %v; give a full path, or %s", explicit, err, fixHint)
			}
			return p, nil
		}
		if err := checkFile(explicit); err != nil {
			return "", fmt.Errorf("ort: Options.LibraryPath %q: %v; give the path of libonnxruntime.so, or leave it empty and %s", explicit, err, fixHint)
		}
		return explicit, nil
	}
	var tried []string
	if env := d.getenv(EnvLibrary); env != "" {
		if err := checkFile(env); err != nil {
			return "", fmt.Errorf("ort: %s=%q: %v; fix the variable or unset it (then `make ort` installs a library xt2onnx finds by itself)", EnvLibrary, env, err)
		}
		return env, nil
	}
	tried = append(tried, EnvLibrary+" (unset)")
	if p := fetchedPath(d.getenv); p != "" {
		err := checkFile(p)
		if err == nil {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", p, err))
	} else {
		tried = append(tried, "the fetched copy (XT2ONNX_CACHE, XDG_CACHE_HOME and HOME are all unset)")
	}
	for _, name := range d.names {
		p, err := d.probe(name)
		if err == nil {
			return p, nil
		}
		tried = append(tried, fmt.Sprintf("dynamic loader %s (%v)", name, err))
	}
	for _, dir := range d.dirs {
		for _, name := range d.names {
			p := filepath.Join(dir, name)
			if checkFile(p) == nil {
				return p, nil
			}
		}
	}
	if len(d.dirs) > 0 {
		tried = append(tried, fmt.Sprintf("%s in %s (not found)", strings.Join(d.names, ", "), strings.Join(d.dirs, ", ")))
	}
	return "", &LibraryNotFoundError{Tried: tried}
}
