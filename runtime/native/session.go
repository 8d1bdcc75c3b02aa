package native

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"gorgonia.org/tensor"

	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/internal/graph"
	"github.com/xt2onnx/xt2onnx/runtime"
)

func init() {
	runtime.Register("native", open)
}

// ErrCUDA is returned by Open when Options.CUDA is set.
var ErrCUDA = errors.New("native: CUDA requested (Options.CUDA), but the native backend runs on the CPU only; use Backend \"ort\" with a CUDA build of ONNX Runtime for the GPU")

// session is the runtime.Session of the "native" backend.
type session struct {
	name     string
	model    *graph.Model // for eager evaluation (see Run)
	reg      *onnximport.Registry
	pm       *onnximport.PreparedModel
	inputs   []runtime.ValueInfo
	outputs  []runtime.ValueInfo
	outNames []string // Options.OutputNames as given; empty: all

	maxTensorBytes int64 // Options.MaxTensorBytes
	maxNodes       int64 // Options.MaxNodes

	mu     sync.RWMutex // held for reading by Run, for writing by Close
	closed bool
	cache  *programCache
}

var _ runtime.Session = (*session)(nil)

// open is the backend's runtime.OpenFunc.
func open(src runtime.ModelSource, opts runtime.Options) (runtime.Session, error) {
	return openWith(src, opts, onnximport.DefaultRegistry())
}

// openWith opens src with the operators of reg.
func openWith(src runtime.ModelSource, opts runtime.Options, reg *onnximport.Registry) (*session, error) {
	name := src.Name()
	switch {
	case opts.CUDA:
		return nil, fmt.Errorf("native: open %s: %w", name, ErrCUDA)
	case opts.IntraOpThreads < 0:
		return nil, fmt.Errorf("native: open %s: Options.IntraOpThreads is %d; want 0 (default) or more", name, opts.IntraOpThreads)
	case opts.InterOpThreads < 0:
		return nil, fmt.Errorf("native: open %s: Options.InterOpThreads is %d; want 0 (default) or more", name, opts.InterOpThreads)
	}
	var m *graph.Model
	var err error
	switch {
	case src.Path != "":
		m, err = onnximport.ReadFileWith(src.Path, onnximport.ReadOptions{MaxTensorBytes: opts.MaxTensorBytes})
	case len(src.Bytes) > 0:
		m, err = onnximport.Read(src.Bytes)
	default:
		return nil, errors.New("native: open: empty model source")
	}
	if err != nil {
		return nil, fmt.Errorf("native: open %s: %w", name, err)
	}
	pm, err := onnximport.PrepareWith(m, reg, onnximport.PrepareOptions{MaxNodes: opts.MaxNodes})
	if err != nil {
		return nil, fmt.Errorf("native: open %s: %w", name, err)
	}
	inputs, err := valueInfos(pm.Inputs(), "input")
	if err != nil {
		return nil, fmt.Errorf("native: open %s: %w", name, err)
	}
	if cfg, ok := m.MetadataValue(runtime.MetaConfig); ok {
		runtime.SetTokenRanges(inputs, runtime.TokenRanges(cfg))
	}
	outputs, err := valueInfos(pm.Outputs(), "output")
	if err != nil {
		return nil, fmt.Errorf("native: open %s: %w", name, err)
	}
	outputs, err = runtime.SelectOutputs(outputs, opts.OutputNames)
	if err != nil {
		return nil, fmt.Errorf("native: open %s: %w", name, err)
	}
	s := &session{name: name, model: m, reg: reg, pm: pm, inputs: inputs, outputs: outputs, cache: newProgramCache(cacheSize),
		maxTensorBytes: opts.MaxTensorBytes, maxNodes: opts.MaxNodes}
	if len(opts.OutputNames) > 0 {
		for _, o := range outputs {
			s.outNames = append(s.outNames, o.Name)
		}
	}
	return s, nil
}

// valueInfos converts graph value infos: a fixed dim keeps its size, a
// symbolic or unknown one becomes -1 (with its name in DimNames).
func valueInfos(vs []graph.ValueInfo, what string) ([]runtime.ValueInfo, error) {
	out := make([]runtime.ValueInfo, len(vs))
	for i, v := range vs {
		dt := runtime.DType(v.DType)
		if dt.Size() == 0 && v.DType != graph.Undefined {
			return nil, fmt.Errorf("%s %q has element type %s, which runtime.Tensor cannot hold", what, v.Name, v.DType)
		}
		info := runtime.ValueInfo{Name: v.Name, DType: dt}
		if v.Shape != nil {
			info.Shape = make([]int64, len(v.Shape))
			info.DimNames = make([]string, len(v.Shape))
			for d, dim := range v.Shape {
				if dim.Param == "" && dim.Value > 0 {
					info.Shape[d] = dim.Value
					continue
				}
				info.Shape[d] = -1
				info.DimNames[d] = dim.Param
			}
		}
		out[i] = info
	}
	return out, nil
}

