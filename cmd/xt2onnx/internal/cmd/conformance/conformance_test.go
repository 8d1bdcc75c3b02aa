package conformance

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	_ "github.com/xt2onnx/xt2onnx/runtime/native" // registers "native"
	_ "github.com/xt2onnx/xt2onnx/runtime/ort"    // registers "ort"
)

const nodeTests = "../../../../../fixtures/onnx-node-tests/v1.22.0"

func TestNewCmdConformance(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    Options
		wantErr string
	}{
		{"defaults", nil, Options{Dir: DefaultDir, Backend: "ort", Device: "cpu", Rtol: 1e-3, Atol: 1e-7}, ""},
		{"everything", []string{"--dir", "d", "--backend", "ort", "--op", "Relu,Abs", "--op", "Add", "--rtol", "0.1", "--atol", "0", "--json"},
			Options{Dir: "d", Backend: "ort", Device: "cpu", Ops: []string{"Relu", "Abs", "Add"}, Rtol: 0.1, Atol: 0, JSON: true}, ""},
		{"unknown backend", []string{"--backend", "tvm"}, Options{}, `unknown backend "tvm": want native or ort`},
		{"negative rtol", []string{"--rtol", "-1"}, Options{}, "--rtol -1: must be a finite number ≥ 0"},
		{"empty dir", []string{"--dir", ""}, Options{}, "--dir is empty: name the directory of node tests"},
		{"argument", []string{"x"}, Options{}, `unexpected argument "x": conformance takes flags only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ios, _, _, _ := iostreams.Test()
			var got *Options
			cmd := NewCmdConformance(factory.New(ios, "test"), func(o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				var fe *cmdutil.FlagError
				if err == nil || err.Error() != tt.wantErr || !errors.As(err, &fe) {
					t.Fatalf("error = %v, want the usage error %q", err, tt.wantErr)
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

// run runs the command in-process off a terminal.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	cmd := NewCmdConformance(factory.New(ios, "test"), nil)
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	_, err = cmd.ExecuteC()
	return out.String(), errOut.String(), err
}

func TestConformanceRun(t *testing.T) {
	for _, backend := range []string{"native", "ort"} {
		t.Run(backend, func(t *testing.T) {
			out, stderr, err := run(t, "--dir", nodeTests, "--backend", backend, "--op", "Relu,Abs")
			if err != nil {
				t.Fatalf("error %v; output:\n%s", err, out)
			}
			if out != "3 passed, 0 failed, 0 skipped\n" || stderr != "" {
				t.Errorf("stdout %q, stderr %q", out, stderr)
			}
		})
	}
	// Skips are listed with their reason and do not fail the run.
	out, _, err := run(t, "--dir", nodeTests, "--op", "Equal", "--backend", "native")
	if err != nil {
		t.Fatalf("Equal: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; last != "8 passed, 0 failed, 2 skipped" {
		t.Errorf("Equal: last line %q", last)
	}
	if !strings.HasPrefix(lines[0], "SKIP test_equal_string: ") || !strings.Contains(lines[0], "element type STRING (8) is not supported") {
		t.Errorf("Equal: first line %q", lines[0])
	}
}

// TestConformanceFailure runs a test whose expected output was swapped for
// another test's.
func TestConformanceFailure(t *testing.T) {
	dir := t.TempDir()
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile(filepath.Join(nodeTests, "test_relu/model.onnx"), filepath.Join(dir, "test_relu/model.onnx"))
	copyFile(filepath.Join(nodeTests, "test_relu/test_data_set_0/input_0.pb"), filepath.Join(dir, "test_relu/test_data_set_0/input_0.pb"))
	copyFile(filepath.Join(nodeTests, "test_abs/test_data_set_0/output_0.pb"), filepath.Join(dir, "test_relu/test_data_set_0/output_0.pb"))
	copyFile(filepath.Join(nodeTests, "test_abs/model.onnx"), filepath.Join(dir, "test_abs/model.onnx"))
	copyFile(filepath.Join(nodeTests, "test_abs/test_data_set_0/input_0.pb"), filepath.Join(dir, "test_abs/test_data_set_0/input_0.pb"))
	copyFile(filepath.Join(nodeTests, "test_abs/test_data_set_0/output_0.pb"), filepath.Join(dir, "test_abs/test_data_set_0/output_0.pb"))

	out, _, err := run(t, "--dir", dir)
	if !errors.Is(err, cmdutil.ErrSilent) {
		t.Errorf("error %v, want the silent failure status", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "FAIL test_relu: output 0 (y): element ") || lines[1] != "1 passed, 1 failed, 0 skipped" {
		t.Errorf("output:\n%s", out)
	}

	out, _, err = run(t, "--dir", dir, "--json")
	if !errors.Is(err, cmdutil.ErrSilent) {
		t.Errorf("--json: error %v", err)
	}
	var rep Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, out)
	}
	if rep.Passed != 1 || rep.Failed != 1 || len(rep.Tests) != 2 || rep.Tests[0].Name != "test_abs" || rep.Tests[0].Result != Pass ||
		rep.Tests[1].Result != Fail || rep.Summary != "1 passed, 1 failed, 0 skipped" {
		t.Errorf("report %+v", rep)
	}

	if _, _, err := run(t, "--dir", dir, "--op", "Relu"); err == nil || !strings.Contains(err.Error(), "--op needs selection-by-op.json") {
		t.Errorf("--op without a selection file: error %v", err)
	}
	if _, _, err := run(t, "--dir", nodeTests, "--op", "Relux"); err == nil || !strings.Contains(err.Error(), "--op Relux: ") {
		t.Errorf("--op Relux: error %v", err)
	}
	if _, _, err := run(t, "--dir", t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds no node tests") {
		t.Errorf("empty dir: error %v", err)
	}
}
