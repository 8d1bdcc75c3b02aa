package native

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
	"github.com/xt2onnx/xt2onnx/runtime"
	"github.com/xt2onnx/xt2onnx/runtime/native/engine"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

func init() {
	runtime.Register("native", open)
}

// ErrCUDA is returned by Open when Options.CUDA is set.
var ErrCUDA = errors.New("native: CUDA requested (Options.CUDA), but the native backend runs on the CPU only; use Backend \"ort\" with a CUDA build of ONNX Runtime for the GPU")

// session is the runtime.Session of the "native" backend.
type session struct {
	name    string
	plan    *engine.Plan
	inputs  []runtime.ValueInfo
	outputs []runtime.ValueInfo
	workers *kernels.Pool

	maxTensorBytes int64 // Options.MaxTensorBytes

	// release unmaps the model's external data file (a no-op without one).
	release func() error

	// arenas holds the arenas of finished runs, for the next ones.
	arenas chan *kernels.Arena

	guard runtime.RunGuard // Run against Close
}

var _ runtime.Session = (*session)(nil)

// open is the backend's runtime.OpenFunc.
func open(src runtime.ModelSource, opts runtime.Options) (runtime.Session, error) {
	return openWith(src, opts, kernels.DefaultRegistry())
}

// openWith opens src with the operators of reg.
func openWith(src runtime.ModelSource, opts runtime.Options, reg *kernels.Registry) (*session, error) {
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
	release := func() error { return nil }
	switch {
	case src.Path != "":
		// External data is mapped, not copied: the session owns the
		// mapping and releases it on Close.
		m, release, err = onnximport.ReadFileMapped(src.Path, onnximport.ReadOptions{MaxTensorBytes: opts.MaxTensorBytes})
	case len(src.Bytes) > 0:
		m, err = onnximport.Read(src.Bytes)
	default:
		return nil, errors.New("native: open: empty model source")
	}
	if err != nil {
		return nil, fmt.Errorf("native: open %s: %w", name, err)
	}
	ok := false
	defer func() {
		if !ok {
			_ = release()
		}
	}()
	pm, err := engine.PrepareWith(m, reg, engine.PrepareOptions{MaxNodes: opts.MaxNodes})
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
	var outNames []string
	if len(opts.OutputNames) > 0 {
		for _, o := range outputs {
			outNames = append(outNames, o.Name)
		}
	}
	plan, err := engine.NewPlan(pm, engine.PlanOptions{Outputs: outNames, MaxTensorBytes: opts.MaxTensorBytes})
	if err != nil {
		return nil, fmt.Errorf("native: open %s: %w", name, err)
	}
	ok = true
	return &session{
		name: name, plan: plan, inputs: inputs, outputs: outputs, release: release,
		workers:        kernels.NewPool(opts.IntraOpThreads),
		maxTensorBytes: opts.MaxTensorBytes,
		arenas:         make(chan *kernels.Arena, goruntime.GOMAXPROCS(0)),
	}, nil
}

// valueInfos converts graph value infos: a fixed dim keeps its size, a
// symbolic or unknown one becomes -1 (with its name in DimNames).
func valueInfos(vs []graph.ValueInfo, what string) ([]runtime.ValueInfo, error) {
	out := make([]runtime.ValueInfo, len(vs))
	for i, v := range vs {
		if v.DType.Size() == 0 && v.DType != graph.Undefined {
			return nil, fmt.Errorf("%s %q has element type %s, which runtime.Tensor cannot hold", what, v.Name, v.DType)
		}
		info := runtime.ValueInfo{Name: v.Name, DType: v.DType} // one type: runtime.DType = graph.DType
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

// Run checks the inputs, runs the plan on them with an arena of its own and
// returns copies of the outputs.
func (s *session) Run(ctx context.Context, inputs map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	return s.RunInto(ctx, inputs, nil)
}

// RunInto is Run with the outputs named in into copied into those
// tensors (float32 only) instead of freshly allocated ones: a loop that
// reuses its buffers allocates nothing per run for them.
func (s *session) RunInto(ctx context.Context, inputs, into map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	for name, t := range into {
		if !slices.ContainsFunc(s.outputs, func(o runtime.ValueInfo) bool { return o.Name == name }) {
			return nil, fmt.Errorf("native: run %s: RunInto names output %q, which the session does not return", s.name, name)
		}
		if t == nil || t.DType() != runtime.Float32 {
			return nil, fmt.Errorf("native: run %s: output %q: RunInto writes float32 outputs only, got %v", s.name, name, t)
		}
	}
	ctx, end, err := s.guard.Begin(ctx, "native", s.name, s.inputs, inputs)
	if err != nil {
		return nil, err
	}
	defer end()
	dense := make(map[string]*tensor.Dense, len(s.inputs))
	for _, info := range s.inputs {
		t := inputs[info.Name]
		d, err := toDense(t)
		if err != nil {
			return nil, fmt.Errorf("native: run %s: input %q (%s): %w", s.name, info.Name, t, err)
		}
		dense[info.Name] = d
	}
	arena := s.arena()
	defer s.recycle(arena)
	outs, err := s.plan.Execute(ctx, arena, dense, engine.RunOptions{MaxTensorBytes: s.maxTensorBytes, Workers: s.workers})
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("native: run %s: %w", s.name, context.Cause(ctx))
		}
		return nil, fmt.Errorf("native: run %s on %s: %w", s.name, runtime.DescribeInputs(s.inputs, inputs), err)
	}
	result := make(map[string]*runtime.Tensor, len(s.outputs))
	for _, info := range s.outputs {
		d, ok := outs[info.Name]
		if !ok {
			return nil, fmt.Errorf("native: run %s: output %q was not computed", s.name, info.Name)
		}
		if dst, ok := into[info.Name]; ok {
			if err := copyInto(dst, d); err != nil {
				return nil, fmt.Errorf("native: run %s: output %q: %w", s.name, info.Name, err)
			}
			result[info.Name] = dst
			continue
		}
		t, err := fromDense(d)
		if err != nil {
			return nil, fmt.Errorf("native: run %s: output %q: %w", s.name, info.Name, err)
		}
		result[info.Name] = t
	}
	return result, nil
}

// arena returns an idle arena, or a new one.
func (s *session) arena() *kernels.Arena {
	select {
	case a := <-s.arenas:
		return a
	default:
		return kernels.NewArena()
	}
}

// recycle resets a after a run and keeps it for the next one, unless as
// many arenas as cores are idle already.
func (s *session) recycle(a *kernels.Arena) {
	a.Reset()
	select {
	case s.arenas <- a:
	default:
	}
}

// Close releases the session's workers and arenas; it waits for runs in
// flight and is safe to call more than once.
func (s *session) Close() error {
	return s.guard.Close(func() error {
		s.workers.Close()
		for len(s.arenas) > 0 {
			<-s.arenas
		}
		if err := s.release(); err != nil {
			return fmt.Errorf("native: close %s: unmapping external data: %w", s.name, err)
		}
		return nil
	})
}
