//go:build unix

package onnximport

import "syscall"

// oNonblock opens files without blocking: a FIFO swapped in after the
// regular-file check cannot hang the reader.
const oNonblock = syscall.O_NONBLOCK
