package version

import (
	"encoding/json"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
)

func TestNewCmdVersion(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		json    bool
		wantErr string
	}{
		{args: nil},
		{args: []string{"--json"}, json: true},
		{args: []string{"extra"}, wantErr: `unexpected argument "extra": version takes flags only`},
	} {
		ios, _, _, _ := iostreams.Test()
		var got *Options
		cmd := NewCmdVersion(factory.New(ios, "v1.2.3"), func(o *Options) error { got = o; return nil })
		cmd.SetArgs(tt.args)
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		_, err := cmd.ExecuteC()
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%v: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != "v1.2.3" || got.JSON != tt.json {
			t.Errorf("%v: options %+v", tt.args, got)
		}
	}
}

// TestVersionRun needs the ONNX Runtime library: without it the report says
// "not available" and the test fails with the reason, which names the fix.
func TestVersionRun(t *testing.T) {
	ios, _, out, _ := iostreams.Test()
	if err := versionRun(&Options{IO: ios, Version: "v1.2.3", JSON: true}); err != nil {
		t.Fatal(err)
	}
	var v info
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "v1.2.3" || v.Go != runtime.Version() {
		t.Errorf("versions %+v", v)
	}
	if v.ONNXRuntime.Error != "" {
		t.Fatalf("ONNX Runtime: %s", v.ONNXRuntime.Error)
	}
	if !strings.HasPrefix(v.ONNXRuntime.Version, "1.") || v.ONNXRuntime.Path == "" {
		t.Errorf("onnxruntime %+v", v.ONNXRuntime)
	}

	out.Reset()
	if err := versionRun(&Options{IO: ios, Version: "v1.2.3"}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"xt2onnx v1.2.3", "go " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, "onnxruntime " + v.ONNXRuntime.Version + " " + v.ONNXRuntime.Path}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}
