//go:build !unix

package onnximport

// oNonblock is 0 where the platform has no O_NONBLOCK.
const oNonblock = 0
