//go:build !unix

package sysmem

// FreeDisk cannot tell the free space on this platform.
func FreeDisk(string) (int64, bool) { return 0, false }
