package ort

import (
	"regexp"
	"strings"
)

// Error is an ONNX Runtime failure, reworded for people: without the C++
// source locations and signatures ONNX Runtime puts in its messages, with
// what failed (loading or running which model, on which inputs), and a
// hint where the cause is known. Unwrap returns ONNX Runtime's own error.
type Error struct {
	// Op is "open" or "run"; Model names the model file or bytes.
	Op, Model string
	// Inputs describes the inputs of a failed run ("x=int64[2 17]").
	Inputs string
	// Message is ONNX Runtime's message, cleaned.
	Message string
	// Hint says what to do, when the cause is known.
	Hint string
	// Err is ONNX Runtime's error.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("ort: ")
	b.WriteString(e.Op)
	b.WriteString(" ")
	b.WriteString(e.Model)
	if e.Inputs != "" {
		b.WriteString(" on ")
		b.WriteString(e.Inputs)
	}
	b.WriteString(": ONNX Runtime ")
	b.WriteString(Version())
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns ONNX Runtime's error.
func (e *Error) Unwrap() error { return e.Err }

var (
	// "/onnxruntime_src/onnxruntime/core/graph/model.cc:187 " and
	// "onnxruntime::Model::Model(onnx::ModelProto&&, ...) " prefixes.
	srcLocation = regexp.MustCompile(`/?(?:[\w.-]+/)*onnxruntime_src/\S+:\d+\s+`)
	cxxFunc     = regexp.MustCompile(`(?:[\w:<>~*& ]+::)?[\w~<>]+::[\w~<>]+\((?:[^()]|\([^()]*\))*\)(?:\s*const)?\s+`)
	// onnxruntime_go's own wrapping of load failures.
	goPrefixes = []string{"Error loading temporary session: ", "Error creating temporary session: ", "Error creating session: ", "Error running network: ", "Error running session: "}
	loadPrefix = regexp.MustCompile(`^Load model from .*? failed:\s*`)
	statusCode = regexp.MustCompile(`^\[ONNXRuntimeError\] : \d+ : [A-Z_]+ : `)
)

// hints maps known ONNX Runtime messages to what they mean for a user.
var hints = []struct{ match, hint string }{
	{"Protobuf parsing failed", "the file is not a valid ONNX model: truncated, or another format"},
	{"does not have a graph", "the file holds no graph: it is empty or not an ONNX model"},
	{"External data path escapes model directory", "external data must be a relative path inside the model's folder, without .. or symlinks leading out of it"},
	{"Could not find an implementation for", "this ONNX Runtime has no kernel for that operator at that opset and type; try --backend native, or export with another --opset"},
	{"is not a registered function/op", "the operator is unknown to ONNX Runtime; try --backend native"},
	{"Got invalid dimensions for input", "an input's shape does not match what the model declares; see xt2onnx inspect for the inputs"},
	{"Unexpected input data type", "an input's dtype does not match what the model declares; see xt2onnx inspect"},
	{"Failed to allocate memory", "ONNX Runtime ran out of memory: use smaller inputs"},
	{"bad_alloc", "ONNX Runtime ran out of memory: use smaller inputs"},
	{"terminate flag", "the run was cancelled"},
	{"Unsupported model IR version", "the file needs a newer ONNX Runtime, or re-export it with an older --opset"},
	{"Opset", "the model's opset is not supported by this ONNX Runtime; re-export it with --opset 17 or 18"},
	{"ShapeInferenceError", "ONNX Runtime's shape inference refused the graph; the native backend may tell which node is at fault"},
}

// cleanMessage strips ONNX Runtime's C++ locations and signatures and
// onnxruntime_go's prefixes from msg.
func cleanMessage(msg string) string {
	msg = strings.TrimSpace(msg)
	for changed := true; changed; {
		changed = false
		for _, p := range goPrefixes {
			if strings.HasPrefix(msg, p) {
				msg, changed = strings.TrimPrefix(msg, p), true
			}
		}
	}
	msg = statusCode.ReplaceAllString(msg, "")
	msg = loadPrefix.ReplaceAllString(msg, "")
	msg = srcLocation.ReplaceAllString(msg, "")
	msg = cxxFunc.ReplaceAllString(msg, "")
	return strings.TrimSpace(msg)
}

// ortError wraps an ONNX Runtime error of op on model (and inputs, for a
// run) as an *Error.
func ortError(op, model, inputs string, err error) *Error {
	msg := cleanMessage(err.Error())
	e := &Error{Op: op, Model: model, Inputs: inputs, Message: msg, Err: err}
	for _, h := range hints {
		if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(h.match)) {
			e.Hint = h.hint
			break
		}
	}
	return e
}
