package cmdutil

import (
	"regexp"
	"strings"
)

// packagePrefix matches the Go package names the library puts in front of
// its errors ("builder: ", "onnximport: ") at the start of a message, after
// another message's ": " or at the start of an indented line.
var packagePrefix = regexp.MustCompile(`(^|: |\n\s*|\()(builder|onnximport|import|safetensors|native|ort|runtime|generate|export|graph|engine|kernels|autodiff|extdata|verify|triton|tensorio|onnxpb|ops|modelsrc|inputs): `)

// optionNames maps library option names in messages to the flags or
// variables a CLI user sets instead. Longer phrases come first.
var optionNames = strings.NewReplacer(
	"runtime.Options.MaxTensorBytes or --max-tensor-bytes", "--max-tensor-bytes",
	"Options.MaxTensorBytes or --max-tensor-bytes", "--max-tensor-bytes",
	"runtime.Options.MaxTensorBytes", "--max-tensor-bytes",
	"Options.MaxTensorBytes", "--max-tensor-bytes",
	"Options.CUDADeviceID", "the GPU index",
	"Options.CUDA", "--device cuda",
	"Options.IntraOpThreads", "--threads",
	"Options.LibraryPath", "ONNXRUNTIME_LIB",
	`use Backend "ort"`, "use --backend ort",
	`Backend "ort"`, "--backend ort",
	`Backend "native"`, "--backend native",
	": model: has no graph", ": not an ONNX model (it holds no graph)",
)

// UserMessage rewrites an error message for the command line: without the
// Go package prefixes of the library's errors and with flag names instead
// of library option names.
func UserMessage(msg string) string {
	for {
		next := packagePrefix.ReplaceAllString(msg, "$1")
		if next == msg {
			break
		}
		msg = next
	}
	return optionNames.Replace(msg)
}
