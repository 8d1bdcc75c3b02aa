package autodiff

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	goruntime "runtime"
	"slices"

	"github.com/xt2onnx/xt2onnx/runtime/native/engine"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Program is a model compiled for one set of input shapes: the steps left
// after folding, run one after another by Run, each value released after
// its last reader. Its Gorgonia expression graph (one node per step; a
// node with several used outputs gets one more Gorgonia node per extra
// output, which picks that output from the node's results) is built only
// when asked for, by Graph, Input, Param, Output or Eval, for the
// differentiable path; a graph that has gained nodes (gradients) runs on a
// Gorgonia TapeMachine.
//
// A Program is not safe for concurrent use: run it from one goroutine at a
// time, and give other goroutines their own with Clone, which shares the
// compiled plan, the kernels and the constants.
type Program struct {
	pl *plan

	// The Gorgonia half, built by ensureGraph.
	g        *gorgonia.ExprGraph
	graphErr error
	nodes    []*gorgonia.Node // per value id: its node (runtime values only)
	ops      []*kernelOp      // per step
	built    int              // node count of g when built

	vm      gorgonia.VM
	vmNodes int // node count of g when vm was made

	st runState
}

// runState is the state of the run in progress.
type runState struct {
	ctx       context.Context
	err       error             // the first kernel error
	keep      bool              // keep every value: the graph has gained nodes (gradients)
	remaining []int             // per value: readers yet to run
	boxes     []*denseBox       // per value: its box in this run
	stash     [][]*tensor.Dense // per step: the outputs pickOps hand out
}

// maxSalts bounds the attempts at a graph without a hash collision.
const maxSalts = 8

// instantiate returns a Program of the plan. Nothing is built: the
// Gorgonia graph is made on first use (ensureGraph).
func (pl *plan) instantiate() (*Program, error) { return &Program{pl: pl}, nil }

// ensureGraph builds the program's Gorgonia graph once.
func (p *Program) ensureGraph() error {
	if p.g != nil || p.graphErr != nil {
		return p.graphErr
	}
	var lastErr error
	for salt := range maxSalts {
		if err := p.build(uint32(salt)); err != nil {
			p.graphErr = err
			return err
		}
		// Gorgonia's compiler merges nodes whose 32-bit hashes are equal
		// (common subexpression elimination, with no equality check), so a
		// collision between two different nodes would silently compute
		// the wrong value. Rebuild with another salt in that case.
		if lastErr = distinctHashes(p.g); lastErr == nil {
			return nil
		}
	}
	p.g, p.nodes, p.ops = nil, nil, nil
	p.graphErr = fmt.Errorf("native: compile: %w", lastErr)
	return p.graphErr
}

func distinctHashes(g *gorgonia.ExprGraph) error {
	seen := map[uint32]*gorgonia.Node{}
	for _, n := range g.AllNodes() {
		h := n.Hashcode()
		if o, dup := seen[h]; dup {
			return fmt.Errorf("nodes %v and %v have the same Gorgonia hash %#x", o, n, h)
		}
		seen[h] = n
	}
	return nil
}

func (p *Program) build(salt uint32) error {
	pl := p.pl
	p.g, p.nodes, p.ops = gorgonia.NewGraph(), make([]*gorgonia.Node, len(pl.values)), nil
	for _, id := range slices.Concat(pl.inputs, pl.params) {
		v := pl.values[id]
		p.nodes[id] = gorgonia.NewTensor(p.g, v.dtype, len(v.shape), gorgonia.WithShape(v.shape...), gorgonia.WithName(v.name))
	}
	for s, st := range pl.steps {
		op := &kernelOp{p: p, st: st, index: s, salt: salt}
		var children []*gorgonia.Node
		for slot, id := range st.ins {
			if id < 0 || pl.values[id].kind == kindConst {
				continue
			}
			op.slots = append(op.slots, slot)
			children = append(children, p.nodes[id])
		}
		name := engine.NodeLabel(st.node, st.index)
		n, err := gorgonia.ApplyOpWithName(op, name, children...)
		if err != nil {
			return pl.pm.NodeErr(st.index, fmt.Errorf("building the Gorgonia node: %w", err))
		}
		op.node = n
		p.ops = append(p.ops, op)
		if st.outs[0] >= 0 {
			p.nodes[st.outs[0]] = n
		}
		for k := 1; k < len(st.outs); k++ {
			id := st.outs[k]
			if id < 0 {
				continue
			}
			pn, err := gorgonia.ApplyOpWithName(&pickOp{parent: op, k: k}, fmt.Sprintf("%s:%d", name, k), n)
			if err != nil {
				return pl.pm.NodeErr(st.index, fmt.Errorf("building the Gorgonia node of output %d: %w", k, err))
			}
			p.nodes[id] = pn
		}
	}
	p.built = len(p.g.AllNodes())
	return nil
}

