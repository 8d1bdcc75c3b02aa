package onnximport

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// externalFiles resolves the external data files of one model, confined to
// the model's directory the way ONNX Runtime confines them: a location must
// be a relative path without "..", every file is opened through an os.Root
// of the model's directory (so a symlink that leads outside it is refused,
// wherever it points), and only regular files are read (a FIFO, device or
// directory is refused before anything blocks on it). Sizes are checked
// against the file's real size before anything is allocated.
type externalFiles struct {
	dir   string   // the model's directory
	root  *os.Root // opened on first use
	files map[string]*extFile
}

type extFile struct {
	f    *os.File
	size int64
}

// ExternalDataError reports an external data reference that the reader
// refuses: a location that is absolute, climbs out with "..", holds a NUL,
// resolves (through a symlink) outside the model's directory, or names
// something other than a regular file.
type ExternalDataError struct {
	// File is the model file; Where names the tensor.
	File, Where string
	// Location is the external data location as the model gives it.
	Location string
	// Problem says what is wrong.
	Problem string
}

func (e *ExternalDataError) Error() string {
	return message("onnximport: external data: ", e.File, e.Where, fmt.Sprintf("location %q: %s", e.Location, e.Problem), nil)
}

// errEscapes is the problem of a location outside the model's directory,
// worded as ONNX Runtime words it.
const errEscapes = "external data path escapes model directory: locations are relative paths inside the model's folder, without \"..\" and without symlinks that lead out of it"

// checkLocation refuses locations that name nothing inside the directory,
// before the file system is asked.
func checkLocation(location string) string {
	switch {
	case strings.ContainsRune(location, 0):
		return "contains a NUL byte"
	case filepath.IsAbs(location) || strings.HasPrefix(location, "/") || strings.HasPrefix(location, `\`):
		return "is an absolute path; " + errEscapes
	case !filepath.IsLocal(filepath.FromSlash(location)):
		return errEscapes
	}
	return ""
}

// open returns the regular file at location inside the directory, with
// its size, opening it once per reader.
func (x *externalFiles) open(location string) (*extFile, string, error) {
	if p := checkLocation(location); p != "" {
		return nil, p, nil
	}
	name := filepath.Clean(filepath.FromSlash(location))
	if f, ok := x.files[name]; ok {
		return f, "", nil
	}
	if x.root == nil {
		r, err := os.OpenRoot(x.dir)
		if err != nil {
			return nil, "", fmt.Errorf("opening the model's directory %s: %w", x.dir, err)
		}
		x.root = r
	}
	// Stat before opening: a FIFO must not be opened at all (opening one
	// for reading blocks until a writer appears). Root.Stat follows
	// symlinks only while they stay inside the directory.
	fi, err := x.root.Stat(name)
	if err != nil {
		if isEscape(err) {
			return nil, errEscapes, nil
		}
		return nil, "", fmt.Errorf("opening external data: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Sprintf("is a %s, not a regular file", fileKind(fi.Mode())), nil
	}
	f, err := x.root.OpenFile(name, os.O_RDONLY|oNonblock, 0)
	if err != nil {
		if isEscape(err) {
			return nil, errEscapes, nil
		}
		return nil, "", fmt.Errorf("opening external data: %w", err)
	}
	// The file may have been swapped between Stat and Open: check the
	// open file itself.
	fi, err = f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		_ = f.Close()
		if err != nil {
			return nil, "", fmt.Errorf("opening external data: %w", err)
		}
		return nil, fmt.Sprintf("is a %s, not a regular file", fileKind(fi.Mode())), nil
	}
	ef := &extFile{f: f, size: fi.Size()}
	if x.files == nil {
		x.files = map[string]*extFile{}
	}
	x.files[name] = ef
	return ef, "", nil
}

// isEscape reports whether err is os.Root's refusal of a path that leaves
// the root.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeDevice != 0, m&fs.ModeCharDevice != 0:
		return "device"
	case m.IsDir():
		return "directory"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "special file"
}

func (x *externalFiles) close() {
	for _, f := range x.files {
		_ = f.f.Close() // read-only files: a close error loses nothing
	}
	if x.root != nil {
		_ = x.root.Close()
	}
}

// readAt reads length bytes at offset of an opened file.
func (ef *extFile) readAt(buf []byte, offset int64) error {
	n, err := ef.f.ReadAt(buf, offset)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF // the file shrank after Stat
	}
	return err
}
