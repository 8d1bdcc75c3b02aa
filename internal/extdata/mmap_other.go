//go:build !unix

package extdata

// mapFile reads the whole file where memory mapping is not available.
func mapFile(ef *File) ([]byte, error) {
	buf := make([]byte, ef.Size)
	if err := ef.ReadAt(buf, 0); err != nil {
		return nil, err
	}
	return buf, nil
}

func unmap([]byte) error { return nil }
