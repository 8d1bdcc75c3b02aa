package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
)

// Commands by what they take (the conventions every command follows).
var (
	// modelCommands take the model as the first argument, --model or
	// --preset.
	modelCommands = []string{"run", "parity", "bench", "inspect", "generate"}
	// backendCommands run a model on one backend chosen by --backend.
	backendCommands = []string{"run", "bench", "generate", "verify", "conformance"}
	// deviceCommands run a model somewhere: --device cpu|cuda.
	deviceCommands = []string{"run", "parity", "bench", "generate", "verify", "conformance"}
)

// command returns the subcommand name of a fresh root.
func command(t *testing.T, name string) *cobra.Command {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	root := newRootCmd(factory.New(ios, "test"))
	c, _, err := root.Find([]string{name})
	if err != nil || c == root {
		t.Fatalf("no command %s: %v", name, err)
	}
	return c
}

// complete returns the completions of args (the last one the word being
// completed) and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	r := xt2onnx(t, append([]string{"__complete"}, args...)...)
	if r.code != 0 || len(r.stdoutLines) == 0 {
		t.Fatalf("__complete %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdoutLines[:len(r.stdoutLines)-1], r.lastLine()
}

func TestModelArgumentEverywhere(t *testing.T) {
	for _, name := range modelCommands {
		c := command(t, name)
		for _, flag := range []string{"model", "preset"} {
			if c.Flags().Lookup(flag) == nil {
				t.Errorf("%s has no --%s", name, flag)
			}
		}
		if !strings.HasPrefix(c.Use, name+" (MODEL.onnx | --preset NAME)") {
			t.Errorf("%s: usage %q does not start with the model argument", name, c.Use)
		}
		got, _ := complete(t, name, "--preset", "")
		if !slices.Equal(got, []string{"base", "small", "tiny"}) {
			t.Errorf("%s --preset completes %q", name, got)
		}
		if _, dir := complete(t, name, ""); dir != ":8" { // ShellCompDirectiveFilterFileExt
			t.Errorf("%s MODEL completes with directive %s, want :8 (*.onnx files)", name, dir)
		}
	}
}

func TestBackendAndDeviceEverywhere(t *testing.T) {
	for _, name := range backendCommands {
		f := command(t, name).Flags().Lookup("backend")
		if f == nil {
			t.Errorf("%s has no --backend", name)
			continue
		}
		if f.DefValue != "ort" || !strings.Contains(f.Usage, "{native|ort}") {
			t.Errorf("%s --backend: default %q, usage %q; want default ort and the values listed", name, f.DefValue, f.Usage)
		}
		if got, _ := complete(t, name, "--backend", ""); !slices.Equal(got, []string{"native", "ort"}) {
			t.Errorf("%s --backend completes %q", name, got)
		}
	}
	for _, name := range deviceCommands {
		f := command(t, name).Flags().Lookup("device")
		if f == nil {
			t.Errorf("%s has no --device", name)
			continue
		}
		if f.DefValue != "cpu" || !strings.Contains(f.Usage, "{cpu|cuda}") {
			t.Errorf("%s --device: default %q, usage %q", name, f.DefValue, f.Usage)
		}
		if got, _ := complete(t, name, "--device", ""); !slices.Equal(got, []string{"cpu", "cuda"}) {
			t.Errorf("%s --device completes %q", name, got)
		}
	}
}

// TestEnumFlagsComplete checks that every flag with a fixed set of values
// lists them in its help and offers them to shell completion.
func TestEnumFlagsComplete(t *testing.T) {
	tests := []struct {
		cmd, flag string
		want      []string
	}{
		{"export", "opset", []string{"17", "18", "23"}},
		{"export", "mask", []string{"auto", "on", "off"}},
		{"verify", "opset", []string{"17", "18", "23"}},
		{"verify", "graph", nil}, // the values are checked against the help below
		{"parity", "backends", []string{"native", "ort"}},
		{"export", "validate-backend", []string{"native", "ort"}},
	}
	for _, tt := range tests {
		f := command(t, tt.cmd).Flags().Lookup(tt.flag)
		if f == nil {
			t.Errorf("%s has no --%s", tt.cmd, tt.flag)
			continue
		}
		got, _ := complete(t, tt.cmd, "--"+tt.flag, "")
		want := tt.want
		if want == nil {
			_, list, ok := strings.Cut(f.Usage, "{")
			list, _, _ = strings.Cut(list, "}")
			if !ok {
				t.Errorf("%s --%s usage %q lists no values", tt.cmd, tt.flag, f.Usage)
			}
			want = strings.Split(list, "|")
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s --%s completes %q, want %q", tt.cmd, tt.flag, got, want)
		}
		if !strings.Contains(f.Usage, "{"+strings.Join(want, "|")+"}") {
			t.Errorf("%s --%s usage %q does not list %q", tt.cmd, tt.flag, f.Usage, want)
		}
	}
}
