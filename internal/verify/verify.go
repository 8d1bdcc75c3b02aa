// Package verify checks a model against an x-transformers reference: it
// builds (or loads) the model, runs it on the reference inputs with one or
// more backends and compares the result with PyTorch's float64 output; it
// can also compare greedy generation token by token and check the KV-cache
// form step by step.
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

// DefaultTol is the floor of the default tolerance: a check passes when its
// max abs diff against PyTorch float64 is at most max(DefaultTol, 2 ×
// PyTorch's own float32 error on the same inputs). Two float32 computations
// of the same model each err by about PyTorch's float32 error, so a
// correct export of a large or ill-conditioned model can exceed 1e-5
// exactly as PyTorch's own exported graph does.
const DefaultTol = 1e-5

// Tolerance rules, as Result.TolRule and OutputDiff.TolRule name them.
const (
	TolGiven   = "given"        // Options.Tol
	TolDefault = "default"      // DefaultTol
	TolTorch   = "2x_torch_f32" // 2 × PyTorch's own float32 error
)

// Options configures a verification.
type Options struct {
	Graph string // one of Graphs; empty means GraphBuilt
	// Backend is the runtime backend; empty means "ort". Backends, when
	// set, checks with each of them instead.
	Backend  string
	Backends []string
	// Tol is the largest max abs diff that passes; 0 means the default
	// (see DefaultTol).
	Tol float64
	// Rtol adds a tolerance relative to the reference: an element passes
	// when |got − want| ≤ Tol + Rtol·|want|. 0 (the default) leaves only Tol.
	Rtol   float64
	Opset  int64 // export opset for GraphBuilt; 0 means the default
	Inline bool  // inline model-local functions in the built graph
	// Generate compares greedy generation with the reference's gen.out
	// (decoder references), token by token.
	Generate bool
	// KVCache also checks the model exported with a KV cache (GraphBuilt):
	// its full-sequence output, its output computed one token at a time,
	// and with Generate its greedy generation. Models the cache does not
	// support get a note instead.
	KVCache bool
	// KVLayout is the layout of that KV-cache model (the zero value is
	// builder.KVLayoutConcat).
	KVLayout builder.KVLayout
	Runtime  runtime.Options
}

// OutputDiff is one row of a verification: an output compared with the
// reference, or a generation compared token by token.
type OutputDiff struct {
	// Name is the model output, or "tokens" for a generation.
	Name string `json:"name"`
	// Check says what ran: "forward", "kv-cache forward" (the KV-cache
	// file, whole sequence, empty cache), "kv-cache steps" (prefix, then
	// one token a step), "generate" or "generate kv-cache".
	Check   string  `json:"check"`
	Backend string  `json:"backend"`
	Shape   []int64 `json:"shape"`
	// MaxAbsDiff and MaxRelDiff (over reference values ≠ 0) compare with
	// PyTorch float64; NaN outputs are counted in NaNs instead.
	MaxAbsDiff float64 `json:"max_abs_diff"`
	MaxRelDiff float64 `json:"max_rel_diff"`
	NaNs       int     `json:"nans"`
	// TorchF32MaxAbsDiff is PyTorch's own float32 error on the reference.
	TorchF32MaxAbsDiff float64 `json:"torch_f32_max_abs_diff"`
	Tol                float64 `json:"tol"`
	TolRule            string  `json:"tol_rule"`
	// Rtol is Options.Rtol.
	Rtol float64 `json:"rtol,omitempty"`
	// Tokens counts the generated tokens compared, Mismatched those that
	// differ, Ties the rows whose comparison stopped at a near tie (a
	// float64 margin within twice the tolerance, where float32 may pick
	// either token).
	Tokens     int  `json:"tokens,omitempty"`
	Mismatched int  `json:"mismatched_tokens,omitempty"`
	Ties       int  `json:"ties,omitempty"`
	Pass       bool `json:"pass"`
	// Note explains a failure or a tie.
	Note string `json:"note,omitempty"`
}

// Result is the outcome of one verification.
type Result struct {
	Case    string `json:"case"`
	Graph   string `json:"graph"`
	Backend string `json:"backend"`
	Inline  bool   `json:"inline"`
	// Tol is the tolerance of the forward checks, TolRule how it was
	// chosen (TolGiven, TolDefault or TolTorch).
	Tol     float64      `json:"tol"`
	TolRule string       `json:"tol_rule"`
	Outputs []OutputDiff `json:"outputs"`
	// MaxAbsDiff is the largest max abs diff of the rows (NaN when an
	// output holds NaN).
	MaxAbsDiff float64 `json:"max_abs_diff"`
	// TorchF32MaxAbsDiff is PyTorch's own float32 error against its float64
	// result on the same inputs (the reference's "output" vs "output_f64"):
	// the float32 noise floor of this model. 0 when the reference lacks it.
	TorchF32MaxAbsDiff float64 `json:"torch_f32_max_abs_diff"`
	// Notes lists checks that were asked for and could not run, and why.
	Notes []string `json:"notes,omitempty"`
	Pass  bool     `json:"pass"`
	// Reason says why the case failed: the build, run or comparison error,
	// the tolerance exceeded or the first differing token.
	Reason string `json:"reason,omitempty"`
}

