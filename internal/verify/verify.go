// Package verify checks a model against an x-transformers reference fixture:
// it builds (or loads) the model, runs it on the fixture's inputs with a
// chosen backend and compares the result with PyTorch's float64 output.
package verify

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/xt2onnx/xt2onnx/builder"
	"github.com/xt2onnx/xt2onnx/export"
	"github.com/xt2onnx/xt2onnx/internal/safetensors"
	"github.com/xt2onnx/xt2onnx/internal/tensorio"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// Graph sources a fixture can be verified with.
const (
	GraphBuilt       = "built"        // built by xt2onnx from config.json + model.safetensors
	GraphTorchTS     = "torch_ts"     // PyTorch's TorchScript exporter (torch_ts.onnx)
	GraphTorchDynamo = "torch_dynamo" // PyTorch's dynamo exporter (torch_dynamo.onnx)
)

// Graphs lists the valid graph sources.
var Graphs = []string{GraphBuilt, GraphTorchTS, GraphTorchDynamo}

// DefaultTol is the default max-abs-diff tolerance against float64 PyTorch.
const DefaultTol = 1e-5

// Options configures a verification.
type Options struct {
	Graph   string  // one of Graphs; empty means GraphBuilt
	Backend string  // runtime backend; empty means "ort"
	Tol     float64 // 0 means DefaultTol
	Opset   int64   // export opset for GraphBuilt; 0 means the default
	Inline  bool    // inline model-local functions in the built graph
	Runtime runtime.Options
}

// OutputDiff compares one model output with the reference.
type OutputDiff struct {
	Name       string  `json:"name"`
	Shape      []int64 `json:"shape"`
	MaxAbsDiff float64 `json:"max_abs_diff"`
	NaNs       int     `json:"nans"`
}

// Result is the outcome of one verification.
type Result struct {
	Case       string       `json:"case"`
	Graph      string       `json:"graph"`
	Backend    string       `json:"backend"`
	Inline     bool         `json:"inline"`
	Tol        float64      `json:"tol"`
	Outputs    []OutputDiff `json:"outputs"`
	MaxAbsDiff float64      `json:"max_abs_diff"`
	// TorchF32MaxAbsDiff is PyTorch's own float32 error against its float64
	// result on the same inputs (the fixture's "output" vs "output_f64"):
	// the float32 noise floor of this model. 0 when the fixture lacks it.
	TorchF32MaxAbsDiff float64 `json:"torch_f32_max_abs_diff"`
	Pass               bool    `json:"pass"`
	// Reason says why the case failed: the build, run or comparison error,
	// or the tolerance exceeded.
	Reason string `json:"reason,omitempty"`
}

// Line returns the contract last line: "PASS <case> graph=<g> backend=<b>
// max_abs_diff=<x>" or "FAIL <case> graph=<g> backend=<b> <reason>".
func (r *Result) Line() string {
	if r.Pass {
		return fmt.Sprintf("PASS %s graph=%s backend=%s max_abs_diff=%.3g", r.Case, r.Graph, r.Backend, r.MaxAbsDiff)
	}
	// One line, whatever the reason: multi-line errors (a WeightsError
	// listing tensors) are joined with "; ".
	reason := strings.Join(strings.Fields(strings.ReplaceAll(r.Reason, "\n", " ; ")), " ")
	reason = strings.ReplaceAll(reason, ": ;", ":")
	return fmt.Sprintf("FAIL %s graph=%s backend=%s %s", r.Case, r.Graph, r.Backend, reason)
}

