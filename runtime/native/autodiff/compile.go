package autodiff

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xt2onnx/xt2onnx/runtime/native/engine"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// CompileOptions configures Compile.
type CompileOptions struct {
	// Outputs names the graph outputs the program computes, in any order;
	// empty means all of them. Nodes no requested output depends on are
	// dropped.
	Outputs []string
	// Params names initializers to keep as Gorgonia input nodes, bound to
	// their values on every run, instead of constants, so that gradients
	// can be taken with respect to them (see Program.Param). Nothing that
	// depends on a param is folded.
	Params []string
	// Samples holds input values to infer shapes with instead of zeros,
	// by input name; each must have the input's dtype and the shape it is
	// compiled for. Give the values of the first run when they decide
	// shapes (Reshape's shape, Slice's starts, TopK's k as graph inputs):
	// the program then serves later runs of the same shapes as long as
	// those values leave every shape unchanged, and fails with a
	// *DataDependentShapeError otherwise. Samples are not kept.
	Samples map[string]*tensor.Dense
	// MaxTensorBytes bounds every tensor and buffer the program's kernels
	// allocate, when compiling and when running (see kernels.ExecContext); 0 means
	// DefaultMaxTensorBytes().
	MaxTensorBytes int64
}

// Compile prepares m (see Prepare) and compiles it for one set of input
// shapes (see CompilePrepared). shapes maps every graph input that
// is not also an initializer to its concrete shape.
func Compile(m *graph.Model, reg *kernels.Registry, shapes map[string][]int64, opts CompileOptions) (*Program, error) {
	pm, err := engine.Prepare(m, reg)
	if err != nil {
		return nil, err
	}
	return CompilePrepared(pm, shapes, opts)
}

// valueKind says where a value of a plan comes from.
type valueKind int

const (
	kindInput    valueKind = iota + 1 // a graph input, bound on each run
	kindParam                         // an initializer kept as an input node
	kindConst                         // an initializer or a folded value
	kindComputed                      // a node output computed at run time
)

// cValue is one named value of a compiled plan.
type cValue struct {
	name  string
	kind  valueKind
	dtype tensor.Dtype
	shape []int
	konst *tensor.Dense // kindConst and kindParam: the value
	step  int           // kindComputed: index into plan.steps
	out   int           // kindComputed: output index of that step
}

// cStep is one ONNX node that runs at run time.
type cStep struct {
	node   *graph.Node
	index  int // in the inlined graph
	opset  int64
	spec   kernels.OpSpec
	kernel kernels.Kernel
	ins    []int          // value ids by input slot; -1 for an omitted input
	outs   []int          // value ids by output slot; -1 when omitted or unused
	outT   []tensor.Dtype // per output slot, as inferred
	outS   [][]int        // per output slot, as inferred
}

// plan is the shape-specific result of compiling: the values, the steps
// left after folding, and what the program reads and returns. Programs
// instantiated from one plan share it read-only.
type plan struct {
	pm        *engine.PreparedModel
	ec        *kernels.ExecContext // the budget every kernel of the plan allocates within
	values    []*cValue
	byName    map[string]int
	steps     []*cStep
	inputs    []int    // every runtime graph input, in graph order
	params    []int    // params, in option order
	outputs   []int    // requested outputs, in graph order
	consumers []int    // per value: input slots of steps reading it
	exposed   []bool   // per value: returned to the caller (never released)
	shapes    [][]int  // per runtime input, by position in inputs
	outNames  []string // requested outputs, in graph order
}

// CompilePrepared compiles the prepared model for the given input shapes and returns a
// program ready to run. shapes must name every graph input that is not an
// initializer, with a shape of the declared rank whose fixed dims match.
//
// Compiling folds every node whose inputs are all constant (initializers,
// Constant outputs and values folded before), and every Shape and Size
// node (whose outputs depend only on the now known input shapes), into
// constants, by running the node's kernel at compile time. It then infers
// each remaining value's shape and dtype by running the remaining kernels
// once on inputs of the given shapes (CompileOptions.Samples, or zeros), so
// that compiling costs about one forward pass, and builds a Gorgonia graph
// of the remaining nodes. A node whose output shape depends on input values
// (rather than on shapes alone) and comes out different at run time fails
// that run with a *DataDependentShapeError.
func CompilePrepared(pm *engine.PreparedModel, shapes map[string][]int64, opts CompileOptions) (prog *Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, fmt.Errorf("native: compile: internal error: %v", r)
		}
	}()
	pl, err := planFor(pm, shapes, opts)
	if err != nil {
		return nil, err
	}
	return pl.instantiate()
}

