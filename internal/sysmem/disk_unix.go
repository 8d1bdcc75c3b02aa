//go:build unix

package sysmem

import "golang.org/x/sys/unix"

// FreeDisk returns the bytes an unprivileged process may still write on
// the file system holding dir, and false when that cannot be known.
func FreeDisk(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