// Inputs describes the model inputs.
func (s *session) Inputs() []runtime.ValueInfo { return runtime.CloneValueInfos(s.inputs) }

// Outputs describes the outputs Run returns.
func (s *session) Outputs() []runtime.ValueInfo { return runtime.CloneValueInfos(s.outputs) }

// Run checks the inputs, compiles the model for their shapes unless a
// program for them is cached, runs it and returns copies of the outputs.
func (s *session) Run(ctx context.Context, inputs map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("native: run %s: %w", s.name, err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("native: run %s: %w", s.name, runtime.ErrClosed)
	}
	if err := runtime.CheckInputs(s.inputs, inputs); err != nil {
		return nil, fmt.Errorf("native: run %s: %w", s.name, err)
	}
	shapes := make(map[string][]int64, len(s.inputs))
	dense := make(map[string]*tensor.Dense, len(s.inputs))
	for _, info := range s.inputs {
		t := inputs[info.Name]
		shapes[info.Name] = t.Shape()
		d, err := toDense(t)
		if err != nil {
			return nil, fmt.Errorf("native: run %s: input %q (%s): %w", s.name, info.Name, t, err)
		}
		dense[info.Name] = d
	}
	e, err := s.cache.get(signature(s.inputs, shapes), func() (*onnximport.Program, error) {
		return s.pm.Compile(shapes, onnximport.CompileOptions{Outputs: s.outNames, Samples: dense, MaxTensorBytes: s.maxTensorBytes})
	})
	if err != nil {
		return nil, fmt.Errorf("native: run %s: compiling for %s: %w", s.name, describe(s.inputs, inputs), err)
	}
	var outs map[string]*tensor.Dense
	if !e.dataDependent.Load() {
		prog, err := e.acquire()
		if err != nil {
			return nil, fmt.Errorf("native: run %s: %w", s.name, err)
		}
		outs, err = prog.Run(ctx, dense)
		e.release(prog)
		var dd *onnximport.DataDependentShapeError
		if errors.As(err, &dd) {
			// The values decide shapes differently from those the program
			// was compiled with: evaluate eagerly, now and for later runs
			// of these shapes.
			e.dataDependent.Store(true)
		} else if err != nil {
			return nil, fmt.Errorf("native: run %s on %s: %w", s.name, describe(s.inputs, inputs), err)
		}
	}
	if e.dataDependent.Load() {
		if outs, err = s.eval(ctx, dense); err != nil {
			return nil, fmt.Errorf("native: run %s on %s: %w", s.name, describe(s.inputs, inputs), err)
		}
	}
	result := make(map[string]*runtime.Tensor, len(s.outputs))
	for _, info := range s.outputs {
		d, ok := outs[info.Name]
		if !ok {
			return nil, fmt.Errorf("native: run %s: output %q was not computed", s.name, info.Name)
		}
		t, err := fromDense(d)
		if err != nil {
			return nil, fmt.Errorf("native: run %s: output %q: %w", s.name, info.Name, err)
		}
		result[info.Name] = t
	}
	return result, nil
}

// eval runs the model with onnximport.Eval, node by node without a
// compiled program, for input values that decide shapes differently at
// each run.
func (s *session) eval(ctx context.Context, inputs map[string]*tensor.Dense) (map[string]*tensor.Dense, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return onnximport.EvalWith(s.model, inputs, onnximport.EvalOptions{Registry: s.reg, MaxTensorBytes: s.maxTensorBytes, MaxNodes: s.maxNodes, Context: ctx})
}

// Close releases the compiled programs; it waits for runs in flight and is
// safe to call more than once.
func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.cache = newProgramCache(cacheSize)
	return nil
}

// signature identifies a set of input shapes: "2,17;2,17" in input order.
func signature(infos []runtime.ValueInfo, shapes map[string][]int64) string {
	var b strings.Builder
	for i, info := range infos {
		if i > 0 {
			b.WriteByte(';')
		}
		for j, d := range shapes[info.Name] {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
	}
	return b.String()
}

// describe formats the inputs as `x=int64[2 17], mask=bool[2 17]`.
func describe(infos []runtime.ValueInfo, inputs map[string]*runtime.Tensor) string {
	parts := make([]string, len(infos))
	for i, info := range infos {
		parts[i] = info.Name + "=" + inputs[info.Name].String()
	}
	return strings.Join(parts, ", ")
}