func planFor(pm *engine.PreparedModel, shapes map[string][]int64, opts CompileOptions) (*plan, error) {
	g := pm.Graph()
	pl := &plan{pm: pm, byName: map[string]int{}, ec: &kernels.ExecContext{MaxTensorBytes: opts.MaxTensorBytes}}
	ec := pl.ec
	add := func(v *cValue) int {
		pl.byName[v.name] = len(pl.values)
		pl.values = append(pl.values, v)
		return len(pl.values) - 1
	}

	// Requested outputs.
	outNames := opts.Outputs
	if len(outNames) == 0 {
		for _, o := range g.Outputs {
			outNames = append(outNames, o.Name)
		}
	} else {
		declared := map[string]bool{}
		for _, o := range g.Outputs {
			declared[o.Name] = true
		}
		for _, name := range outNames {
			if !declared[name] {
				return nil, fmt.Errorf("native: compile: CompileOptions.Outputs names %q, which is not a graph output (outputs: %s)", name, valueNames(g.Outputs))
			}
		}
		want := map[string]bool{}
		for _, n := range outNames {
			want[n] = true
		}
		outNames = nil
		for _, o := range g.Outputs {
			if want[o.Name] {
				outNames = append(outNames, o.Name)
				want[o.Name] = false
			}
		}
	}

	// Params.
	isParam := map[string]bool{}
	for _, name := range opts.Params {
		if !pm.IsInitializer(name) {
			return nil, fmt.Errorf("native: compile: CompileOptions.Params names %q, which is not an initializer", name)
		}
		isParam[name] = true
	}

	// Runtime inputs and their shapes.
	inputs := pm.Inputs()
	known := map[string]bool{}
	for _, in := range inputs {
		known[in.Name] = true
	}
	var extra []string
	for name := range shapes {
		if !known[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		slices.Sort(extra)
		return nil, fmt.Errorf("native: compile: shapes given for %s, which are not graph inputs (inputs: %s)", strings.Join(extra, ", "), valueNames(inputs))
	}
	samples := map[string]*tensor.Dense{} // inference values of runtime values
	for _, in := range inputs {
		s, ok := shapes[in.Name]
		if !ok {
			return nil, fmt.Errorf("native: compile: no shape given for input %q (%s)", in.Name, describeInfo(in))
		}
		shape, err := checkShape(in, s)
		if err != nil {
			return nil, err
		}
		dt, err := kernels.DenseDtype(in.DType)
		if err != nil {
			return nil, fmt.Errorf("native: compile: input %q: %w", in.Name, err)
		}
		id := add(&cValue{name: in.Name, kind: kindInput, dtype: dt, shape: shape, step: -1})
		pl.inputs = append(pl.inputs, id)
		pl.shapes = append(pl.shapes, shape)
		if d, ok := opts.Samples[in.Name]; ok && d != nil {
			if d.Dtype() != dt || !slices.Equal([]int(d.Shape()), shape) {
				return nil, fmt.Errorf("native: compile: CompileOptions.Samples: input %q is %v%v, want %v%v", in.Name, d.Dtype(), []int(d.Shape()), dt, shape)
			}
			samples[in.Name] = d
		} else {
			d, err := ec.Alloc(dt, shape)
			if err != nil {
				return nil, fmt.Errorf("native: compile: input %q: %w", in.Name, err)
			}
			samples[in.Name] = d
		}
	}
	for name := range opts.Samples {
		if !known[name] {
			return nil, fmt.Errorf("native: compile: CompileOptions.Samples names %q, which is not a graph input (inputs: %s)", name, valueNames(inputs))
		}
	}
	for _, name := range opts.Params {
		if _, dup := pl.byName[name]; dup {
			continue
		}
		d, err := pm.Initializer(name)
		if err != nil {
			return nil, err
		}
		id := add(&cValue{name: name, kind: kindParam, dtype: d.Dtype(), shape: slices.Clone([]int(d.Shape())), konst: d, step: -1})
		pl.params = append(pl.params, id)
		samples[name] = d
	}

	// Which nodes the requested outputs need, whatever gets folded.
	producer := map[string]int{}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o == "" {
				continue
			}
			if j, dup := producer[o]; dup {
				return nil, pm.NodeErr(i, fmt.Errorf("output %q is also produced by node %s", o, engine.NodeLabel(g.Nodes[j], j)))
			}
			if pm.IsInitializer(o) || known[o] {
				return nil, pm.NodeErr(i, fmt.Errorf("output %q has the name of a graph input or initializer", o))
			}
			producer[o] = i
		}
	}
	neededVal := map[string]bool{}
	for _, name := range outNames {
		neededVal[name] = true
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
	for _, name := range outNames {
		if _, ok := producer[name]; !ok && !known[name] && !pm.IsInitializer(name) {
			return nil, fmt.Errorf("native: compile: graph output %q is produced by no node, input or initializer", name)
		}
	}
	// Last use of each value among the needed nodes, to drop inference
	// samples as soon as possible.
	lastUse := map[string]int{}
	for i, n := range g.Nodes {
		if needed[i] {
			for _, in := range n.Inputs {
				lastUse[in] = i
			}
		}
	}

	// Walk the needed nodes: fold or infer.
	for i, n := range g.Nodes {
		if !needed[i] {
			continue
		}
		node := pm.Node(i, make([]*tensor.Dense, len(n.Inputs)))
		ids := make([]int, len(n.Inputs))
		args := make([]*tensor.Dense, len(n.Inputs))
		allConst := true
		for j, in := range n.Inputs {
			ids[j] = -1
			if in == "" {
				continue
			}
			id, ok := pl.byName[in]
			if !ok {
				if !pm.IsInitializer(in) {
					if p, later := producer[in]; later && p > i {
						return nil, pm.NodeErr(i, fmt.Errorf("input %q is produced by a later node (%s): the graph is not in topological order", in, engine.NodeLabel(g.Nodes[p], p)))
					}
					return nil, pm.NodeErr(i, fmt.Errorf("input %q is not a graph input, an initializer or an earlier node's output", in))
				}
				d, err := pm.Initializer(in)
				if err != nil {
					return nil, err
				}
				id = add(&cValue{name: in, kind: kindConst, dtype: d.Dtype(), shape: slices.Clone([]int(d.Shape())), konst: d, step: -1})
			}
			ids[j] = id
			v := pl.values[id]
			if v.kind == kindConst {
				node.Const[j] = v.konst
				args[j] = v.konst
			} else {
				allConst = false
				args[j] = samples[in]
			}
		}
		spec := pm.Spec(i)
		kernel, err := spec.NewKernel(node)
		if err != nil {
			return nil, pm.NodeErr(i, err)
		}
		outs, err := kernel(ec, args)
		if err != nil {
			return nil, pm.NodeErr(i, err)
		}
		fold := allConst || shapeOnly(n)
		st := &cStep{node: n, index: i, opset: pm.Opset(i), spec: spec, kernel: kernel, ins: ids,
			outs: make([]int, len(n.Outputs)), outT: make([]tensor.Dtype, len(n.Outputs)), outS: make([][]int, len(n.Outputs))}
		for k, name := range n.Outputs {
			st.outs[k] = -1
			var d *tensor.Dense
			if k < len(outs) {
				d = outs[k]
			}
			if d == nil {
				if name != "" || k == 0 {
					return nil, pm.NodeErr(i, fmt.Errorf("kernel returned no value for output %d (%q)", k, name))
				}
				continue
			}
			st.outT[k], st.outS[k] = d.Dtype(), slices.Clone([]int(d.Shape()))
			if name == "" {
				continue
			}
			v := &cValue{name: name, dtype: d.Dtype(), shape: st.outS[k], step: -1}
			if fold {
				v.kind, v.konst = kindConst, d
			} else {
				v.kind, v.step, v.out = kindComputed, len(pl.steps), k
				samples[name] = d
			}
			st.outs[k] = add(v)
		}
		if !fold {
			pl.steps = append(pl.steps, st)
		}
		for _, in := range n.Inputs {
			if lastUse[in] == i {
				delete(samples, in)
			}
		}
	}

	// Requested outputs that are inputs or initializers only.
	for _, name := range outNames {
		if _, ok := pl.byName[name]; ok {
			continue
		}
		d, err := pm.Initializer(name)
		if err != nil {
			return nil, err
		}
		add(&cValue{name: name, kind: kindConst, dtype: d.Dtype(), shape: slices.Clone([]int(d.Shape())), konst: d, step: -1})
	}
	pl.outNames = outNames
	for _, name := range outNames {
		pl.outputs = append(pl.outputs, pl.byName[name])
	}
	pl.prune()
	return pl, nil
}