// Fixture verifies the fixture in dir. A failing comparison, an unsupported
// option or a run error is a Result with Pass false and a Reason, not an
// error; the error return is for a context cancellation only.
func Fixture(ctx context.Context, dir string, opts Options) (*Result, error) {
	if opts.Graph == "" {
		opts.Graph = GraphBuilt
	}
	if opts.Tol == 0 {
		opts.Tol = DefaultTol
	}
	opts.Runtime.Backend = opts.Backend
	r := &Result{Case: filepath.Base(filepath.Clean(dir)), Graph: opts.Graph, Backend: opts.Runtime.BackendName(), Inline: opts.Inline, Tol: opts.Tol}
	if err := run(ctx, dir, opts, r); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.Pass = false
		r.Reason = err.Error()
		return r, nil
	}
	if r.MaxAbsDiff > opts.Tol || math.IsNaN(r.MaxAbsDiff) {
		r.Reason = fmt.Sprintf("max_abs_diff=%.3g exceeds tol=%.3g (PyTorch's own float32 error: %.3g)", r.MaxAbsDiff, opts.Tol, r.TorchF32MaxAbsDiff)
		return r, nil
	}
	r.Pass = true
	return r, nil
}

// Model returns the ONNX bytes verify runs for a fixture and graph source.
func Model(dir string, opts Options) ([]byte, error) {
	switch opts.Graph {
	case GraphBuilt, "":
		cfg, err := builder.LoadConfig(filepath.Join(dir, "config.json"))
		if err != nil {
			return nil, err
		}
		wpath := filepath.Join(dir, "model.safetensors")
		w, err := builder.OpenWeights(wpath)
		if err != nil {
			return nil, err
		}
		defer w.Close()
		m, err := builder.Build(cfg, w, wpath, builder.Options{Opset: opts.Opset})
		if err != nil {
			return nil, err
		}
		return export.Marshal(m, export.Options{Opset: opts.Opset, InlineFunctions: opts.Inline})
	case GraphTorchTS, GraphTorchDynamo:
		path := filepath.Join(dir, opts.Graph+".onnx")
		data, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("fixture has no %s.onnx (PyTorch could not export this model)", opts.Graph)
		}
		return data, err
	}
	return nil, fmt.Errorf("unknown graph %q (want one of %v)", opts.Graph, Graphs)
}

func run(ctx context.Context, dir string, opts Options, r *Result) error {
	model, err := Model(dir, opts)
	if err != nil {
		return err
	}
	sess, err := runtime.OpenBytes(model, opts.Runtime)
	if err != nil {
		return err
	}
	defer sess.Close()

	iopath := filepath.Join(dir, "io.safetensors")
	io, err := safetensors.Open(iopath)
	if err != nil {
		return err
	}
	defer io.Close()
	inputs, err := tensorio.ReadInputs(io, iopath, "input.", sess.Inputs())
	if err != nil {
		return err
	}
	outs, err := sess.Run(ctx, inputs)
	if err != nil {
		return err
	}
	outInfos := sess.Outputs()
	if len(outInfos) != 1 {
		return fmt.Errorf("model has %d outputs; the fixture has one reference output", len(outInfos))
	}
	got := outs[outInfos[0].Name]
	want, err := io.Float64s("output_f64")
	if err != nil {
		return err
	}
	wantInfo, _ := io.Info("output_f64")
	d, err := compare(outInfos[0].Name, got, want, wantInfo.Shape)
	if err != nil {
		return err
	}
	r.Outputs = append(r.Outputs, d)
	r.MaxAbsDiff = d.MaxAbsDiff
	if f32, err := io.Float64s("output"); err == nil && len(f32) == len(want) {
		for i := range want {
			r.TorchF32MaxAbsDiff = max(r.TorchF32MaxAbsDiff, math.Abs(f32[i]-want[i]))
		}
	}
	if d.NaNs > 0 {
		r.MaxAbsDiff = math.NaN()
	}
	return nil
}

func compare(name string, got *runtime.Tensor, want []float64, wantShape []int64) (OutputDiff, error) {
	d := OutputDiff{Name: name, Shape: got.Shape()}
	if fmt.Sprint(d.Shape) != fmt.Sprint(wantShape) {
		return d, fmt.Errorf("output %q has shape %v, reference has %v", name, d.Shape, wantShape)
	}
	vals, err := got.Float32s()
	if err != nil {
		return d, fmt.Errorf("output %q: %w", name, err)
	}
	for i, v := range vals {
		if math.IsNaN(float64(v)) {
			d.NaNs++
			continue
		}
		d.MaxAbsDiff = max(d.MaxAbsDiff, math.Abs(float64(v)-want[i]))
	}
	return d, nil
}
