package ort

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xt2onnx/xt2onnx/runtime"
)

func openT(t testing.TB, path string, opts runtime.Options) runtime.Session {
	t.Helper()
	requireORT(t)
	s, err := runtime.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestFixturesMatchPyTorch runs every fixture model exported by both
// PyTorch exporters and compares with PyTorch's float32 output.
func TestFixturesMatchPyTorch(t *testing.T) {
	requireORT(t)
	dirs, err := filepath.Glob(filepath.Join(fixtures, "*", "io.safetensors"))
	if err != nil || len(dirs) < 20 {
		t.Fatalf("fixtures: %d cases, %v", len(dirs), err)
	}
	ran := 0
	for _, ioPath := range dirs {
		dir := filepath.Dir(ioPath)
		io := readSafetensors(t, ioPath)
		for _, exp := range []string{"torch_ts", "torch_dynamo"} {
			model := filepath.Join(dir, exp+".onnx")
			if _, err := os.Stat(model); err != nil {
				// dec_embed_variants has no ONNX file (see fixtures/README.md).
				t.Logf("%s: no %s.onnx", filepath.Base(dir), exp)
				continue
			}
			t.Run(filepath.Base(dir)+"/"+exp, func(t *testing.T) {
				s := openT(t, model, runtime.Options{})
				out, err := s.Run(context.Background(), fixtureInputs(t, io, s.Inputs()))
				if err != nil {
					t.Fatal(err)
				}
				if len(out) != 1 || out["output"] == nil {
					t.Fatalf("outputs %v, want one named output", out)
				}
				d := maxAbsDiff(t, out["output"], io["output"])
				if d > 1e-5 {
					t.Errorf("max abs diff vs PyTorch %.3g, want <= 1e-5", d)
				}
				var meta struct {
					Exports map[string]struct {
						Diff float64 `json:"ort_max_abs_diff_vs_torch"`
					} `json:"exports"`
				}
				if b, err := os.ReadFile(filepath.Join(dir, "meta.json")); err == nil && json.Unmarshal(b, &meta) == nil {
					t.Logf("max abs diff %.3g (fixture's ONNX Runtime run: %.3g)", d, meta.Exports[strings.TrimPrefix(exp, "torch_")].Diff)
				}
			})
			ran++
		}
	}
	if ran < 40 {
		t.Errorf("ran %d models, want >= 40", ran)
	}
}

func TestDecBasicSignature(t *testing.T) {
	tests := []struct {
		file    string
		inputs  []runtime.ValueInfo
		outputs []runtime.ValueInfo
	}{
		{"torch_ts.onnx",
			[]runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}},
			[]runtime.ValueInfo{{Name: "output", DType: runtime.Float32, Shape: []int64{-1, -1, 64}, DimNames: []string{"batch", "Addoutput_dim_1", ""}}}},
		{"torch_dynamo.onnx",
			[]runtime.ValueInfo{{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"s33", "s50"}}},
			[]runtime.ValueInfo{{Name: "output", DType: runtime.Float32, Shape: []int64{-1, -1, 64}, DimNames: []string{"s33", "s50", ""}}}},
	}
	for _, tc := range tests {
		path := fixturePath("dec_basic", tc.file)
		s := openT(t, path, runtime.Options{})
		if !reflect.DeepEqual(s.Inputs(), tc.inputs) || !reflect.DeepEqual(s.Outputs(), tc.outputs) {
			t.Errorf("%s: inputs %+v outputs %+v", tc.file, s.Inputs(), s.Outputs())
		}
		// The same from bytes.
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := runtime.OpenBytes(b, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sb.Inputs(), tc.inputs) || !reflect.DeepEqual(sb.Outputs(), tc.outputs) {
			t.Errorf("%s from bytes: inputs %+v outputs %+v", tc.file, sb.Inputs(), sb.Outputs())
		}
		sb.Close()
		// Inputs returns a copy.
		s.Inputs()[0].Shape[0] = 7
		if s.Inputs()[0].Shape[0] != -1 {
			t.Error("Inputs() exposes the session's slices")
		}
	}
}

