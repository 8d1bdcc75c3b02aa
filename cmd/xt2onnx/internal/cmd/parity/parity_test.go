package parity

import (
	"encoding/json"
	"errors"
	modelinputs "github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/inputs"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers "native"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"    // registers "ort"
)

const fixture = "../../../../../fixtures/xtransformers-1.9.2/dec_basic"

func TestNewCmdParity(t *testing.T) {
	def := []string{"native", "ort"}
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr string
		flagErr bool
	}{
		{"random", []string{"m.onnx", "--random", "--batch", "2", "--seq", "8", "--seed", "3"},
			Options{ModelPath: "m.onnx", Source: modelinputs.Source{Random: true, Batch: 2, Seq: 8, Seed: 3}, Atol: 1e-5, Backends: def, Device: "cpu"}, "", false},
		{"inputs, tolerances, backends, json", []string{"m.onnx", "--inputs", "io.safetensors", "--prefix", "input.", "--atol", "1e-4", "--rtol", "0.01", "--backends", "ort,native", "--json"},
			Options{ModelPath: "m.onnx", Source: modelinputs.Source{InputsPath: "io.safetensors", Prefix: "input.", Batch: 1, Seq: 16}, Atol: 1e-4, Rtol: 0.01, Backends: []string{"ort", "native"}, Device: "cpu", JSON: true}, "", false},
		{"no model", []string{"--random"}, Options{}, "no model given: name a MODEL.onnx file, or use --preset base|small|tiny", true},
		{"--model and preset", []string{"--preset", "tiny", "--random", "--device", "cuda"}, Options{Preset: "tiny", Source: modelinputs.Source{Random: true, Batch: 1, Seq: 16}, Atol: 1e-5, Backends: def, Device: "cuda"}, "", false},
		{"cuda without ort", []string{"m.onnx", "--random", "--device", "cuda", "--backends", "native,native2"}, Options{}, `unknown backend "native2": want native or ort`, true},
		{"no inputs", []string{"m.onnx"}, Options{}, "no inputs given: use --inputs FILE.safetensors or --random", true},
		{"both inputs", []string{"m.onnx", "--random", "--inputs", "x"}, Options{}, "--inputs and --random cannot be used together", true},
		{"seq without random", []string{"m.onnx", "--inputs", "x", "--seq", "3"}, Options{}, "--batch, --seq and --seed apply to --random only", true},
		{"negative atol", []string{"m.onnx", "--random", "--atol", "-1"}, Options{}, "--atol -1: must be a finite number ≥ 0", true},
		{"nan rtol", []string{"m.onnx", "--random", "--rtol", "NaN"}, Options{}, "--rtol NaN: must be a finite number ≥ 0", true},
		{"one backend", []string{"m.onnx", "--random", "--backends", "native"}, Options{}, "--backends native: name two backends, the one to check and the reference", true},
		{"same backend", []string{"m.onnx", "--random", "--backends", "ort,ort"}, Options{}, "--backends ort,ort: name two different backends", true},
		{"unknown backend", []string{"m.onnx", "--random", "--backends", "native,tvm"}, Options{}, `unknown backend "tvm": want native or ort`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdParity(factory.New(ios, "test"), func(o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || err.Error() != tt.wantErr || errors.As(err, &fe) != tt.flagErr {
					t.Fatalf("error = %v, want %q (usage error %v)", err, tt.wantErr, tt.flagErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.IO, got.Ctx = nil, nil
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("options\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func run(t *testing.T, tty bool, args ...string) (string, error) {
	t.Helper()
	ios, _, out, _ := iostreams.Test()
	ios.SetStdoutTTY(tty)
	cmd := NewCmdParity(factory.New(ios, "test"), nil)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	_, err := cmd.ExecuteC()
	return out.String(), err
}

func TestParityRun(t *testing.T) {
	model := fixture + "/torch_dynamo.onnx"
	out, err := run(t, false, model, "--inputs", fixture+"/io.safetensors", "--prefix", "input.")
	if err != nil {
		t.Fatalf("error %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// rtol 0: the relative difference decides nothing, so no column shows
	// it beside the verdict.
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "output\t[2 17 64]\t") || !strings.HasSuffix(lines[0], "\tpass") || strings.Count(lines[0], "\t") != 3 ||
		lines[1] != "PASS parity native vs ort: 1 output within atol=1e-05 rtol=0" {
		t.Errorf("output:\n%s", out)
	}

	// A tolerance no float32 pair of backends meets.
	model = fixture + "/torch_ts.onnx" // dims named batch and seq
	out, err = run(t, true, model, "--random", "--batch", "2", "--seq", "5", "--atol", "0")
	if !errors.Is(err, cmdutil.ErrSilent) {
		t.Errorf("atol 0: error %v, want the silent failure status", err)
	}
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "OUTPUT  SHAPE") || strings.Contains(lines[0], "REL") || !strings.Contains(lines[1], "FAIL: element ") ||
		lines[2] != "FAIL parity native vs ort: 1 of 1 output beyond atol=0 rtol=0" {
		t.Errorf("atol 0 output:\n%s", out)
	}

	// With an rtol the relative difference takes part and is shown.
	out, err = run(t, true, model, "--random", "--rtol", "1e-3")
	if lines = strings.Split(strings.TrimSpace(out), "\n"); err != nil || len(lines) != 3 || !strings.Contains(lines[0], "MAX REL DIFF") ||
		lines[2] != "PASS parity native vs ort: 1 output within atol=1e-05 rtol=0.001" {
		t.Errorf("--rtol 1e-3: %v\n%s", err, out)
	}

	out, err = run(t, false, model, "--random", "--backends", "ort,native", "--json")
	if err != nil {
		t.Fatalf("--json: %v", err)
	}
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output: %v\n%s", err, out)
	}
	if !rep.Pass || len(rep.Outputs) != 1 || rep.Outputs[0].Name != "output" || !(rep.Outputs[0].MaxAbsDiff > 0) ||
		rep.Line != "PASS parity ort vs native: 1 output within atol=1e-05 rtol=0" {
		t.Errorf("report %+v", rep)
	}
}
