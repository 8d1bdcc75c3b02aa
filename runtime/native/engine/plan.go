package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// Plan is a model made ready to run with any input shapes: prepared once,
// its constant subgraphs folded once, every node converted to a kernel
// once, and each value's last reader known, so that a run is the steps in
// order with every intermediate value released (its buffer back in the
// run's arena) as soon as nothing reads it. Nothing depends on the input
// shapes: a new batch size, sequence length or KV-cache length runs the
// same plan without compiling anything. A Plan is safe for concurrent use;
// each run brings its own arena.
type Plan struct {
	pm       *PreparedModel
	values   []planValue
	byName   map[string]int
	steps    []planStep
	inputs   []int // runtime graph inputs, in graph order
	outputs  []int // requested outputs, in graph order
	outNames []string
	// consumers counts, per value, the input slots of steps that read it.
	consumers []int
	folded    int // nodes folded into constants
	// types is what shape inference found (see Types).
	types map[string]kernels.Type
}

type planValue struct {
	name  string
	kind  valueKind
	konst *tensor.Dense // kindConst
	info  graph.ValueInfo
}

type valueKind uint8

const (
	kindInput valueKind = iota + 1
	kindConst
	kindComputed
)

type planStep struct {
	node   *graph.Node
	index  int // in the prepared graph
	kernel kernels.Kernel
	ins    []int // value ids by input slot; -1 for an omitted input
	outs   []int // value ids by output slot; -1 when omitted or unused
	// free lists the values whose last reader this step is.
	free []int
}

// PlanOptions configures NewPlan.
type PlanOptions struct {
	// Outputs names the graph outputs to compute, in any order; empty means
	// all. Nodes no requested output needs are dropped.
	Outputs []string
	// MaxTensorBytes bounds the tensors folding allocates (see
	// kernels.ExecContext); 0 means the default.
	MaxTensorBytes int64
}

// nondeterministic lists operators that must not be folded: their value
// changes from run to run.
var nondeterministic = map[string]bool{
	"RandomNormal": true, "RandomNormalLike": true, "RandomUniform": true,
	"RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
}

// NewPlan plans pm for any input shapes. Every node whose inputs are all
// constant (initializers, Constant outputs, values folded before) is run
// once now and becomes a constant; Shape and Size stay run-time operators,
// so the plan serves every input shape.
func NewPlan(pm *PreparedModel, opts PlanOptions) (p *Plan, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("native: plan: internal error: %v", r)
		}
	}()
	g := pm.g
	p = &Plan{pm: pm, byName: map[string]int{}}
	add := func(v planValue) int {
		p.byName[v.name] = len(p.values)
		p.values = append(p.values, v)
		return len(p.values) - 1
	}
	outNames, err := selectOutputs(g, opts.Outputs)
	if err != nil {
		return nil, err
	}
	p.outNames = outNames

	inputs := pm.Inputs()
	for _, in := range inputs {
		if _, err := kernels.DenseDtype(in.DType); err != nil && in.DType != graph.Undefined {
			return nil, fmt.Errorf("native: plan: input %q: %w", in.Name, err)
		}
		p.inputs = append(p.inputs, add(planValue{name: in.Name, kind: kindInput, info: in}))
	}

	// The nodes the requested outputs need.
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if j, dup := producer[o]; dup {
				return nil, pm.nodeErr(i, fmt.Errorf("output %q is also produced by node %s", o, nodeLabel(g.Nodes[j], j)))
			}
			if _, isInit := pm.inits[o]; isInit || p.has(o) {
				return nil, pm.nodeErr(i, fmt.Errorf("output %q has the name of a graph input or initializer", o))
			}
			producer[o] = i
		}
	}
	neededVal := map[string]bool{}
	for _, name := range outNames {
		neededVal[name] = true
		if _, ok := producer[name]; !ok && !p.has(name) && pm.inits[name] == nil {
			return nil, fmt.Errorf("native: plan: graph output %q is produced by no node, input or initializer", name)
		}
	}
	needed := make([]bool, len(g.Nodes))
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		for _, o := range n.Outputs {
			if o != "" && neededVal[o] {
				needed[i] = true
			}
		}
		if needed[i] {
			for _, in := range n.Inputs {
				if in != "" {
					neededVal[in] = true
				}
			}
		}
	}

	ec := &kernels.ExecContext{MaxTensorBytes: opts.MaxTensorBytes}
	for i, n := range g.Nodes {
		if !needed[i] {
			continue
		}
		node := pm.Node(i, make([]*tensor.Dense, len(n.Inputs)))
		ids := make([]int, len(n.Inputs))
		allConst := true
		for j, in := range n.Inputs {
			ids[j] = -1
			if in == "" {
				continue
			}
			id, ok := p.byName[in]
			if !ok {
				if _, isInit := pm.inits[in]; !isInit {
					if q, later := producer[in]; later && q > i {
						return nil, pm.nodeErr(i, fmt.Errorf("input %q is produced by a later node (%s): the graph is not in topological order", in, nodeLabel(g.Nodes[q], q)))
					}
					return nil, pm.nodeErr(i, fmt.Errorf("input %q is not a graph input, an initializer or an earlier node's output", in))
				}
				d, err := pm.initializer(in)
				if err != nil {
					return nil, err
				}
				id = add(planValue{name: in, kind: kindConst, konst: d})
			}
			ids[j] = id
			if v := p.values[id]; v.kind == kindConst {
				node.Const[j] = v.konst
			} else {
				allConst = false
			}
		}
		kernel, err := pm.specs[i].NewKernel(node)
		if err != nil {
			return nil, pm.nodeErr(i, err)
		}
		if allConst && !nondeterministic[n.OpType] {
			outs, err := kernel(ec, node.Const)
			if err != nil {
				return nil, pm.nodeErr(i, err)
			}
			for k, name := range n.Outputs {
				if name != "" && k < len(outs) {
					add(planValue{name: name, kind: kindConst, konst: outs[k]})
				}
			}
			p.folded++
			continue
		}
		st := planStep{node: n, index: i, kernel: kernel, ins: ids, outs: make([]int, len(n.Outputs))}
		for k, name := range n.Outputs {
			st.outs[k] = -1
			if name != "" {
				st.outs[k] = add(planValue{name: name, kind: kindComputed})
			}
		}
		p.steps = append(p.steps, st)
	}
	for _, name := range outNames {
		if p.has(name) {
			continue
		}
		d, err := pm.initializer(name)
		if err != nil {
			return nil, err
		}
		add(planValue{name: name, kind: kindConst, konst: d})
	}
	for _, name := range outNames {
		p.outputs = append(p.outputs, p.byName[name])
	}
	p.liveness()
	if p.types, err = p.inferTypes(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plan) has(name string) bool { _, ok := p.byName[name]; return ok }

