package onnximport

// A FormatError reports that the input is not a valid ONNX model: it does
// not decode as a ModelProto (a truncated or foreign file), or it breaks a
// rule of the format, such as tensor data whose size does not match the
// tensor's shape.
type FormatError struct {
	// File is the model file, when the model was read with ReadFile.
	File string
	// Where names the part at fault, e.g. `tensor "w"` or
	// `node "attn/MatMul" (MatMul)`; empty when the whole input is at fault.
	Where string
	// Problem says what is wrong.
	Problem string
	// Err is the underlying error, for example the protobuf decoder's.
	Err error
}

func (e *FormatError) Error() string {
	return message("onnximport: invalid model: ", e.File, e.Where, e.Problem, e.Err)
}

// Unwrap returns the underlying error, if any.
func (e *FormatError) Unwrap() error { return e.Err }

// An UnsupportedError reports a valid ONNX model that uses a feature the
// graph IR cannot represent, such as string tensors or sequence types.
type UnsupportedError struct {
	// File is the model file, when the model was read with ReadFile.
	File string
	// Where names the part that uses the feature.
	Where string
	// Feature describes the unsupported feature.
	Feature string
}

func (e *UnsupportedError) Error() string {
	return message("onnximport: unsupported model: ", e.File, e.Where, e.Feature, nil)
}

func message(prefix, file, where, problem string, err error) string {
	s := prefix
	if file != "" {
		s += file + ": "
	}
	if where != "" {
		s += where + ": "
	}
	s += problem
	if err != nil {
		s += ": " + err.Error()
	}
	return s
}
