//go:build !unix

package extdata

// ONonblock is 0 where the platform has no O_NONBLOCK.
const ONonblock = 0
