package safetensors

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel error kinds. Errors returned by this package for malformed files
// and invalid arguments are *Error values whose Kind is one of these, so
// callers can branch with errors.Is(err, ErrTruncated) and so on.
var (
	// ErrTruncated: the file ends before its length prefix, header or
	// tensor data does.
	ErrTruncated = errors.New("safetensors: truncated file")
	// ErrHeader: the JSON header is malformed (not UTF-8 or JSON, not an
	// object, missing or mistyped fields, duplicate names, bad metadata).
	ErrHeader = errors.New("safetensors: invalid header")
	// ErrDType: a dtype name is unknown, or a DType value is invalid.
	ErrDType = errors.New("safetensors: unknown dtype")
	// ErrShape: a shape is invalid (negative or overflowing dimensions) or
	// does not match the tensor's byte length.
	ErrShape = errors.New("safetensors: invalid shape")
	// ErrOffsets: data_offsets are malformed, reversed or out of range.
	ErrOffsets = errors.New("safetensors: invalid data offsets")
	// ErrOverlap: two tensors share bytes of the data section.
	ErrOverlap = errors.New("safetensors: overlapping tensors")
	// ErrHole: part of the data section (between tensors or after the last
	// one) belongs to no tensor.
	ErrHole = errors.New("safetensors: data section not covered")
	// ErrName: a tensor name given to the writer is empty, reserved,
	// duplicated or not valid UTF-8.
	ErrName = errors.New("safetensors: invalid tensor name")
	// ErrNotFound: no tensor has the requested name.
	ErrNotFound = errors.New("safetensors: tensor not found")
	// ErrUnsupported: the accessor cannot convert the tensor's dtype.
	ErrUnsupported = errors.New("safetensors: unsupported dtype conversion")
	// ErrValue: an element holds a value invalid for the request, such as
	// a BOOL byte other than 0 or 1.
	ErrValue = errors.New("safetensors: invalid element value")
	// ErrClosed: the File was used after Close.
	ErrClosed = errors.New("safetensors: file is closed")
)

// Error describes a malformed safetensors file or an invalid request. It
// unwraps to its Kind (one of the Err* sentinels) and, when set, to Err.
type Error struct {
	File   string // file path, or the name given to Parse; empty for Encode
	Tensor string // tensor involved, if any
	Kind   error  // one of the Err* sentinels
	Msg    string // human-readable description
	Err    error  // underlying cause, such as a JSON syntax error; may be nil
}

// Error formats the error as "safetensors: FILE: tensor "NAME": MSG: ERR",
// omitting the parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("safetensors: ")
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Tensor != "" {
		fmt.Fprintf(&b, "tensor %q: ", e.Tensor)
	}
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the error's Kind and underlying cause, for errors.Is and
// errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}
