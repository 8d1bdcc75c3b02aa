//go:build !unix

package ort

import "errors"

// probeLoader is not implemented outside Unix: discovery there relies on
// Options.LibraryPath and ONNXRUNTIME_LIB.
func probeLoader(name string) (string, error) {
	return "", errors.New("dynamic-loader search is only implemented on Unix")
}