// Clone returns a new Program for the same shapes, sharing this one's
// compiled plan, kernels and constants but not its Gorgonia graph or
// machine, for use by another goroutine. Nodes added to this program's
// graph (gradients) are not copied.
func (p *Program) Clone() (*Program, error) { return p.pl.instantiate() }

// Graph returns the program's Gorgonia expression graph. Nodes may be added
// to it (for example by gorgonia.Grad) before a run; the next run compiles
// them in. Values of the graph's own nodes are released as soon as their
// readers have run unless the graph has gained nodes.
// It returns nil if the graph cannot be built (see GraphErr).
func (p *Program) Graph() *gorgonia.ExprGraph {
	if p.ensureGraph() != nil {
		return nil
	}
	return p.g
}

// GraphErr returns the error that kept Graph from building the Gorgonia
// graph, or nil.
func (p *Program) GraphErr() error { return p.ensureGraph() }

// Input returns the Gorgonia node of a graph input, or nil when the program
// has none (the input is unknown, or no node reads it).
func (p *Program) Input(name string) *gorgonia.Node { return p.node(name, kindInput) }

// Param returns the Gorgonia node of an initializer compiled as a param
// (CompileOptions.Params), or nil.
func (p *Program) Param(name string) *gorgonia.Node { return p.node(name, kindParam) }

// Output returns the Gorgonia node computing a requested graph output, or
// nil when the output is not computed by a node (it was folded into a
// constant, or is an input).
func (p *Program) Output(name string) *gorgonia.Node {
	if !slices.Contains(p.pl.outNames, name) {
		return nil
	}
	return p.node(name, kindComputed)
}

func (p *Program) node(name string, kind valueKind) *gorgonia.Node {
	id, ok := p.pl.byName[name]
	if !ok || p.pl.values[id].kind != kind || p.ensureGraph() != nil {
		return nil
	}
	return p.nodes[id]
}

// InputShapes returns the shapes the program was compiled for, by input
// name.
func (p *Program) InputShapes() map[string][]int {
	out := make(map[string][]int, len(p.pl.inputs))
	for i, id := range p.pl.inputs {
		out[p.pl.values[id].name] = slices.Clone(p.pl.shapes[i])
	}
	return out
}

// Outputs returns the names of the outputs Run returns, in graph order.
func (p *Program) Outputs() []string { return slices.Clone(p.pl.outNames) }

// NumNodes returns how many ONNX nodes run at run time (after folding and
// dropping unused nodes).
func (p *Program) NumNodes() int { return len(p.pl.steps) }

// Run binds inputs (one tensor per graph input that is not an initializer,
// of exactly the compiled shape and dtype), runs the program and returns
// the requested outputs by name. Outputs may share memory with the inputs,
// with the program's constants or with each other: treat them as read-only.
// A done context stops the run before its next node.
func (p *Program) Run(ctx context.Context, inputs map[string]*tensor.Dense) (map[string]*tensor.Dense, error) {
	outs, _, err := p.run(ctx, inputs, nil)
	return outs, err
}

// Eval runs like Run and returns the values of the given nodes of Graph(),
// in order: for example the gradients gorgonia.Grad added to it.
func (p *Program) Eval(ctx context.Context, inputs map[string]*tensor.Dense, nodes ...*gorgonia.Node) ([]*tensor.Dense, error) {
	_, vals, err := p.run(ctx, inputs, nodes)
	return vals, err
}

func (p *Program) checkInputs(inputs map[string]*tensor.Dense) error {
	want := map[string]bool{}
	for i, id := range p.pl.inputs {
		v := p.pl.values[id]
		want[v.name] = true
		d, ok := inputs[v.name]
		switch {
		case !ok || d == nil:
			return fmt.Errorf("native: run: missing input %q (%v%v)", v.name, v.dtype, p.pl.shapes[i])
		case d.Dtype() != v.dtype:
			return fmt.Errorf("native: run: input %q is %v, the program was compiled for %v", v.name, d.Dtype(), v.dtype)
		case !slices.Equal([]int(d.Shape()), p.pl.shapes[i]):
			return fmt.Errorf("native: run: input %q has shape %v, the program was compiled for %v: compile another program for it", v.name, []int(d.Shape()), p.pl.shapes[i])
		}
	}
	for name := range inputs {
		if !want[name] {
			return fmt.Errorf("native: run: unknown input %q", name)
		}
	}
	return nil
}