// TolText describes the tolerance for the verdict line: "1e-05 (default)",
// "2.4e-05 (2× PyTorch's own float32 error 1.2e-05)" or "1e-06 (given)".
func (r *Result) TolText() string {
	switch r.TolRule {
	case TolTorch:
		return fmt.Sprintf("%.3g (2× PyTorch's own float32 error %.3g)", r.Tol, r.TorchF32MaxAbsDiff)
	case TolGiven:
		return fmt.Sprintf("%.3g (given)", r.Tol)
	}
	return fmt.Sprintf("%.3g (default; PyTorch's own float32 error %.3g)", r.Tol, r.TorchF32MaxAbsDiff)
}

// Line returns the contract last line: "PASS <case> graph=<g> backend=<b>
// max_abs_diff=<x> tol=<t> (<rule>)[ generate=<n>/<n>]" or "FAIL <case>
// graph=<g> backend=<b> <reason>".
func (r *Result) Line() string {
	if r.Pass {
		// generated tokens equal/compared per generation check, summed over
		// the backends
		var checks []string
		equal, total := map[string]int{}, map[string]int{}
		for _, d := range r.Outputs {
			if d.Tokens > 0 && strings.HasPrefix(d.Check, "generate") {
				c := strings.ReplaceAll(d.Check, " ", "_")
				if _, ok := total[c]; !ok {
					checks = append(checks, c)
				}
				equal[c] += d.Tokens - d.Mismatched
				total[c] += d.Tokens
			}
		}
		extra := ""
		for _, c := range checks {
			extra += fmt.Sprintf(" %s=%d/%d", c, equal[c], total[c])
		}
		return fmt.Sprintf("PASS %s graph=%s backend=%s max_abs_diff=%.3g tol=%s%s", r.Case, r.Graph, r.Backend, r.MaxAbsDiff, r.TolText(), extra)
	}
	// One line, whatever the reason: multi-line errors (a WeightsError
	// listing tensors) are joined with "; ".
	reason := strings.Join(strings.Fields(strings.ReplaceAll(r.Reason, "\n", " ; ")), " ")
	reason = strings.ReplaceAll(reason, ": ;", ":")
	return fmt.Sprintf("FAIL %s graph=%s backend=%s %s", r.Case, r.Graph, r.Backend, reason)
}

// ModelSource is a model to check: an ONNX file (Path) or serialized bytes.
type ModelSource struct {
	Path  string
	Bytes []byte
}

func (m ModelSource) open(opts runtime.Options) (runtime.Session, error) {
	if m.Path != "" {
		return runtime.Open(m.Path, opts)
	}
	return runtime.OpenBytes(m.Bytes, opts)
}

// Fixture verifies the reference folder dir (config.json,
// model.safetensors, io.safetensors and, for the torch graphs, PyTorch's
// exports). A failing comparison, an unsupported option or a run error is a
// Result with Pass false and a Reason, not an error; the error return is
// for a context cancellation only.
func Fixture(ctx context.Context, dir string, opts Options) (*Result, error) {
	if opts.Graph == "" {
		opts.Graph = GraphBuilt
	}
	r := newResult(filepath.Base(filepath.Clean(dir)), opts)
	err := fixture(ctx, dir, opts, r)
	return finish(ctx, r, err)
}

// Check verifies the model m against the reference at refPath (an
// io.safetensors file or its folder): every output with every backend,
// the steps of a KV-cache model, and with opts.Generate (or when m is
// checked by export --validate) the greedy generation. name names the case
// in the verdict.
func Check(ctx context.Context, name, refPath string, m ModelSource, opts Options) (*Result, error) {
	if opts.Graph == "" {
		opts.Graph = GraphBuilt
	}
	r := newResult(name, opts)
	ref, err := OpenReference(refPath)
	if err == nil {
		defer ref.Close()
		err = checkModel(ctx, ref, m, "", opts, r)
	}
	return finish(ctx, r, err)
}

func newResult(name string, opts Options) *Result {
	r := &Result{Case: name, Graph: opts.Graph, Backend: strings.Join(backends(opts), ","), Inline: opts.Inline}
	r.Tol, r.TolRule = opts.Tol, TolGiven
	if opts.Tol == 0 {
		r.Tol, r.TolRule = DefaultTol, TolDefault
	}
	return r
}

