package conformance

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/cmdutil"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/compare"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/factory"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/iostreams"
	"github.com/xt2onnx/xt2onnx/cmd/xt2onnx/internal/modelsrc"
	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Options are the parsed flags of `xt2onnx conformance`.
type Options struct {
	IO  *iostreams.IOStreams
	Ctx context.Context

	Dir     string
	Backend string
	Device  string // --device: cpu or cuda
	Ops     []string
	Rtol    float64
	Atol    float64
	JSON    bool
}

// Defaults: the ONNX test runner's tolerances and the checked-in subset.
const (
	DefaultDir  = "fixtures/onnx-node-tests/v1.22.0"
	DefaultRtol = 1e-3
	DefaultAtol = 1e-7
)

// selectionFile maps operators to their tests; it sits next to the
// versioned test directory.
const selectionFile = "selection-by-op.json"

// NewCmdConformance returns the conformance command. runF, when not nil, is
// called with the parsed options instead of running (for tests).
func NewCmdConformance(f *factory.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: f.IOStreams}
	cmd := &cobra.Command{
		Use:   "conformance [--dir DIR] [--backend ort|native] [--op NAME]",
		Short: "run ONNX's operator conformance tests with a backend",
		Long: `Run ONNX's backend node tests with a runtime backend. Each test is a directory
holding model.onnx (one operator, or its expansion into plain operators) and
test_data_set_0/ with input_<i>.pb and output_<i>.pb, serialized TensorProto
files in graph input and output order.

A test passes when every output has the expected dtype and shape, and values
within tolerance: |got − want| ≤ atol + rtol·|want| for floats (NaN matches
NaN), equality for integers and bools. A test is skipped, not failed, when it
cannot be put to the backend through runtime.Tensor: an element type that
runtime.Tensor cannot hold (string, float8, int4, …), or one the backend's
binding cannot pass (the ort backend cannot return float16, bfloat16 or
scalar outputs). Everything else that goes wrong is a failure: an operator or
opset the backend lacks, a model it refuses, a run error, a wrong output.

--op restricts the run to the tests of the named operators, as listed in
selection-by-op.json next to (or above) the test directory.

One line is printed per failing or skipped test, "FAIL <test>: <reason>" or
"SKIP <test>: <reason>", and the last line is exactly
"N passed, M failed, K skipped". --json prints one JSON object instead, with
every test's result. Progress goes to stderr on a terminal only.

Exit status: 0 when no test failed (skips allowed), 1 otherwise.`,
		Example: `  xt2onnx conformance --dir fixtures/onnx-node-tests/v1.22.0

  # One operator, with the pure-Go backend
  xt2onnx conformance --op LayerNormalization --backend native`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ctx = cmd.Context()
			if err := opts.validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return conformanceRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Dir, "dir", DefaultDir, "`DIR`ectory of node tests (one subdirectory per test)")
	modelsrc.AddBackendFlag(cmd, &opts.Backend)
	modelsrc.AddDeviceFlag(cmd, &opts.Device)
	fl.StringSliceVar(&opts.Ops, "op", nil, "run only the tests of these operators (repeat or comma-separate)")
	fl.Float64Var(&opts.Rtol, "rtol", DefaultRtol, "relative tolerance")
	fl.Float64Var(&opts.Atol, "atol", DefaultAtol, "absolute tolerance")
	fl.BoolVar(&opts.JSON, "json", false, "print every test's result as JSON")
	return cmd
}

func (o *Options) validate() error {
	switch {
	case o.Dir == "":
		return cmdutil.FlagErrorf("--dir is empty: name the directory of node tests")
	case !(o.Rtol >= 0) || math.IsInf(o.Rtol, 0):
		return cmdutil.FlagErrorf("--rtol %g: must be a finite number ≥ 0", o.Rtol)
	case !(o.Atol >= 0) || math.IsInf(o.Atol, 0):
		return cmdutil.FlagErrorf("--atol %g: must be a finite number ≥ 0", o.Atol)
	}
	return modelsrc.CheckRuntime(o.Backend, o.Device, 0)
}

// Result statuses.
const (
	Pass = "pass"
	Fail = "fail"
	Skip = "skip"
)

