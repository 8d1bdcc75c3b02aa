//go:build !unix

package onnximport

// mapModelFile reads the model file where memory mapping is unavailable.
func mapModelFile(path string) ([]byte, func(), error) {
	data, err := readModelFile(path)
	return data, func() {}, err
}