func decBasicInput(t testing.TB) (*runtime.Tensor, *runtime.Tensor) {
	io := readSafetensors(t, fixturePath("dec_basic", "io.safetensors"))
	return io["input.x"], io["output"]
}

func TestRunInputErrors(t *testing.T) {
	s := openT(t, fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{})
	x, _ := decBasicInput(t)
	xf, _ := runtime.NewFloat32([]int64{2, 17}, make([]float32, 34))
	x3, _ := runtime.NewInt64([]int64{2, 17, 1}, make([]int64, 34))
	tests := []struct {
		name   string
		inputs map[string]*runtime.Tensor
		kind   runtime.ProblemKind
		want   string
	}{
		{"wrong dtype", map[string]*runtime.Tensor{"x": xf}, runtime.DTypeMismatch, `input "x": got float32, model expects int64`},
		{"missing", map[string]*runtime.Tensor{}, runtime.MissingInput, `missing input "x" (int64[batch seq])`},
		{"unknown", map[string]*runtime.Tensor{"x": x, "X_": x}, runtime.UnknownInput, `unknown input "X_"; did you mean "x"? (model inputs: x)`},
		{"rank", map[string]*runtime.Tensor{"x": x3}, runtime.RankMismatch, `input "x": got rank 3 (shape [2 17 1]), model expects rank 2 [batch seq]`},
	}
	for _, tc := range tests {
		_, err := s.Run(context.Background(), tc.inputs)
		var ie *runtime.InputError
		if !errors.As(err, &ie) || !ie.Has(tc.kind) {
			t.Errorf("%s: error %v, want an *InputError with %v", tc.name, err, tc.kind)
			continue
		}
		want := "ort: run " + fixturePath("dec_basic", "torch_ts.onnx") + ": runtime: " + tc.want
		if err.Error() != want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, err, want)
		}
	}
}