// prune drops the steps no requested output needs once folding is done,
// and counts the consumers of each value.
func (pl *plan) prune() {
	need := make([]bool, len(pl.values))
	for _, id := range pl.outputs {
		need[id] = true
	}
	keep := make([]bool, len(pl.steps))
	for s := len(pl.steps) - 1; s >= 0; s-- {
		st := pl.steps[s]
		for k, id := range st.outs {
			if id >= 0 && !need[id] {
				st.outs[k] = -1 // computed but unused
			}
			if id >= 0 && need[id] {
				keep[s] = true
			}
		}
		if keep[s] {
			for _, id := range st.ins {
				if id >= 0 {
					need[id] = true
				}
			}
		}
	}
	var steps []*cStep
	remap := make([]int, len(pl.steps))
	for s, st := range pl.steps {
		remap[s] = -1
		if keep[s] {
			remap[s] = len(steps)
			steps = append(steps, st)
		}
	}
	pl.steps = steps
	for id, v := range pl.values {
		if v.kind == kindComputed {
			v.step = remap[v.step]
		}
		if v.kind == kindConst && !need[id] {
			v.konst = nil // used only while folding
		}
	}
	pl.consumers = make([]int, len(pl.values))
	pl.exposed = make([]bool, len(pl.values))
	for _, st := range pl.steps {
		for _, id := range st.ins {
			if id >= 0 && pl.values[id].kind != kindConst {
				pl.consumers[id]++
			}
		}
	}
	for _, id := range pl.outputs {
		pl.exposed[id] = true
	}
}

