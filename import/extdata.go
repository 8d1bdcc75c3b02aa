package onnximport

import (
	"fmt"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/xt2onnx/xt2onnx/internal/onnxpb"
)

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

// ExternalRef is one initializer's external data reference, as the model
// file states it.
type ExternalRef struct {
	Name, Location string
	Offset, Length int64
}

// ExternalRefs lists the external data references of the main graph's
// initializers of the model file at path, in file order, without opening
// any data file. Offsets and lengths that are absent or unreadable are -1.
func ExternalRefs(path string) ([]ExternalRef, error) {
	data, err := readModelFile(path)
	if err != nil {
		return nil, err
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, &FormatError{File: path, Problem: "not an ONNX ModelProto (truncated or not an .onnx file?)", Err: err}
	}
	var out []ExternalRef
	for _, tp := range mp.GetGraph().GetInitializer() {
		if tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			continue
		}
		r := ExternalRef{Name: tp.GetName(), Offset: -1, Length: -1}
		for _, e := range tp.GetExternalData() {
			v, err := strconv.ParseInt(e.GetValue(), 10, 64)
			if err != nil {
				v = -1
			}
			switch e.GetKey() {
			case "location":
				r.Location = e.GetValue()
			case "offset":
				r.Offset = v
			case "length":
				r.Length = v
			}
		}
		out = append(out, r)
	}
	return out, nil
}
