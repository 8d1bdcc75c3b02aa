package onnximport

import "fmt"

// ExternalDataError reports an external data reference that the reader
// refuses: a location that is absolute, climbs out with "..", holds a NUL,
// resolves (through a symlink) outside the model's directory, or names
// something other than a regular file.
type ExternalDataError struct {
	// File is the model file; Where names the tensor.
	File, Where string
	// Location is the external data location as the model gives it.
	Location string
	// Problem says what is wrong.
	Problem string
}

func (e *ExternalDataError) Error() string {
	return message("onnximport: external data: ", e.File, e.Where, fmt.Sprintf("location %q: %s", e.Location, e.Problem), nil)
}
