package runtime_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the layering docs/design.md describes: nothing
// under runtime/ imports builder (a runtime must not need the exporter),
// and the runtime API and generation link no Gorgonia (a program that only
// samples from an ONNX Runtime session should not carry the native
// engine's dependencies).
func TestDependencies(t *testing.T) {
	const mod = "github.com/xt2onnx/xt2onnx/"
	for _, tc := range []struct {
		pkgs      []string
		forbidden []string
	}{
		{[]string{"./..."}, []string{mod + "builder"}},
		{[]string{".", "./generate"}, []string{"gorgonia.org/", mod + "builder", mod + "runtime/native", mod + "runtime/ort"}},
	} {
		args := append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, tc.pkgs...)
		out, err := exec.Command("go", args...).Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			t.Fatalf("go %s: %v %s (the test needs the go command on PATH)", strings.Join(args, " "), err, msg)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %v listed only %d packages: %q", tc.pkgs, len(deps), deps)
		}
		for _, d := range deps {
			for _, f := range tc.forbidden {
				if d == f || strings.HasPrefix(d, f) && (strings.HasSuffix(f, "/") || strings.HasPrefix(d[len(f):], "/")) {
					t.Errorf("runtime packages %v depend on %s (forbidden: %s)", tc.pkgs, d, f)
				}
			}
		}
	}
}
