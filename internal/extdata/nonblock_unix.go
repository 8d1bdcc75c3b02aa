//go:build unix

package extdata

import "syscall"

// ONonblock opens files without blocking: a FIFO swapped in after the
// regular-file check cannot hang the reader.
const ONonblock = syscall.O_NONBLOCK
