// Package atomicfile writes files so that a reader never sees half of one:
// the data goes to a temporary file in the target's directory, which is
// synced and renamed over the target, and the directory is synced after.
// Every temporary file in flight is registered, so that an interrupted
// process (SIGINT, SIGTERM) can remove them all at once with Abort and
// keep any rename from happening after it: the target then holds its old
// content or nothing.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// ErrAborted is returned by Write when Abort was called before the file
// could be renamed into place.
var ErrAborted = errors.New("interrupted: nothing was written")

var (
	mu      sync.Mutex
	temps   = map[string]bool{}
	aborted bool
	// abortFlag mirrors aborted for the writes' lock-free checks.
	abortFlag atomic.Bool
)

// chunk is how much is written between two checks for Abort, so that an
// interrupted write stops within a few milliseconds, not after the whole
// file (and its fsync) has gone to disk.
const chunk = 1 << 20

// abortWriter passes writes on in chunks and fails them once Abort is
// called.
type abortWriter struct{ w io.Writer }

func (a abortWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if abortFlag.Load() {
			return n, ErrAborted
		}
		k := min(len(p), chunk)
		m, err := a.w.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

// rename is os.Rename; tests replace it to simulate a failure at the last
// step.
var rename = os.Rename

// Write writes path atomically with mode 0644: write receives a buffered
// writer on a temporary file ".<name>.tmp-*" in path's directory. On any
// error, and after Abort, the temporary file is removed and path is left
// as it was.
func Write(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	mu.Lock()
	if aborted {
		mu.Unlock()
		return ErrAborted
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err == nil {
		temps[f.Name()] = true
	}
	mu.Unlock()
	if err != nil {
		return err
	}
	tmp := f.Name()
	closed := false
	defer func() {
		mu.Lock()
		delete(temps, tmp)
		mu.Unlock()
		if err != nil {
			if !closed {
				_ = f.Close() // already failing; the first error is the one to report
			}
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(abortWriter{f}, chunk)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if abortFlag.Load() {
		return ErrAborted // no fsync: the file is going anyway
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("syncing: %w", err)
	}
	closed = true
	if err = f.Close(); err != nil {
		return err
	}
	// The rename happens under the lock, so that Abort either sees the
	// file complete at path or keeps it from ever getting there.
	mu.Lock()
	if aborted {
		mu.Unlock()
		return ErrAborted
	}
	err = rename(tmp, path)
	mu.Unlock()
	if err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// WriteBytes writes data to path atomically (see Write).
func WriteBytes(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// syncDir makes a rename in dir durable; not every file system can sync a
// directory, and the file is complete either way.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// Abort removes every temporary file being written and makes every Write
// in flight or to come fail with ErrAborted instead of renaming. It is
// for a process about to exit on a signal; it cannot be undone.
func Abort() {
	mu.Lock()
	defer mu.Unlock()
	aborted = true
	abortFlag.Store(true)
	for t := range temps {
		_ = os.Remove(t)
	}
}

// Aborted reports whether Abort was called.
func Aborted() bool {
	mu.Lock()
	defer mu.Unlock()
	return aborted
}

// reset undoes Abort, for tests.
func reset() {
	mu.Lock()
	aborted = false
	abortFlag.Store(false)
	mu.Unlock()
}
