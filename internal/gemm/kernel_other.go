//go:build !amd64 || purego

package gemm

// Only the portable Go kernel is registered here (see kernel.go).
