//go:build unix

package onnximport

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/xt2onnx/xt2onnx/internal/extdata"
)

// mapModelFile maps the regular model file at path read-only (checked as
// readModelFile checks it); release unmaps it.
func mapModelFile(path string) ([]byte, func(), error) {
	f, err := os.OpenFile(path, os.O_RDONLY|extdata.ONonblock, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("onnximport: reading model: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("onnximport: reading model: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, &FormatError{File: path, Problem: fmt.Sprintf("is a %s, not a regular file", extdata.FileKind(fi.Mode()))}
	}
	if fi.Size() > maxModelBytes {
		return nil, nil, &FormatError{File: path, Problem: fmt.Sprintf("is %d bytes; an ONNX protobuf file must be under 2 GiB (larger models keep their weights in external data)", fi.Size())}
	}
	if fi.Size() == 0 {
		return nil, func() {}, nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("onnximport: mapping model: %w", err)
	}
	return data, func() { _ = unix.Munmap(data) }, nil
}
