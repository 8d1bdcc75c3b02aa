//go:build unix

package extdata

import (
	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f read-only.
func mapFile(ef *File) ([]byte, error) {
	return unix.Mmap(int(ef.f.Fd()), 0, int(ef.Size), unix.PROT_READ, unix.MAP_SHARED)
}

func unmap(b []byte) error { return unix.Munmap(b) }