func (p *Program) run(ctx context.Context, inputs map[string]*tensor.Dense, extra []*gorgonia.Node) (outs map[string]*tensor.Dense, vals []*tensor.Dense, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("native: run: %w", err)
	}
	if err := p.checkInputs(inputs); err != nil {
		return nil, nil, err
	}
	if len(extra) > 0 {
		if err := p.ensureGraph(); err != nil {
			return nil, nil, err
		}
		all := map[*gorgonia.Node]bool{}
		for _, n := range p.g.AllNodes() {
			all[n] = true
		}
		for _, n := range extra {
			if n == nil || !all[n] {
				return nil, nil, fmt.Errorf("native: run: node %v is not in the program's graph", n)
			}
		}
	}
	defer func() {
		if r := recover(); r != nil {
			outs, vals, err = nil, nil, fmt.Errorf("native: run: internal error: %v", r)
		}
	}()
	if len(extra) == 0 && (p.g == nil || len(p.g.AllNodes()) == p.built) {
		outs, err := p.execDirect(ctx, inputs)
		return outs, nil, err
	}
	if len(p.pl.steps) > 0 || len(extra) > 0 {
		defer p.cleanup()
		if err := p.exec(ctx, inputs); err != nil {
			return nil, nil, err
		}
	}
	outs = make(map[string]*tensor.Dense, len(p.pl.outputs))
	for _, id := range p.pl.outputs {
		v := p.pl.values[id]
		switch v.kind {
		case kindConst, kindParam:
			outs[v.name] = v.konst
		case kindInput:
			outs[v.name] = inputs[v.name]
		case kindComputed:
			d, err := fromValue(p.nodes[id].Value())
			if err != nil {
				return nil, nil, fmt.Errorf("native: run: output %q: %w", v.name, err)
			}
			outs[v.name] = d
		}
	}
	for _, n := range extra {
		d, err := fromValue(n.Value())
		if err != nil {
			return nil, nil, fmt.Errorf("native: run: node %v: %w", n, err)
		}
		vals = append(vals, d)
	}
	return outs, vals, nil
}

// execDirect runs the plan's steps in order without Gorgonia: each
// kernel's outputs are checked against the compiled shapes, and every
// value is dropped once its last reader has run, so a run holds only live
// activations. Nothing outlives the run but its outputs.
func (p *Program) execDirect(ctx context.Context, inputs map[string]*tensor.Dense) (map[string]*tensor.Dense, error) {
	pl := p.pl
	vals := make([]*tensor.Dense, len(pl.values))
	remaining := slices.Clone(pl.consumers)
	for _, id := range pl.inputs {
		vals[id] = inputs[pl.values[id].name]
	}
	for _, id := range pl.params {
		vals[id] = pl.values[id].konst
	}
	var args []*tensor.Dense
	for _, st := range pl.steps {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("native: run: %w", err)
		}
		args = append(args[:0], make([]*tensor.Dense, len(st.ins))...)
		for slot, id := range st.ins {
			switch {
			case id < 0:
			case pl.values[id].kind == kindConst:
				args[slot] = pl.values[id].konst
			default:
				args[slot] = vals[id]
			}
		}
		outs, err := st.kernel(pl.ec, args)
		if err != nil {
			return nil, pl.pm.NodeErr(st.index, err)
		}
		for k, id := range st.outs {
			if id < 0 && k > 0 {
				continue
			}
			if k >= len(outs) || outs[k] == nil {
				return nil, pl.pm.NodeErr(st.index, fmt.Errorf("kernel returned no value for output %d", k))
			}
			d := outs[k]
			if d.Dtype() != st.outT[k] || !slices.Equal([]int(d.Shape()), st.outS[k]) {
				return nil, pl.pm.NodeErr(st.index, &DataDependentShapeError{Output: k,
					Dtype: d.Dtype(), Shape: slices.Clone([]int(d.Shape())), CompiledDtype: st.outT[k], CompiledShape: st.outS[k]})
			}
			if id >= 0 {
				vals[id] = d
				if remaining[id] == 0 && !pl.exposed[id] {
					vals[id] = nil // nothing reads it
				}
			}
		}
		for _, id := range st.ins {
			if id < 0 || pl.values[id].kind == kindConst {
				continue
			}
			if remaining[id]--; remaining[id] == 0 && !pl.exposed[id] {
				vals[id] = nil
			}
		}
	}
	if testHookLive != nil {
		live := 0
		for _, v := range vals {
			if v != nil {
				live++
			}
		}
		testHookLive(live)
	}
	outs := make(map[string]*tensor.Dense, len(pl.outputs))
	for _, id := range pl.outputs {
		v := pl.values[id]
		switch v.kind {
		case kindConst, kindParam:
			outs[v.name] = v.konst
		case kindInput:
			outs[v.name] = inputs[v.name]
		case kindComputed:
			outs[v.name] = vals[id]
		}
	}
	return outs, nil
}