func TestRunORTErrorHasContext(t *testing.T) {
	// Token id 64 is outside the 64-token vocabulary: Gather fails inside
	// ONNX Runtime.
	s := openT(t, fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{})
	x, _ := runtime.NewInt64([]int64{1, 2}, []int64{1, 640})
	_, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if err == nil {
		t.Fatal("out-of-range token id: no error")
	}
	for _, w := range []string{"ort: run " + fixturePath("dec_basic", "torch_ts.onnx") + " on x=int64[1 2]: ", "Gather"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestCloseAndRunAfterClose(t *testing.T) {
	s := openT(t, fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{})
	x, _ := decBasicInput(t)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if len(s.Inputs()) != 1 {
		t.Errorf("Inputs after Close: %v", s.Inputs())
	}
}

func TestCancellation(t *testing.T) {
	s := openT(t, fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{})
	x, want := decBasicInput(t)

	// Done before the run: no run at all.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, map[string]*runtime.Tensor{"x": x}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}

	// Cancelled during a run of a few seconds: ONNX Runtime's terminate flag
	// ends it early.
	const batch = 2048
	big, _ := runtime.NewInt64([]int64{batch, 64}, make([]int64, batch*64))
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err := s.Run(ctx, map[string]*runtime.Tensor{"x": big})
	elapsed := time.Since(start)
	if !errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "terminate flag") {
		t.Errorf("cancel during run: %v (after %v)", err, elapsed)
	}
	t.Logf("run cancelled after %v", elapsed)

	// The session still works, with a live context.
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := s.Run(ctx, map[string]*runtime.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, out["output"], want); d > 1e-5 {
		t.Errorf("after cancel: diff %.3g", d)
	}
}

// rows returns rows [i, j) of a [batch, ...] tensor.
func rows(t testing.TB, x *runtime.Tensor, i, j int) *runtime.Tensor {
	shape := x.Shape()
	per := x.NumElements() / int(shape[0])
	shape[0] = int64(j - i)
	var r *runtime.Tensor
	var err error
	switch d := x.Data().(type) {
	case []int64:
		r, err = runtime.NewInt64(shape, d[i*per:j*per])
	case []float32:
		r, err = runtime.NewFloat32(shape, d[i*per:j*per])
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConcurrentRuns(t *testing.T) {
	s := openT(t, fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{IntraOpThreads: 1})
	x, want := decBasicInput(t)
	cases := []struct{ in, want *runtime.Tensor }{
		{x, want},
		{rows(t, x, 0, 1), rows(t, want, 0, 1)},
		{rows(t, x, 1, 2), rows(t, want, 1, 2)},
	}
	const goroutines, runs = 8, 6
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*runs)
	for g := range goroutines {
		wg.Go(func() {
			for r := range runs {
				c := cases[(g+r)%len(cases)]
				out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": c.in})
				if err != nil {
					errs <- err
					return
				}
				got, want := out["output"], c.want
				if fmt.Sprint(got.Shape()) != fmt.Sprint(want.Shape()) {
					errs <- fmt.Errorf("goroutine %d: shape %v, want %v", g, got.Shape(), want.Shape())
					return
				}
				g32, _ := got.Float32s()
				w32, _ := want.Float32s()
				for i := range g32 {
					if d := g32[i] - w32[i]; d > 1e-5 || d < -1e-5 {
						errs <- fmt.Errorf("goroutine %d run %d: element %d is %g, want %g", g, r, i, g32[i], w32[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCloseWaitsForRuns(t *testing.T) {
	s := openT(t, fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{})
	x, _ := decBasicInput(t)
	var wg sync.WaitGroup
	results := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
			results <- err
		})
	}
	time.Sleep(time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil && !errors.Is(err, runtime.ErrClosed) {
			t.Errorf("run racing Close: %v", err)
		}
	}
}

func TestThreadOptions(t *testing.T) {
	requireORT(t)
	x, want := decBasicInput(t)
	path := fixturePath("dec_basic", "torch_ts.onnx")
	s := openT(t, path, runtime.Options{IntraOpThreads: 1, InterOpThreads: 1})
	out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, out["output"], want); d > 1e-5 {
		t.Errorf("diff %.3g", d)
	}
	tests := []struct {
		opts runtime.Options
		want string
	}{
		{runtime.Options{IntraOpThreads: -1}, "Options.IntraOpThreads is -1"},
		{runtime.Options{InterOpThreads: -2}, "Options.InterOpThreads is -2"},
		{runtime.Options{CUDA: true, CUDADeviceID: -1}, "Options.CUDADeviceID is -1"},
	}
	for _, tc := range tests {
		_, err := runtime.Open(path, tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ort: open "+path) {
			t.Errorf("Open(%+v) = %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	requireORT(t)
	tests := []struct {
		name string
		err  error
		want []string
	}{
		{"garbage bytes", second(runtime.OpenBytes([]byte("not an onnx model"), runtime.Options{})),
			[]string{"ort: open <model bytes, 17 bytes>: "}},
		{"unknown output", second(runtime.Open(fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{OutputNames: []string{"outptu"}})),
			[]string{`unknown output "outptu"; did you mean "output"?`}},
		{"missing file", second(runtime.Open(filepath.Join(t.TempDir(), "none.onnx"), runtime.Options{})),
			[]string{"runtime: open model: ", "no such file"}},
	}
	for _, tc := range tests {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, tc.err, w)
			}
		}
	}
}

// TestCUDAUnavailable checks the error for CUDA on a library without the
// CUDA provider (the fetched CPU library).
func TestCUDAUnavailable(t *testing.T) {
	requireORT(t)
	s, err := runtime.Open(fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{CUDA: true})
	if err == nil {
		s.Close()
		t.Skipf("the ONNX Runtime library %s has a working CUDA provider, so the no-CUDA error cannot be checked here", env.path)
	}
	var ce *CUDAError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T), want a *CUDAError", err, err)
	}
	if ce.Err == nil {
		t.Fatal("CUDAError wraps no error")
	}
	// The fetched CPU library fails loading libonnxruntime_providers_shared.so;
	// PyPI's CPU library says "CUDA execution provider is not enabled in this
	// build". Either way ONNX Runtime's own message is part of the error.
	for _, w := range []string{
		"ort: CUDA requested but this ONNX Runtime library (" + env.path + ", " + Version() + ") has no usable CUDA execution provider: " + ce.Err.Error() + "; ",
		"use a GPU build of ONNX Runtime via ONNXRUNTIME_LIB: libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\nlacks %q", err, w)
		}
	}
	if errors.Unwrap(ce) != ce.Err {
		t.Error("CUDAError.Unwrap does not return Err")
	}
}

// TestCUDAParity runs dec_basic on the GPU. It needs an NVIDIA GPU and a
// GPU build of ONNX Runtime (ONNXRUNTIME_LIB), and skips, saying so,
// without them.
func TestCUDAParity(t *testing.T) {
	requireORT(t)
	s, err := runtime.Open(fixturePath("dec_basic", "torch_ts.onnx"), runtime.Options{CUDA: true})
	if err != nil {
		var ce *CUDAError
		if errors.As(err, &ce) {
			t.Skipf("needs CUDA: the ONNX Runtime library %s has no usable CUDA execution provider; set ONNXRUNTIME_LIB to a GPU build on a machine with an NVIDIA GPU (%v)", ce.Library, ce.Err)
		}
		if strings.Contains(err.Error(), "CUDA") {
			t.Skipf("needs a working NVIDIA GPU: %v", err)
		}
		t.Fatal(err)
	}
	defer s.Close()
	x, want := decBasicInput(t)
	out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(t, out["output"], want); d > 1e-4 {
		t.Errorf("CUDA: max abs diff %.3g vs PyTorch", d)
	}
}

// TestRunInto checks that RunInto writes the output into the caller's
// tensor (same values as Run, same memory) and refuses a wrong dtype, a
// wrong shape and an output the model does not have.
func TestRunInto(t *testing.T) {
	path := fixturePath("dec_basic", "torch_ts.onnx")
	s := openT(t, path, runtime.Options{})
	x, want := decBasicInput(t)
	ir, ok := s.(runtime.IntoRunner)
	if !ok {
		t.Fatal("the ort session does not implement runtime.IntoRunner")
	}
	buf := make([]float32, want.NumElements())
	dst, _ := runtime.NewFloat32(want.Shape(), buf)
	outs, err := ir.RunInto(context.Background(), map[string]*runtime.Tensor{"x": x}, map[string]*runtime.Tensor{"output": dst})
	if err != nil {
		t.Fatal(err)
	}
	if outs["output"] != dst {
		t.Error("RunInto returned another tensor than the one it was given")
	}
	if d := maxAbsDiff(t, dst, want); d > 1e-5 || buf[0] == 0 {
		t.Errorf("RunInto wrote %v… (max abs diff %g from PyTorch), want the logits in the given buffer", buf[:3], d)
	}
	wrongType, _ := runtime.NewFloat64(want.Shape(), make([]float64, want.NumElements()))
	wrongShape, _ := runtime.NewFloat32([]int64{1, 1, 64}, make([]float32, 64))
	for _, tc := range []struct {
		name string
		into map[string]*runtime.Tensor
		want string
	}{
		{"dtype", map[string]*runtime.Tensor{"output": wrongType}, `output "output": the tensor to write it into is float64`},
		{"shape", map[string]*runtime.Tensor{"output": wrongShape}, "ort: run"},
		{"unknown output", map[string]*runtime.Tensor{"logits": dst}, "RunInto names outputs the session does not return (have output)"},
	} {
		if _, err := ir.RunInto(context.Background(), map[string]*runtime.Tensor{"x": x}, tc.into); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
