//go:build aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris

package safetensors

import (
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/xt2onnx/xt2onnx/internal/sysmem"
)

// mapFile maps the regular file at path read-only and returns its contents
// and a function that unmaps them. Files too small to hold a header, and
// non-regular files such as pipes, are read into memory instead (release is
// nil then).
func mapFile(path string) (data []byte, release func() error, err error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer fd.Close() // the mapping outlives the descriptor

	st, err := fd.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.IsDir() {
		return nil, nil, &Error{File: path, Msg: "is a directory, want a .safetensors file"}
	}
	size := st.Size()
	if !st.Mode().IsRegular() || size < 8 {
		// A pipe is read into memory, up to half of it: /dev/zero or an
		// endless stream must not exhaust it.
		limit := sysmem.Limit() / 2
		data, err := io.ReadAll(io.LimitReader(fd, limit+1))
		if err != nil {
			return nil, nil, fmt.Errorf("safetensors: read %s: %w", path, err)
		}
		if int64(len(data)) > limit {
			return nil, nil, &Error{File: path, Msg: fmt.Sprintf("is not a regular file and streams more than %s; save the weights to a file", sysmem.FormatBytes(limit))}
		}
		return data, nil, nil
	}
	if size > math.MaxInt {
		return nil, nil, &Error{File: path, Msg: fmt.Sprintf("file of %d bytes is too large to map on this platform", size)}
	}
	data, err = unix.Mmap(int(fd.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: mmap %s: %w", path, err)
	}
	return data, func() error { return unix.Munmap(data) }, nil
}

// dontNeed tells the kernel that the pages of b (a part of a mapping) will
// not be needed soon: they leave the process's resident set and are read
// from the file again if touched. It is advice; errors are ignored.
func dontNeed(b []byte) {
	page := os.Getpagesize()
	if len(b) < page {
		return
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	// Only whole pages inside b: the neighbours' pages may be in use.
	lo := (start + uintptr(page) - 1) &^ uintptr(page-1)
	hi := (start + uintptr(len(b))) &^ uintptr(page-1)
	if hi <= lo {
		return
	}
	off := int(lo - start)
	_ = unix.Madvise(b[off:off+int(hi-lo)], unix.MADV_DONTNEED)
}