// TestResult is the outcome of one node test; its JSON form is an element
// of the --json "tests" array.
type TestResult struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

// Report is the outcome of a conformance run (the --json output).
type Report struct {
	Dir     string       `json:"dir"`
	Backend string       `json:"backend"`
	Rtol    float64      `json:"rtol"`
	Atol    float64      `json:"atol"`
	Passed  int          `json:"passed"`
	Failed  int          `json:"failed"`
	Skipped int          `json:"skipped"`
	Tests   []TestResult `json:"tests"`
	Summary string       `json:"summary"`
}

func conformanceRun(o *Options) error {
	ios := o.IO
	rep, err := RunWith(o.Ctx, o.Dir, modelsrc.SessionOptions(o.Backend, o.Device, 0, 0), o.Ops, o.Rtol, o.Atol, func(i, n int, name string) {
		ios.StartProgress("%d/%d %s", i+1, n, name)
	})
	ios.StopProgress()
	if err != nil {
		return err
	}
	if o.JSON {
		if err := cmdutil.WriteJSON(ios.Out, rep); err != nil {
			return err
		}
	} else {
		for _, t := range rep.Tests {
			if t.Result != Pass {
				fmt.Fprintf(ios.Out, "%s %s: %s\n", strings.ToUpper(t.Result), t.Name, t.Reason)
			}
		}
		fmt.Fprintln(ios.Out, rep.Summary)
	}
	if rep.Failed > 0 {
		return cmdutil.ErrSilent
	}
	return nil
}

// Run runs the node tests in dir (those of ops only, when ops is not
// empty) with backend and returns the results, sorted by test name.
// progress, when not nil, is called before each test.
func Run(ctx context.Context, dir, backend string, ops []string, rtol, atol float64, progress func(i, n int, name string)) (*Report, error) {
	return RunWith(ctx, dir, runtime.Options{Backend: backend}, ops, rtol, atol, progress)
}

// RunWith is Run with the session options of every test (backend, device).
func RunWith(ctx context.Context, dir string, sessOpts runtime.Options, ops []string, rtol, atol float64, progress func(i, n int, name string)) (*Report, error) {
	backend := sessOpts.BackendName()
	if ctx == nil {
		ctx = context.Background()
	}
	names, err := listTests(dir, ops)
	if err != nil {
		return nil, err
	}
	rep := &Report{Dir: dir, Backend: backend, Rtol: rtol, Atol: atol, Tests: []TestResult{}}
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if progress != nil {
			progress(i, len(names), name)
		}
		r := runTest(ctx, filepath.Join(dir, name), sessOpts, rtol, atol)
		r.Name = name
		switch r.Result {
		case Pass:
			rep.Passed++
		case Fail:
			rep.Failed++
		case Skip:
			rep.Skipped++
		}
		rep.Tests = append(rep.Tests, r)
	}
	rep.Summary = fmt.Sprintf("%d passed, %d failed, %d skipped", rep.Passed, rep.Failed, rep.Skipped)
	return rep, nil
}

// listTests returns the test directories of dir (holding model.onnx),
// sorted, restricted to the tests of ops when ops is not empty.
func listTests(dir string, ops []string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "model.onnx")); err == nil {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("conformance: %s holds no node tests (directories with a model.onnx)", dir)
	}
	if len(ops) == 0 {
		return names, nil
	}
	sel, path, err := readSelection(dir)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, op := range ops {
		tests, ok := sel[op]
		if !ok {
			known := make([]string, 0, len(sel))
			for k := range sel {
				known = append(known, k)
			}
			sort.Strings(known)
			return nil, cmdutil.FlagErrorf("--op %s: %s lists no tests of it (operators: %s)", op, path, strings.Join(known, ", "))
		}
		for _, t := range tests {
			want[t] = true
		}
	}
	var out []string
	for _, n := range names {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// readSelection reads selection-by-op.json from dir or its parent.
func readSelection(dir string) (map[string][]string, string, error) {
	for _, d := range []string{dir, filepath.Dir(filepath.Clean(dir))} {
		path := filepath.Join(d, selectionFile)
		b, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("conformance: %w", err)
		}
		var sel map[string][]string
		if err := json.Unmarshal(b, &sel); err != nil {
			return nil, "", fmt.Errorf("conformance: %s: %w", path, err)
		}
		return sel, path, nil
	}
	return nil, "", fmt.Errorf("conformance: --op needs %s in %s or its parent directory", selectionFile, dir)
}