// liveness drops outputs nothing reads and finds each value's last reader.
func (p *Plan) liveness() {
	exposed := make([]bool, len(p.values))
	for _, id := range p.outputs {
		exposed[id] = true
	}
	p.consumers = make([]int, len(p.values))
	last := make([]int, len(p.values))
	for i := range last {
		last[i] = -1
	}
	for s, st := range p.steps {
		for _, id := range st.ins {
			if id >= 0 && p.values[id].kind != kindConst {
				p.consumers[id]++
				last[id] = s
			}
		}
	}
	for id, s := range last {
		if s >= 0 && !exposed[id] {
			p.steps[s].free = append(p.steps[s].free, id)
		}
	}
	// Outputs nothing reads go as soon as they are made.
	for s, st := range p.steps {
		for _, id := range st.outs {
			if id >= 0 && last[id] < 0 && !exposed[id] {
				p.steps[s].free = append(p.steps[s].free, id)
			}
		}
	}
}

// selectOutputs returns the requested outputs in graph order.
func selectOutputs(g *graph.Graph, names []string) ([]string, error) {
	if len(names) == 0 {
		out := make([]string, len(g.Outputs))
		for i, o := range g.Outputs {
			out[i] = o.Name
		}
		return out, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	var out []string
	for _, o := range g.Outputs {
		if want[o.Name] {
			out = append(out, o.Name)
			delete(want, o.Name)
		}
	}
	if len(want) > 0 {
		var bad []string
		for n := range want {
			bad = append(bad, n)
		}
		slices.Sort(bad)
		return nil, fmt.Errorf("native: plan: %s not a graph output (outputs: %s)", strings.Join(bad, ", "), valueNames(g.Outputs))
	}
	return out, nil
}

func valueNames(vs []graph.ValueInfo) string {
	names := make([]string, len(vs))
	for i, v := range vs {
		names[i] = v.Name
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Outputs returns the names of the outputs a run returns, in graph order.
func (p *Plan) Outputs() []string { return slices.Clone(p.outNames) }

// Steps returns how many nodes run at run time (after folding and dropping
// what no requested output needs).
func (p *Plan) Steps() int { return len(p.steps) }

// Folded returns how many nodes were folded into constants.
func (p *Plan) Folded() int { return p.folded }

// RunOptions configures one Execute.
type RunOptions struct {
	// MaxTensorBytes bounds every tensor a kernel allocates; 0 means the
	// default.
	MaxTensorBytes int64
	// Workers, when set, runs the parallel parts of kernels.
	Workers *kernels.Pool
	// Profile, when set, receives the time each step took.
	Profile *Profile
}

// Profile accumulates the time a plan's runs spend per operator.
type Profile struct {
	mu    sync.Mutex
	ByOp  map[string]time.Duration
	Calls map[string]int
}

func (p *Profile) add(op string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ByOp == nil {
		p.ByOp, p.Calls = map[string]time.Duration{}, map[string]int{}
	}
	p.ByOp[op] += d
	p.Calls[op]++
}

// String lists the operators by time, most first.
func (p *Profile) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ops := make([]string, 0, len(p.ByOp))
	var total time.Duration
	for op, d := range p.ByOp {
		ops = append(ops, op)
		total += d
	}
	slices.SortFunc(ops, func(a, b string) int { return int(p.ByOp[b] - p.ByOp[a]) })
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "%-28s %10.3f ms %5.1f%% %6d calls\n", op, p.ByOp[op].Seconds()*1e3, 100*float64(p.ByOp[op])/float64(total), p.Calls[op])
	}
	return b.String()
}

