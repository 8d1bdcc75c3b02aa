//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris)

package safetensors

import (
	"fmt"
	"os"
)

// mapFile reads the whole file at path; this platform has no mmap support
// here, so release is always nil.
func mapFile(path string) (data []byte, release func() error, err error) {
	data, err = os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	return data, nil, nil
}

// dontNeed is a no-op where files are read into memory.
func dontNeed([]byte) {}
