package engine

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	onnximport "github.com/xt2onnx/xt2onnx/import"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

var update = flag.Bool("update", false, "rewrite the generated fixtures/conformance/native-onnx-1.22.0.txt")

const (
	nodeTestDir     = "../../../fixtures/onnx-node-tests/v1.22.0"
	conformanceList = "../../../fixtures/conformance/native-onnx-1.22.0.txt"
)

// nodeTestResult is the outcome of one ONNX backend node test.
type nodeTestResult struct {
	name   string
	status string // "pass", "fail" or "skip"
	reason string
}

// runNodeTest runs one backend node test through Eval and compares every
// output with rtol 1e-3, atol 1e-7 (ONNX's defaults).
func runNodeTest(dir string) nodeTestResult {
	r := nodeTestResult{name: filepath.Base(dir)}
	skip := func(format string, args ...any) nodeTestResult {
		r.status, r.reason = "skip", fmt.Sprintf(format, args...)
		return r
	}
	fail := func(format string, args ...any) nodeTestResult {
		r.status, r.reason = "fail", fmt.Sprintf(format, args...)
		return r
	}
	m, err := onnximport.ReadFile(filepath.Join(dir, "model.onnx"))
	if err != nil {
		var ue *onnximport.UnsupportedError
		if errors.As(err, &ue) {
			return skip("model: %s", ue.Feature)
		}
		return fail("reading model: %v", err)
	}
	data := filepath.Join(dir, "test_data_set_0")
	inputs := map[string]*tensor.Dense{}
	for i, in := range m.Graph.Inputs {
		t, err := onnximport.ReadTensorFile(filepath.Join(data, fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			var ue *onnximport.UnsupportedError
			if errors.As(err, &ue) {
				return skip("input: %s", ue.Feature)
			}
			return fail("reading input %d: %v", i, err)
		}
		d, err := kernels.DenseFromTensor(t)
		if err != nil {
			return skip("input %q: %v", in.Name, unwrapUnsupported(err))
		}
		inputs[in.Name] = d
	}
	want := make([]*graph.Tensor, len(m.Graph.Outputs))
	for i := range m.Graph.Outputs {
		t, err := onnximport.ReadTensorFile(filepath.Join(data, fmt.Sprintf("output_%d.pb", i)))
		if err != nil {
			var ue *onnximport.UnsupportedError
			if errors.As(err, &ue) {
				return skip("output: %s", ue.Feature)
			}
			return fail("reading output %d: %v", i, err)
		}
		want[i] = t
	}
	got, err := Eval(m, inputs, nil)
	if err != nil {
		var uo *UnsupportedOpsError
		if errors.As(err, &uo) {
			ops := make([]string, len(uo.Ops))
			for i, o := range uo.Ops {
				ops[i] = fmt.Sprintf("%s-%d", o.OpType, o.Opset)
			}
			return skip("unsupported operator %s", strings.Join(ops, ", "))
		}
		var ue *onnximport.UnsupportedError
		if errors.As(err, &ue) {
			return skip("%s", ue.Feature)
		}
		return fail("%v", err)
	}
	for i, o := range m.Graph.Outputs {
		if err := compareTensor(got[o.Name], want[i]); err != nil {
			return fail("output %q: %v", o.Name, err)
		}
	}
	r.status = "pass"
	return r
}

func unwrapUnsupported(err error) string {
	var ue *onnximport.UnsupportedError
	if errors.As(err, &ue) {
		return ue.Feature
	}
	return err.Error()
}

// compareTensor checks dtype, shape and values (floats within rtol 1e-3,
// atol 1e-7; NaN equals NaN; everything else exactly).
func compareTensor(got *tensor.Dense, want *graph.Tensor) error {
	if got == nil {
		return fmt.Errorf("no value")
	}
	w, err := kernels.DenseFromTensor(want)
	if err != nil {
		return err
	}
	if got.Dtype() != w.Dtype() {
		return fmt.Errorf("element type %s, want %s", kernels.DTypeName(got.Dtype()), kernels.DTypeName(w.Dtype()))
	}
	if !slices.Equal([]int(got.Shape()), []int(w.Shape())) {
		return fmt.Errorf("shape %v, want %v", got.Shape(), w.Shape())
	}
	if !kernels.IsFloat(got.Dtype()) {
		gb, wb := got.Header.Raw, w.Header.Raw
		es := int(got.Dtype().Size())
		for i := 0; i+es <= len(gb); i += es {
			if string(gb[i:i+es]) != string(wb[i:i+es]) {
				gv, _ := toFloat64s(nil, got)
				wv, _ := toFloat64s(nil, w)
				return fmt.Errorf("element %d is %v, want %v", i/es, gv[i/es], wv[i/es])
			}
		}
		return nil
	}
	gv, _ := toFloat64s(nil, got)
	wv, _ := toFloat64s(nil, w)
	for i := range gv {
		g, x := gv[i], wv[i]
		if math.IsNaN(g) && math.IsNaN(x) || g == x {
			continue
		}
		if math.Abs(g-x) > 1e-7+1e-3*math.Abs(x) {
			return fmt.Errorf("element %d is %g, want %g (of %d)", i, g, x, len(gv))
		}
	}
	return nil
}

// readConformanceList returns the test names of the checked-in list.
func readConformanceList(t *testing.T) map[string]bool {
	f, err := os.Open(conformanceList)
	if err != nil {
		if os.IsNotExist(err) {
			return map[string]bool{}
		}
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out[strings.Fields(line)[0]] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// opsOfTests maps each test to its operator (selection-by-op.json).
func opsOfTests(t *testing.T) map[string]string {
	data, err := os.ReadFile(filepath.Join(nodeTestDir, "..", "selection-by-op.json"))
	if err != nil {
		t.Fatal(err)
	}
	var byOp map[string][]string
	if err := json.Unmarshal(data, &byOp); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for op, tests := range byOp {
		for _, name := range tests {
			out[name] = op
		}
	}
	return out
}

// TestONNXNodeConformance runs every ONNX 1.22.0 backend node test through
// Eval. It fails only when a test listed in
// fixtures/conformance/native-onnx-1.22.0.txt no longer passes; -update
// rewrites the list (passing tests with tags, then every other test with
// its reason as a comment).
func TestONNXNodeConformance(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(nodeTestDir, "test_*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no node tests under %s (%v)", nodeTestDir, err)
	}
	listed := readConformanceList(t)
	ops := opsOfTests(t)
	var results []nodeTestResult
	counts := map[string]int{}
	reasons := map[string]int{}
	for _, dir := range dirs {
		r := runNodeTest(dir)
		results = append(results, r)
		counts[r.status]++
		if r.status != "pass" {
			reasons[r.status+": "+reasonGroup(r.reason)]++
		}
		if listed[r.name] && r.status != "pass" {
			t.Errorf("%s regressed (%s): %s", r.name, r.status, r.reason)
		}
	}
	for name := range listed {
		if _, err := os.Stat(filepath.Join(nodeTestDir, name)); err != nil {
			t.Errorf("listed test %s does not exist", name)
		}
	}
	t.Logf("ONNX 1.22.0 node tests: %d passed, %d failed, %d skipped (of %d)", counts["pass"], counts["fail"], counts["skip"], len(results))
	var groups []string
	for g, c := range reasons {
		groups = append(groups, fmt.Sprintf("%4d  %s", c, g))
	}
	sort.Strings(groups)
	for _, g := range groups {
		t.Log(g)
	}
	if testing.Verbose() {
		for _, r := range results {
			if r.status != "pass" {
				t.Logf("%s %s: %s", r.status, r.name, r.reason)
			}
		}
	}
	if *update {
		var b strings.Builder
		fmt.Fprintf(&b, "# ONNX 1.22.0 backend node tests that the native backend (onnximport.Eval) passes.\n")
		fmt.Fprintf(&b, "# Generated by: go test ./import -run TestONNXNodeConformance -update\n")
		fmt.Fprintf(&b, "# %d passed, %d failed, %d skipped of %d; rtol 1e-3, atol 1e-7.\n", counts["pass"], counts["fail"], counts["skip"], len(results))
		fmt.Fprintf(&b, "# Format: test name, then tags (op=<operator>, expanded when the operator is replaced by its function body).\n")
		for _, r := range results {
			if r.status == "pass" {
				fmt.Fprintf(&b, "%s%s\n", r.name, testTags(r.name, ops))
			}
		}
		fmt.Fprintf(&b, "#\n# Not passing, with reasons:\n")
		for _, r := range results {
			if r.status != "pass" {
				fmt.Fprintf(&b, "# %s %s: %s\n", r.status, r.name, strings.ReplaceAll(r.reason, "\n", " "))
			}
		}
		writeFileAtomic(t, conformanceList, []byte(b.String()))
	}
}

func testTags(name string, ops map[string]string) string {
	var tags []string
	if op, ok := ops[name]; ok {
		tags = append(tags, "op="+op)
	}
	if strings.HasSuffix(name, "_expanded") || strings.Contains(name, "_expanded_") {
		tags = append(tags, "expanded")
	}
	if len(tags) == 0 {
		return ""
	}
	return " " + strings.Join(tags, " ")
}

// reasonGroup shortens a reason to its kind, for the summary.
func reasonGroup(reason string) string {
	for _, cut := range []string{" (", ": onnximport", "\n"} {
		if i := strings.Index(reason, cut); i > 0 {
			reason = reason[:i]
		}
	}
	if len(reason) > 120 {
		reason = reason[:120] + "…"
	}
	return reason
}

// writeFileAtomic writes path through a temporary file in the same
// directory and a rename.
func writeFileAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		t.Fatal(err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		t.Fatal(err)
	}
}
