package version

import (
	"fmt"
	goruntime "runtime"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/runtime/ort"
)

// Options are the parsed flags of `xt2onnx version`.
type Options struct {
	IO      *iostreams.IOStreams
	Version string // the xt2onnx version
	JSON    bool
}

// NewCmdVersion returns the version command. runF, when not nil, is called
// with the parsed options instead of printing (for tests).
func NewCmdVersion(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams, Version: f.Version}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "print the versions of xt2onnx, Go and ONNX Runtime",
		Long: `Print the xt2onnx version, the Go version and platform it was built with, and
the ONNX Runtime library the "ort" backend loads: its path and version, or why
none could be loaded and how to get one. A missing library is not an error.`,
		Example: `  xt2onnx version
  xt2onnx version --json | jq -r .onnxruntime.path`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return versionRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the versions as JSON")
	return cmd
}

// info is the --json output.
type info struct {
	Version     string  `json:"version"`
	Go          string  `json:"go"`
	Platform    string  `json:"platform"`
	ONNXRuntime ortInfo `json:"onnxruntime"`
}

type ortInfo struct {
	Path    string `json:"path,omitempty"`
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// probeORT finds and loads the ONNX Runtime library.
func probeORT() ortInfo {
	path, err := ort.LibraryPath()
	if err != nil {
		return ortInfo{Error: err.Error()}
	}
	if err := ort.Init(""); err != nil {
		return ortInfo{Path: path, Error: err.Error()}
	}
	return ortInfo{Path: path, Version: ort.Version()}
}

func versionRun(o *Options) error {
	v := info{
		Version:     o.Version,
		Go:          goruntime.Version(),
		Platform:    goruntime.GOOS + "/" + goruntime.GOARCH,
		ONNXRuntime: probeORT(),
	}
	if o.JSON {
		return cmdutil.WriteJSON(o.IO.Out, v)
	}
	fmt.Fprintf(o.IO.Out, "xt2onnx %s\n", v.Version)
	fmt.Fprintf(o.IO.Out, "go %s %s\n", v.Go, v.Platform)
	if r := v.ONNXRuntime; r.Error == "" {
		fmt.Fprintf(o.IO.Out, "onnxruntime %s %s\n", r.Version, r.Path)
	} else {
		fmt.Fprintf(o.IO.Out, "onnxruntime not available: %s\n", r.Error)
	}
	return nil
}