// shapeOnly reports whether the node's outputs depend only on its inputs'
// shapes, so that it folds once the input shapes are known.
func shapeOnly(n *graph.Node) bool {
	return (n.Domain == "" || n.Domain == "ai.onnx") && (n.OpType == "Shape" || n.OpType == "Size")
}

// checkShape checks a given input shape against the declared one.
func checkShape(in graph.ValueInfo, s []int64) ([]int, error) {
	shape := make([]int, len(s))
	for i, d := range s {
		if d < 0 {
			return nil, fmt.Errorf("native: compile: input %q: shape %v has a negative dim", in.Name, s)
		}
		shape[i] = int(d)
	}
	if in.Shape == nil {
		return shape, nil
	}
	if len(in.Shape) != len(s) {
		return nil, fmt.Errorf("native: compile: input %q: shape %v has rank %d, the model declares %s", in.Name, s, len(s), describeInfo(in))
	}
	for i, d := range in.Shape {
		if d.Param == "" && d.Value > 0 && d.Value != s[i] {
			return nil, fmt.Errorf("native: compile: input %q: dim %d is %d, the model declares %s", in.Name, i, s[i], describeInfo(in))
		}
	}
	return shape, nil
}

// describeInfo renders a value's declared type as "float32[batch 4]".
func describeInfo(v graph.ValueInfo) string {
	if v.Shape == nil {
		return v.DType.String() + "[...]"
	}
	dims := make([]string, len(v.Shape))
	for i, d := range v.Shape {
		dims[i] = d.String()
	}
	return v.DType.String() + "[" + strings.Join(dims, " ") + "]"
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