// runTest runs one test directory.
func runTest(ctx context.Context, dir string, sessOpts runtime.Options, rtol, atol float64) (r TestResult) {
	backend := sessOpts.BackendName()
	defer func() {
		if p := recover(); p != nil {
			r = TestResult{Result: Fail, Reason: fmt.Sprintf("panic: %v", p)}
		}
	}()
	// Inputs or outputs of a type other than tensor (sequence, optional)
	// cannot be put through runtime.Tensor.
	if _, err := onnximport.ReadFile(filepath.Join(dir, "model.onnx")); err != nil {
		var ue *onnximport.UnsupportedError
		if errors.As(err, &ue) && (strings.HasPrefix(ue.Where, "graph input") || strings.HasPrefix(ue.Where, "graph output")) {
			return TestResult{Result: Skip, Reason: oneLine(err)}
		}
	}
	data := filepath.Join(dir, "test_data_set_0")
	ins, err := readTensors(data, "input_")
	if err != nil {
		return skipOrFail(err)
	}
	outs, err := readTensors(data, "output_")
	if err != nil {
		return skipOrFail(err)
	}
	if reason := bindingLimit(backend, ins, outs); reason != "" {
		return TestResult{Result: Skip, Reason: reason}
	}
	sess, err := runtime.Open(filepath.Join(dir, "model.onnx"), sessOpts)
	if err != nil {
		return TestResult{Result: Fail, Reason: oneLine(err)}
	}
	defer sess.Close()
	infos := sess.Inputs()
	if len(infos) != len(ins) {
		return TestResult{Result: Fail, Reason: fmt.Sprintf("the model has %d inputs, the test data %d", len(infos), len(ins))}
	}
	feeds := map[string]*runtime.Tensor{}
	for i, info := range infos {
		feeds[info.Name] = ins[i]
	}
	got, err := sess.Run(ctx, feeds)
	if err != nil {
		return TestResult{Result: Fail, Reason: oneLine(err)}
	}
	oinfos := sess.Outputs()
	if len(oinfos) != len(outs) {
		return TestResult{Result: Fail, Reason: fmt.Sprintf("the model has %d outputs, the test data %d", len(oinfos), len(outs))}
	}
	for i, info := range oinfos {
		c := compare.Tensors(got[info.Name], outs[i], atol, rtol)
		if !c.Pass {
			return TestResult{Result: Fail, Reason: fmt.Sprintf("output %d (%s): %s", i, info.Name, c.Reason)}
		}
	}
	return TestResult{Result: Pass}
}

// unsupportedType reports a tensor file whose element type runtime.Tensor
// cannot hold.
type unsupportedType struct{ msg string }

func (e *unsupportedType) Error() string { return e.msg }

// skipOrFail turns a test data error into a skip (a type runtime.Tensor
// cannot hold) or a failure.
func skipOrFail(err error) TestResult {
	var ut *unsupportedType
	var ue *onnximport.UnsupportedError
	if errors.As(err, &ut) || errors.As(err, &ue) {
		return TestResult{Result: Skip, Reason: oneLine(err)}
	}
	return TestResult{Result: Fail, Reason: oneLine(err)}
}

// bindingLimit returns why a backend's binding cannot pass the test's
// tensors, or "".
func bindingLimit(backend string, ins, outs []*runtime.Tensor) string {
	if backend != "ort" {
		return ""
	}
	for i, t := range outs {
		switch {
		case t.DType() == runtime.Float16 || t.DType() == runtime.BFloat16:
			return fmt.Sprintf("output %d is %s, which the ort backend cannot return (onnxruntime_go v1.27.0 corrupts it)", i, t.DType())
		case t.Rank() == 0:
			return fmt.Sprintf("output %d is a scalar, which the ort backend cannot return (onnxruntime_go v1.27.0)", i)
		}
	}
	for i, t := range ins {
		if (t.DType() == runtime.Float16 || t.DType() == runtime.BFloat16) && (t.Rank() == 0 || t.NumElements() == 0) {
			return fmt.Sprintf("input %d is a scalar or empty %s tensor, which the ort backend cannot pass (onnxruntime_go v1.27.0)", i, t.DType())
		}
	}
	return ""
}