// testHookLive, when set by a test, is told how many values a direct run
// still holds once its last step has run.
var testHookLive func(live int)

// exec binds the inputs and runs the machine, making it first if the graph
// is new or has changed.
func (p *Program) exec(ctx context.Context, inputs map[string]*tensor.Dense) error {
	for _, id := range p.pl.inputs {
		v := p.pl.values[id]
		if err := gorgonia.Let(p.nodes[id], inputs[v.name]); err != nil {
			return fmt.Errorf("native: run: binding input %q: %w", v.name, err)
		}
	}
	for _, id := range p.pl.params {
		if err := gorgonia.Let(p.nodes[id], p.pl.values[id].konst.ShallowClone()); err != nil {
			return fmt.Errorf("native: run: binding param %q: %w", p.pl.values[id].name, err)
		}
	}
	count := len(p.g.AllNodes())
	if p.vm == nil || p.vmNodes != count {
		vm, err := newMachine(p.g)
		if err != nil {
			return err
		}
		if p.vm != nil {
			_ = p.vm.Close()
		}
		p.vm, p.vmNodes = vm, count
	}
	p.st = runState{
		ctx:       ctx,
		keep:      count != p.built,
		remaining: slices.Clone(p.pl.consumers),
		boxes:     make([]*denseBox, len(p.pl.values)),
		stash:     make([][]*tensor.Dense, len(p.pl.steps)),
	}
	if err := p.vm.RunAll(); err != nil {
		if p.st.err != nil {
			return p.st.err
		}
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("native: run: %w", cerr)
		}
		return fmt.Errorf("native: run: %w", err)
	}
	return nil
}

// cleanup clears the machine's registers after a run. Intermediate values
// are already released (see runState.release); the graph's nodes keep
// only the inputs and outputs of the last run (and every value when the
// graph has gained gradient nodes) until the next run. It must not unbind
// the nodes: Gorgonia's unbinding hands tensors back to the tensor
// package's pool, which zeroes and reuses them, and these tensors belong to
// the caller (inputs, outputs) or the plan (constants).
func (p *Program) cleanup() {
	if p.vm != nil {
		p.vm.Reset()
	}
	p.st = runState{}
}

// newMachine compiles g into a TapeMachine, turning Gorgonia's panics into
// errors.
func newMachine(g *gorgonia.ExprGraph) (vm gorgonia.VM, err error) {
	defer func() {
		if r := recover(); r != nil {
			vm, err = nil, fmt.Errorf("native: compiling the Gorgonia graph: %v", r)
		}
	}()
	vm = gorgonia.NewTapeMachine(g)
	// Gorgonia sets a finalizer on every TapeMachine (a no-op without
	// CUDA), and the machine sits on a reference cycle with its program;
	// Go never collects a cycle that carries a finalizer, so every machine
	// would leak. Clear it: the machine is then collected with its
	// Program.
	goruntime.SetFinalizer(vm, nil)
	return vm, nil
}

// fail records err as the run's error and returns it.
func (st *runState) fail(err error) error {
	if st.err == nil {
		st.err = err
	}
	return err
}

// release notes that one reader of value id has run, dropping the value's
// tensor after its last reader.
func (st *runState) release(id int) {
	if st.keep || st.remaining == nil {
		return
	}
	st.remaining[id]--
	if st.remaining[id] == 0 && st.boxes[id] != nil {
		st.boxes[id].d = nil
	}
}

