package modelsrc

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// ModelFlags are the model flags of every command that takes a model: the
// model file as the first positional argument (or --model, its alias), or
// a built-in --preset built in memory with random weights.
type ModelFlags struct {
	// Path is the model file: the first argument or --model.
	Path string
	// Preset is --preset.
	Preset string

	flag string // --model
}

// Add registers --model and --preset on cmd, completion for both and for
// the positional argument (*.onnx files); presetWhat ends the --preset help
// ("built in memory with random weights").
func (m *ModelFlags) Add(cmd *cobra.Command, presetWhat string) {
	fl := cmd.Flags()
	fl.StringVar(&m.flag, "model", "", "the model `FILE` (the same as the first argument)")
	fl.StringVar(&m.Preset, "preset", "", PresetUsage(presetWhat))
	_ = cmd.MarkFlagFilename("model", "onnx")
	_ = cmd.RegisterFlagCompletionFunc("preset", cobra.FixedCompletions(builder.Presets(), cobra.ShellCompDirectiveNoFileComp))
	cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return []string{"onnx"}, cobra.ShellCompDirectiveFilterFileExt
	}
	cmd.Args = m.args
}

// args accepts at most one positional argument, the model.
func (m *ModelFlags) args(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return cmdutil.FlagErrorf("unexpected argument %q: %s takes one model file", args[1], cmd.CommandPath())
	}
	return nil
}

// Resolve sets Path from the positional argument or --model and checks
// that exactly one of a file and a preset is given (a preset is checked to
// exist). Call it first in RunE.
func (m *ModelFlags) Resolve(args []string) error {
	if len(args) > 0 {
		if m.flag != "" && m.flag != args[0] {
			return cmdutil.FlagErrorf("two models given (%s and --model %s): name one", args[0], m.flag)
		}
		m.Path = args[0]
	} else {
		m.Path = m.flag
	}
	switch {
	case m.Path == "" && m.Preset == "":
		return cmdutil.FlagErrorf("no model given: name a MODEL.onnx file, or use --preset %s", strings.Join(builder.Presets(), "|"))
	case m.Path != "" && m.Preset != "":
		return cmdutil.FlagErrorf("a model file and --preset cannot be used together: choose one")
	case m.Preset != "":
		return CheckPreset(m.Preset)
	}
	return nil
}

// Load returns the model: the file, or the preset built with random
// weights (seed 0), with the KV cache when kvCache is set.
func (m *ModelFlags) Load(kvCache bool) (*Model, error) {
	if m.Preset != "" {
		return Preset(m.Preset, 0, kvCache)
	}
	return File(m.Path)
}

// Name is the model in messages: the path or "preset NAME".
func (m *ModelFlags) Name() string {
	if m.Preset != "" {
		return "preset " + m.Preset
	}
	return m.Path
}

// Devices are the values of --device.
var Devices = []string{"cpu", "cuda"}

// BackendUsage is the help text of --backend.
func BackendUsage() string {
	return cmdutil.EnumUsage("runtime backend (the same default on every command)", runtime.Backends())
}

// AddBackendFlag registers --backend (default ort on every command) into p,
// with completion.
func AddBackendFlag(cmd *cobra.Command, p *string) {
	cmd.Flags().StringVar(p, "backend", runtime.DefaultBackend, BackendUsage())
	_ = cmd.RegisterFlagCompletionFunc("backend", CompleteBackends)
}

// AddDeviceFlag registers --device (cpu or cuda, default cpu) into p.
func AddDeviceFlag(cmd *cobra.Command, p *string) {
	cmdutil.StringEnumFlag(cmd.Flags(), p, "device", "", "cpu", Devices,
		"where the model runs (cuda: an NVIDIA GPU, with --backend ort and a GPU build of ONNX Runtime)")
}

// CompleteBackends completes backend names.
func CompleteBackends(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return runtime.Backends(), cobra.ShellCompDirectiveNoFileComp
}

// CheckRuntime checks --backend, --device and --threads: a known backend,
// a device the backend runs on, threads ≥ 0.
func CheckRuntime(backend, device string, threads int) error {
	if threads < 0 {
		return cmdutil.FlagErrorf("--threads %d: must be 0 (the backend's default) or more", threads)
	}
	if err := CheckBackend(backend); err != nil {
		return err
	}
	return CheckDevice(backend, device)
}

// CheckDevice returns a *cmdutil.FlagError when backend cannot run on
// device.
func CheckDevice(backend, device string) error {
	if device == "cuda" && backend != "ort" {
		return cmdutil.FlagErrorf("--device cuda needs --backend ort (the %s backend runs on the CPU only)", backend)
	}
	return nil
}

// SessionOptions returns the session options for --backend, --device,
// --threads and --max-tensor-bytes.
func SessionOptions(backend, device string, threads int, maxTensorBytes int64) runtime.Options {
	return runtime.Options{Backend: backend, IntraOpThreads: threads, CUDA: device == "cuda", MaxTensorBytes: maxTensorBytes}
}