// readTensors reads dir/<prefix><i>.pb for i = 0, 1, … in order.
func readTensors(dir, prefix string) ([]*runtime.Tensor, error) {
	var out []*runtime.Tensor
	for i := 0; ; i++ {
		path := filepath.Join(dir, prefix+strconv.Itoa(i)+".pb")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return out, nil
		}
		gt, err := onnximport.ReadTensorFile(path)
		if err != nil {
			return nil, err // names the file
		}
		t, err := toRuntime(gt)
		if err != nil {
			return nil, fmt.Errorf("%s%d.pb: %w", prefix, i, err)
		}
		out = append(out, t)
	}
}

// toRuntime converts a decoded TensorProto into a runtime.Tensor.
func toRuntime(t *graph.Tensor) (*runtime.Tensor, error) {
	dt := runtime.DType(t.DType)
	if dt.Size() == 0 {
		return nil, &unsupportedType{fmt.Sprintf("element type %s, which runtime.Tensor cannot hold", t.DType)}
	}
	n := int(t.NumElements())
	if len(t.Raw) != n*dt.Size() {
		return nil, fmt.Errorf("tensor %q: %d bytes for %d elements of %s", t.Name, len(t.Raw), n, dt)
	}
	le := binary.LittleEndian
	raw := t.Raw
	shape := t.Dims
	if shape == nil {
		shape = []int64{}
	}
	switch dt {
	case runtime.Float32:
		return runtime.NewFloat32(shape, decode(n, func(i int) float32 { return math.Float32frombits(le.Uint32(raw[4*i:])) }))
	case runtime.Float64:
		return runtime.NewFloat64(shape, decode(n, func(i int) float64 { return math.Float64frombits(le.Uint64(raw[8*i:])) }))
	case runtime.Int8:
		return runtime.NewInt8(shape, decode(n, func(i int) int8 { return int8(raw[i]) }))
	case runtime.Int16:
		return runtime.NewInt16(shape, decode(n, func(i int) int16 { return int16(le.Uint16(raw[2*i:])) }))
	case runtime.Int32:
		return runtime.NewInt32(shape, decode(n, func(i int) int32 { return int32(le.Uint32(raw[4*i:])) }))
	case runtime.Int64:
		return runtime.NewInt64(shape, decode(n, func(i int) int64 { return int64(le.Uint64(raw[8*i:])) }))
	case runtime.Uint8:
		return runtime.NewUint8(shape, decode(n, func(i int) uint8 { return raw[i] }))
	case runtime.Uint16:
		return runtime.NewUint16(shape, decode(n, func(i int) uint16 { return le.Uint16(raw[2*i:]) }))
	case runtime.Uint32:
		return runtime.NewUint32(shape, decode(n, func(i int) uint32 { return le.Uint32(raw[4*i:]) }))
	case runtime.Uint64:
		return runtime.NewUint64(shape, decode(n, func(i int) uint64 { return le.Uint64(raw[8*i:]) }))
	case runtime.Bool:
		return runtime.NewBool(shape, decode(n, func(i int) bool { return raw[i] != 0 }))
	case runtime.Float16:
		return runtime.NewFloat16(shape, decode(n, func(i int) uint16 { return le.Uint16(raw[2*i:]) }))
	case runtime.BFloat16:
		return runtime.NewBFloat16(shape, decode(n, func(i int) uint16 { return le.Uint16(raw[2*i:]) }))
	}
	return nil, &unsupportedType{fmt.Sprintf("element type %s, which runtime.Tensor cannot hold", dt)}
}

func decode[T any](n int, at func(int) T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = at(i)
	}
	return out
}

// oneLine keeps the first line of an error's message.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
