// Package cblas is a minimal cgo binding to the system CBLAS (cblas_sgemm
// and cblas_dgemm), compiled only with the blas build tag. It lives apart
// from package gemm because Go does not allow cgo and Go assembly in one
// package.
package cblas