// wrap returns the Gorgonia value of value id's tensor d: a box when only
// this package's ops read it, a plain value otherwise.
func (p *Program) wrap(id int, d *tensor.Dense) gorgonia.Value {
	if p.st.keep || (id >= 0 && p.pl.exposed[id]) {
		return toValue(d)
	}
	if id < 0 { // an unused output 0: nothing reads it
		return &denseBox{shape: tensor.Shape(slices.Clone([]int(d.Shape()))), dt: d.Dtype()}
	}
	b := &denseBox{d: d, shape: tensor.Shape(slices.Clone([]int(d.Shape()))), dt: d.Dtype()}
	p.st.boxes[id] = b
	if p.pl.consumers[id] == 0 {
		b.d = nil
	}
	return b
}

// DataDependentShapeError reports a node whose output came out with another
// shape (or dtype) at run time than when the program was compiled: its
// shape depends on input values, not only on input shapes. The program
// cannot serve these values; compile one with them as samples, or
// evaluate the model eagerly (Eval). It is wrapped in a *kernels.NodeError.
type DataDependentShapeError struct {
	// Output is the node's output index.
	Output int
	// Dtype and Shape are what the kernel returned at run time;
	// CompiledDtype and CompiledShape what compiling inferred.
	Dtype, CompiledDtype tensor.Dtype
	Shape, CompiledShape []int
}

func (e *DataDependentShapeError) Error() string {
	return fmt.Sprintf("output %d is %v%v at run time, but was %v%v when compiled: its shape depends on input values that differ from those it was compiled with",
		e.Output, e.Dtype, e.Shape, e.CompiledDtype, e.CompiledShape)
}

// kernelOp is the Gorgonia op of one ONNX node: it runs the node's kernel
// on the node's run-time inputs (its Gorgonia children) and its constant
// inputs (held by the plan), and returns output 0. It implements
// gorgonia.Op and gorgonia.SDOp.
type kernelOp struct {
	p     *Program
	st    *cStep
	index int   // step index
	slots []int // input slot of each Gorgonia child
	salt  uint32
	node  *gorgonia.Node
}

func (o *kernelOp) Arity() int { return len(o.slots) }

func (o *kernelOp) Type() hm.Type {
	ts := make([]hm.Type, 0, len(o.slots)+1)
	for _, slot := range o.slots {
		v := o.p.pl.values[o.st.ins[slot]]
		ts = append(ts, gorgoniaType(v.dtype, v.shape))
	}
	ts = append(ts, gorgoniaType(o.st.outT[0], o.st.outS[0]))
	return hm.NewFnType(ts...)
}

func (o *kernelOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape(slices.Clone(o.st.outS[0])), nil
}

func (o *kernelOp) ReturnsPtr() bool     { return false }
func (o *kernelOp) CallsExtern() bool    { return false }
func (o *kernelOp) OverwritesInput() int { return -1 }

func (o *kernelOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "onnximport.kernel/%s/%d/%d/%p", o.st.node.OpType, o.index, o.salt, o)
}

func (o *kernelOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *kernelOp) String() string {
	return fmt.Sprintf("%s[%s]", o.st.node.OpType, engine.NodeLabel(o.st.node, o.st.index))
}

// args assembles the kernel's inputs from the children's values and the
// plan's constants.
func (o *kernelOp) args(vals []gorgonia.Value) ([]*tensor.Dense, error) {
	in := make([]*tensor.Dense, len(o.st.ins))
	for slot, id := range o.st.ins {
		if id >= 0 && o.p.pl.values[id].kind == kindConst {
			in[slot] = o.p.pl.values[id].konst
		}
	}
	if len(vals) != len(o.slots) {
		return nil, fmt.Errorf("got %d values for %d run-time inputs", len(vals), len(o.slots))
	}
	for i, slot := range o.slots {
		d, err := fromValue(vals[i])
		if err != nil {
			return nil, fmt.Errorf("input %d (%q): %w", slot, o.st.node.Inputs[slot], err)
		}
		in[slot] = d
	}
	return in, nil
}

