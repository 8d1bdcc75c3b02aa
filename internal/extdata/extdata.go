// Package extdata resolves the external data files of an ONNX model,
// confined to the model's directory the way ONNX Runtime confines them: a
// location must be a relative path without "..", every file is opened
// through an os.Root of the model's directory (so a symlink that leads out
// of it is refused, wherever it points), and only regular files are read
// (a FIFO, device or directory is refused before anything can block on
// it). Both the ONNX reader and the ONNX Runtime backend check every
// reference with it before any data is read.
package extdata

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Dir resolves the external data files of one model directory. Files are
// opened once and kept open until Close. A Dir is not safe for concurrent
// use.
type Dir struct {
	dir   string   // the model's directory
	root  *os.Root // opened on first use
	files map[string]*File
}

// File is an opened external data file: a regular file inside the
// directory, with its size when opened.
type File struct {
	f    *os.File
	Size int64
	data []byte // the mapping, once Map was called
}

// New returns a Dir for the model directory dir; nothing is opened yet.
func New(dir string) *Dir { return &Dir{dir: dir} }

// ErrEscapes is the problem of a location outside the model's directory,
// worded as ONNX Runtime words it.
const ErrEscapes = "external data path escapes model directory: locations are relative paths inside the model's folder, without \"..\" and without symlinks that lead out of it"

// CheckLocation refuses locations that name nothing inside the directory,
// before the file system is asked.
func CheckLocation(location string) string {
	switch {
	case strings.ContainsRune(location, 0):
		return "contains a NUL byte"
	case filepath.IsAbs(location) || strings.HasPrefix(location, "/") || strings.HasPrefix(location, `\`):
		return "is an absolute path; " + ErrEscapes
	case !filepath.IsLocal(filepath.FromSlash(location)):
		return ErrEscapes
	}
	return ""
}

// Open returns the regular file at location inside the directory. A
// location the rules refuse gives a problem (one sentence, worded as ONNX
// Runtime words an escape: "external data path escapes model directory")
// and a nil error; err is for the file system's own failures (a missing
// file).
func (x *Dir) Open(location string) (*File, string, error) {
	if p := CheckLocation(location); p != "" {
		return nil, p, nil
	}
	name := filepath.Clean(filepath.FromSlash(location))
	if ef, ok := x.files[name]; ok {
		return ef, "", nil
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
			return nil, ErrEscapes, nil
		}
		return nil, "", fmt.Errorf("opening external data: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Sprintf("is a %s, not a regular file", FileKind(fi.Mode())), nil
	}
	f, err := x.root.OpenFile(name, os.O_RDONLY|ONonblock, 0)
	if err != nil {
		if isEscape(err) {
			return nil, ErrEscapes, nil
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
		return nil, fmt.Sprintf("is a %s, not a regular file", FileKind(fi.Mode())), nil
	}
	ef := &File{f: f, Size: fi.Size()}
	if x.files == nil {
		x.files = map[string]*File{}
	}
	x.files[name] = ef
	return ef, "", nil
}

// isEscape reports whether err is os.Root's refusal of a path that leaves
// the root.
func isEscape(err error) bool {
	return err != nil && strings.Contains(err.Error(), "path escapes from parent")
}

// FileKind names the kind of a file that is not regular: "named pipe
// (FIFO)", "device", "directory", …
func FileKind(m fs.FileMode) string {
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

// Map returns the whole file, memory-mapped read-only (read into memory
// where mapping is unavailable). The mapping outlives Close: it is released
// by Dir.Unmap. The file was checked to be regular at Open; a file that is
// truncated while mapped faults on access, as any mapped file does.
func (ef *File) Map() ([]byte, error) {
	if ef.data != nil || ef.Size == 0 {
		return ef.data, nil
	}
	b, err := mapFile(ef)
	if err != nil {
		return nil, err
	}
	ef.data = b
	return b, nil
}

// Unmap releases every mapping Map made; the bytes it returned must no
// longer be used.
func (x *Dir) Unmap() error {
	var first error
	for _, f := range x.files {
		if f.data != nil {
			if err := unmap(f.data); err != nil && first == nil {
				first = err
			}
			f.data = nil
		}
	}
	return first
}

// Close closes every opened file (mappings stay until Unmap).
func (x *Dir) Close() {
	for _, f := range x.files {
		_ = f.f.Close() // read-only files: a close error loses nothing
	}
	if x.root != nil {
		_ = x.root.Close()
	}
}

// ReadAt fills buf from offset of the file; a file that shrank since it was
// opened gives io.ErrUnexpectedEOF.
func (ef *File) ReadAt(buf []byte, offset int64) error {
	n, err := ef.f.ReadAt(buf, offset)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF // the file shrank after Stat
	}
	return err
}