// Execute runs the plan on inputs (one tensor per runtime graph input, of
// its declared dtype and rank) and returns the requested outputs. Buffers
// come from arena (nil: the garbage collector), and outputs may live in it:
// they stay valid until arena.Reset. Outputs may also share memory with the
// inputs, with constants or with each other: treat them as read-only. A
// done context stops the run before its next step.
func (p *Plan) Execute(ctx context.Context, arena *kernels.Arena, inputs map[string]*tensor.Dense, opts RunOptions) (map[string]*tensor.Dense, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	vals := make([]*tensor.Dense, len(p.values))
	for _, id := range p.inputs {
		v := p.values[id]
		d, ok := inputs[v.name]
		if !ok || d == nil {
			return nil, fmt.Errorf("native: run: missing input %q", v.name)
		}
		if err := checkInput(v.info, d); err != nil {
			return nil, err
		}
		vals[id] = d
	}
	if len(inputs) != len(p.inputs) {
		for name := range inputs {
			if id, ok := p.byName[name]; !ok || p.values[id].kind != kindInput {
				return nil, fmt.Errorf("native: run: unknown input %q (inputs: %s)", name, valueNames(p.pm.Inputs()))
			}
		}
	}
	ec := &kernels.ExecContext{MaxTensorBytes: opts.MaxTensorBytes, Arena: arena, Workers: opts.Workers, Context: ctx}
	args := make([]*tensor.Dense, 0, 8)
	for s := range p.steps {
		st := &p.steps[s]
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("native: run: %w", context.Cause(ctx))
		}
		args = args[:0]
		for _, id := range st.ins {
			switch {
			case id < 0:
				args = append(args, nil)
			case p.values[id].kind == kindConst:
				args = append(args, p.values[id].konst)
			default:
				args = append(args, vals[id])
			}
		}
		var start time.Time
		if opts.Profile != nil {
			start = time.Now()
		}
		outs, err := st.kernel(ec, args)
		if err != nil {
			return nil, p.pm.nodeErr(st.index, err)
		}
		if opts.Profile != nil {
			op := st.node.OpType
			if st.node.Domain != "" {
				op = st.node.Domain + "." + op
			}
			opts.Profile.add(op, time.Since(start))
		}
		for k, id := range st.outs {
			if id < 0 {
				continue
			}
			if k >= len(outs) || outs[k] == nil {
				return nil, p.pm.nodeErr(st.index, fmt.Errorf("kernel returned no value for output %d", k))
			}
			vals[id] = outs[k]
			arena.Retain(outs[k])
		}
		for _, id := range st.free {
			arena.Release(vals[id])
			vals[id] = nil
		}
		if arena != nil {
			arena.Sweep()
		}
	}
	res := make(map[string]*tensor.Dense, len(p.outputs))
	for _, id := range p.outputs {
		v := p.values[id]
		switch v.kind {
		case kindConst:
			res[v.name] = v.konst
		default:
			if vals[id] == nil {
				return nil, errors.New("native: run: internal error: output " + v.name + " was not computed")
			}
			res[v.name] = vals[id]
		}
	}
	return res, nil
}

// Run is Execute without an arena: outputs belong to the caller.
func (p *Plan) Run(ctx context.Context, inputs map[string]*tensor.Dense) (map[string]*tensor.Dense, error) {
	return p.Execute(ctx, nil, inputs, RunOptions{})
}