func (o *kernelOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	st := &o.p.st
	pm := o.p.pl.pm
	if st.ctx != nil {
		if err := st.ctx.Err(); err != nil {
			return nil, st.fail(fmt.Errorf("native: run: %w", err))
		}
	}
	in, err := o.args(vals)
	if err != nil {
		return nil, st.fail(pm.NodeErr(o.st.index, err))
	}
	outs, err := o.st.kernel(o.p.pl.ec, in)
	if err != nil {
		return nil, st.fail(pm.NodeErr(o.st.index, err))
	}
	for k, id := range o.st.outs {
		if id < 0 && k > 0 {
			continue
		}
		if k >= len(outs) || outs[k] == nil {
			return nil, st.fail(pm.NodeErr(o.st.index, fmt.Errorf("kernel returned no value for output %d", k)))
		}
		d := outs[k]
		if d.Dtype() != o.st.outT[k] || !slices.Equal([]int(d.Shape()), o.st.outS[k]) {
			return nil, st.fail(pm.NodeErr(o.st.index, &DataDependentShapeError{Output: k,
				Dtype: d.Dtype(), Shape: slices.Clone([]int(d.Shape())), CompiledDtype: o.st.outT[k], CompiledShape: o.st.outS[k]}))
		}
	}
	for _, slot := range o.slots {
		st.release(o.st.ins[slot])
	}
	if len(o.st.outs) > 1 {
		st.stash[o.index] = slices.Clone(outs)
	}
	return o.p.wrap(o.st.outs[0], outs[0]), nil
}

// DiffWRT reports, per Gorgonia child, whether the op has a gradient with
// respect to it.
func (o *kernelOp) DiffWRT(n int) []bool {
	out := make([]bool, n)
	for i := range out {
		if i < len(o.slots) {
			out[i] = o.differentiable(o.slots[i])
		}
	}
	return out
}

// SymDiff returns, per Gorgonia child, the node computing the gradient
// with respect to it (nil where there is none).
func (o *kernelOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	out := make(gorgonia.Nodes, len(inputs))
	for i := range inputs {
		if i >= len(o.slots) || !o.differentiable(o.slots[i]) {
			continue
		}
		children := append(slices.Clone([]*gorgonia.Node(inputs)), output, grad)
		op := &gradOp{fwd: o, child: i, slot: o.slots[i]}
		for _, c := range children {
			op.types = append(op.types, c.Type())
		}
		n, err := gorgonia.ApplyOp(op, children...)
		if err != nil {
			return nil, o.p.pl.pm.NodeErr(o.st.index, fmt.Errorf("gradient of input %d: %w", o.slots[i], err))
		}
		out[i] = n
	}
	return out, nil
}

// pickOp hands out output k of a node with several outputs; its one child
// is the node's kernelOp node, which stashes the outputs when it runs.
type pickOp struct {
	parent *kernelOp
	k      int
}

func (o *pickOp) Arity() int { return 1 }

func (o *pickOp) Type() hm.Type {
	st := o.parent.st
	return hm.NewFnType(gorgoniaType(st.outT[0], st.outS[0]), gorgoniaType(st.outT[o.k], st.outS[o.k]))
}

func (o *pickOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape(slices.Clone(o.parent.st.outS[o.k])), nil
}

func (o *pickOp) ReturnsPtr() bool     { return false }
func (o *pickOp) CallsExtern() bool    { return false }
func (o *pickOp) OverwritesInput() int { return -1 }

func (o *pickOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "onnximport.pick/%d/%d/%d/%p", o.parent.index, o.k, o.parent.salt, o)
}

func (o *pickOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *pickOp) String() string { return fmt.Sprintf("%v:%d", o.parent, o.k) }

func (o *pickOp) Do(...gorgonia.Value) (gorgonia.Value, error) {
	p := o.parent.p
	outs := p.st.stash[o.parent.index]
	if o.k >= len(outs) || outs[o.k] == nil {
		return nil, p.st.fail(p.pl.pm.NodeErr(o.parent.st.index, errors.New("internal error: output picked before the node ran")))
	}
	d := outs[o.k]
	outs[o.k] = nil
	return p.wrap(o.parent.st.outs[o.k], d), nil
}

// DiffWRT reports that picking an output has no gradient.
func (o *pickOp) DiffWRT(n int) []bool { return make([]bool, n) }

// SymDiff fails: nodes with several outputs have no gradients.
func (o *pickOp) SymDiff(gorgonia.Nodes, *gorgonia.Node, *gorgonia.Node) (gorgonia.Nodes, error) {
	return nil, fmt.Errorf("native: %v: operators with several outputs have no gradient", o)
}
