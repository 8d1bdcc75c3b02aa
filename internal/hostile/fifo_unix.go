//go:build unix

package hostile

import (
	"path/filepath"
	"syscall"
)

const canMkfifo = true

func mkfifo(dir string) error { return syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644) }