func backends(opts Options) []string {
	if len(opts.Backends) > 0 {
		return opts.Backends
	}
	o := opts.Runtime
	o.Backend = opts.Backend
	return []string{o.BackendName()}
}

// finish turns the outcome into the verdict.
func finish(ctx context.Context, r *Result, err error) (*Result, error) {
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.Pass, r.Reason = false, err.Error()
		return r, nil
	}
	r.Pass = len(r.Outputs) > 0
	for _, d := range r.Outputs {
		if d.NaNs > 0 {
			r.MaxAbsDiff = math.NaN()
		} else if !math.IsNaN(r.MaxAbsDiff) {
			r.MaxAbsDiff = max(r.MaxAbsDiff, d.MaxAbsDiff)
		}
		if !d.Pass && r.Pass {
			r.Pass = false
			r.Reason = d.failure(r)
		}
	}
	if len(r.Outputs) == 0 && r.Reason == "" {
		r.Reason = "nothing was compared"
	}
	return r, nil
}

// failure is the verdict reason of a failed row.
func (d OutputDiff) failure(r *Result) string {
	where := ""
	if d.Check != "forward" {
		where = d.Check + ": "
	}
	if len(r.Backend) > len(d.Backend) {
		where = "backend " + d.Backend + ": " + where
	}
	if d.Note != "" {
		return where + d.Note
	}
	rule := fmt.Sprintf("PyTorch's own float32 error: %.3g", d.TorchF32MaxAbsDiff)
	switch d.TolRule {
	case TolDefault:
		rule = fmt.Sprintf("default tol = max(1e-5, 2× PyTorch's own float32 error %.3g)", d.TorchF32MaxAbsDiff)
	case TolTorch:
		rule = fmt.Sprintf("2× PyTorch's own float32 error %.3g", d.TorchF32MaxAbsDiff)
	}
	if d.NaNs > 0 {
		return fmt.Sprintf("%soutput %s holds %d NaN values", where, d.Name, d.NaNs)
	}
	if d.Rtol > 0 {
		return fmt.Sprintf("%san element differs by more than tol=%.3g (%s) + rtol=%.3g × |reference| (max_abs_diff=%.3g)", where, d.Tol, rule, d.Rtol, d.MaxAbsDiff)
	}
	return fmt.Sprintf("%smax_abs_diff=%.3g exceeds tol=%.3g (%s)", where, d.MaxAbsDiff, d.Tol, rule)
}

// Model returns the ONNX bytes verify runs for a fixture and graph source.
func Model(dir string, opts Options) ([]byte, error) {
	return model(dir, opts, false)
}

func model(dir string, opts Options, kvCache bool) ([]byte, error) {
	return modelPart(dir, opts, kvCache, builder.PartWhole)
}

func modelPart(dir string, opts Options, kvCache bool, part builder.Part) ([]byte, error) {
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
		bo := builder.Options{Opset: opts.Opset, KVCache: kvCache, Part: part}
		if kvCache {
			bo.KVLayout = opts.KVLayout
		}
		m, err := builder.Build(cfg, w, wpath, bo)
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

func fixture(ctx context.Context, dir string, opts Options, r *Result) error {
	if (opts.Generate || opts.KVCache) && opts.Graph != GraphBuilt {
		return fmt.Errorf("generation and KV-cache checks need --graph %s (PyTorch's graphs hold no generation metadata)", GraphBuilt)
	}
	b, err := Model(dir, opts)
	if err != nil {
		return err
	}
	ref, err := OpenReference(dir)
	if err != nil {
		return err
	}
	defer ref.Close()
	o := opts
	o.KVCache = false
	seq2seq := ref.GenSrc != nil
	if seq2seq {
		o.Generate = false // the whole XTransformer does not generate: its parts do
	}
	if err := checkModel(ctx, ref, ModelSource{Bytes: b}, "", o, r); err != nil {
		return err
	}
	if seq2seq && opts.Generate {
		for _, kv := range []bool{false, true} {
			if kv && !opts.KVCache {
				continue
			}
			if err := checkSeq2Seq(ctx, dir, ref, opts, kv, r); err != nil {
				return err
			}
		}
	}
	if !opts.KVCache || seq2seq {
		return nil
	}
	kb, err := model(dir, opts, true)
	var unsupported *builder.UnsupportedError
	if errors.As(err, &unsupported) {
		r.Notes = append(r.Notes, "kv-cache: not checked: "+strings.TrimPrefix(err.Error(), "builder: "))
		return nil
	}
	if err != nil {
		return fmt.Errorf("KV-cache build: %w", err)
	}
	return checkModel(ctx, ref, ModelSource{Bytes: kb}, "kv-cache ", o, r)
}
