package kernels

// Control flow.
//
// Loop — https://onnx.ai/onnx/operators/onnx__Loop.html
//   Attribute body (graph: iteration_num, cond, v_prev… → cond_out,
//   v_next…, scan_outputs…). Inputs M (optional int64 trip count), cond
//   (optional bool), v_initial…. Outputs v_final…, scan_outputs… (stacked
//   along a new first axis). The body may read outer-scope values: the
//   executor passes them as implicit inputs (Node.Implicit). A loop with
//   neither a trip count nor a condition that ends it stops with an error
//   after maxLoopIterations; a done context (ExecContext.Context) stops it
//   between iterations. Opsets 1, 11, 13, 16, 19, 21.
//   Gap: sequence and optional loop-carried values.
// If — https://onnx.ai/onnx/operators/onnx__If.html
//   Attributes then_branch, else_branch (graphs, no inputs). Input cond
//   (bool, one element). Outputs: the chosen branch's. Opsets 1, 11, 13,
//   16, 19, 21. Gap: sequence and optional outputs.

import (
	"fmt"
	"slices"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// maxLoopIterations bounds a Loop whose trip count and condition never end
// it, so that a hostile model cannot run forever.
const maxLoopIterations = 1 << 24

func registerControl(r *Registry) {
	for _, v := range []int64{1, 11, 13, 16, 19, 21} {
		r.Register(spec("Loop", v, 0, -1, maxOutputs, convertLoop)) // M and cond are optional but positional
		r.Register(spec("If", v, 1, 1, maxOutputs, convertIf))
	}
}

// maxOutputs is the output limit of variadic control-flow operators.
const maxOutputs = 1 << 16

// subgraph is a Loop or If body made ready to run: every node converted
// to its kernel once.
type subgraph struct {
	g     *graph.Graph
	steps []subStep
	inits map[string]*tensor.Dense
}

type subStep struct {
	node   *graph.Node
	kernel Kernel
}

// compileSubgraph converts every node of g for the opset of the node that
// owns it (the default domain's; other domains at version 1).
func compileSubgraph(g *graph.Graph, reg *Registry, opset int64) (*subgraph, error) {
	if reg == nil {
		reg = DefaultRegistry()
	}
	sg := &subgraph{g: g, inits: map[string]*tensor.Dense{}}
	for _, t := range g.Initializers {
		d, err := DenseFromTensor(t)
		if err != nil {
			return nil, fmt.Errorf("sub-graph %q: initializer %q: %w", g.Name, t.Name, err)
		}
		sg.inits[t.Name] = d
	}
	for i, n := range g.Nodes {
		version := opset
		if n.Domain != "" && n.Domain != "ai.onnx" {
			version = 1
		}
		s, err := reg.Lookup(n.Domain, n.OpType, version)
		if err != nil {
			return nil, fmt.Errorf("sub-graph %q, node %s: %w", g.Name, label(n, i), err)
		}
		node, implicit := WithImplicitInputs(n)
		k, err := s.NewKernel(&Node{Node: node, Opset: version, Const: make([]*tensor.Dense, len(node.Inputs)), Implicit: implicit, Registry: reg})
		if err != nil {
			return nil, fmt.Errorf("sub-graph %q: %w", g.Name, err)
		}
		sg.steps = append(sg.steps, subStep{node: node, kernel: k})
	}
	return sg, nil
}

func label(n *graph.Node, i int) string {
	if n.Name != "" {
		return fmt.Sprintf("%q (%s)", n.Name, n.OpType)
	}
	return fmt.Sprintf("#%d (%s)", i, n.OpType)
}

// run evaluates the sub-graph with env holding its inputs and the outer
// values it reads, and returns its outputs in order.
func (sg *subgraph) run(ec *ExecContext, env map[string]*tensor.Dense) ([]*tensor.Dense, error) {
	lookup := func(name string) (*tensor.Dense, bool) {
		if d, ok := env[name]; ok {
			return d, true
		}
		d, ok := sg.inits[name]
		return d, ok
	}
	for _, st := range sg.steps {
		args := make([]*tensor.Dense, len(st.node.Inputs))
		for j, name := range st.node.Inputs {
			if name == "" {
				continue
			}
			d, ok := lookup(name)
			if !ok {
				return nil, fmt.Errorf("sub-graph %q: node %q reads %q, which nothing defines", sg.g.Name, st.node.Name, name)
			}
			args[j] = d
		}
		outs, err := st.kernel(ec, args)
		if err != nil {
			return nil, err
		}
		for j, name := range st.node.Outputs {
			if name != "" && j < len(outs) {
				env[name] = outs[j]
			}
		}
	}
	res := make([]*tensor.Dense, len(sg.g.Outputs))
	for i, o := range sg.g.Outputs {
		d, ok := lookup(o.Name)
		if !ok {
			return nil, fmt.Errorf("sub-graph %q: output %q is never computed", sg.g.Name, o.Name)
		}
		res[i] = d
	}
	return res, nil
}

// graphAttr returns attribute name, which must hold a graph.
func graphAttr(n *Node, name string) (*graph.Graph, error) {
	for _, a := range n.Attrs {
		if a.Name == name {
			if a.G == nil {
				return nil, fmt.Errorf("attribute %s must be a graph", name)
			}
			return a.G, nil
		}
	}
	return nil, fmt.Errorf("attribute %s is missing", name)
}

// onlyAttrs rejects attributes other than names.
func onlyAttrs(n *Node, names ...string) error {
	for _, a := range n.Attrs {
		if !slices.Contains(names, a.Name) {
			return fmt.Errorf("unknown attribute %s (the operator takes %v)", a.Name, names)
		}
	}
	return nil
}

// outerEnv maps the node's implicit input names to their values.
func outerEnv(n *Node, in []*tensor.Dense) map[string]*tensor.Dense {
	env := map[string]*tensor.Dense{}
	explicit := len(n.Inputs) - n.Implicit
	for k, name := range n.Inputs[explicit:] {
		env[name] = in[explicit+k]
	}
	return env
}

func convertLoop(n *Node) (Kernel, error) {
	if err := onlyAttrs(n, "body"); err != nil {
		return nil, err
	}
	body, err := graphAttr(n, "body")
	if err != nil {
		return nil, err
	}
	explicit := len(n.Inputs) - n.Implicit
	if explicit < 2 {
		return nil, fmt.Errorf("has %d inputs, needs at least 2 (M and cond, which may be empty names)", explicit)
	}
	carried := explicit - 2
	if len(body.Inputs) != carried+2 {
		return nil, fmt.Errorf("the body takes %d inputs, the loop has %d loop-carried values: want %d", len(body.Inputs), carried, carried+2)
	}
	if len(body.Outputs) < carried+1 {
		return nil, fmt.Errorf("the body has %d outputs, want at least %d (cond and %d loop-carried values)", len(body.Outputs), carried+1, carried)
	}
	scans := len(body.Outputs) - 1 - carried
	if len(n.Outputs) > carried+scans {
		return nil, fmt.Errorf("the loop has %d outputs, the body gives %d", len(n.Outputs), carried+scans)
	}
	sg, err := compileSubgraph(body, n.Registry, n.Opset)
	if err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		trips, hasTrips := int64(0), in[0] != nil
		if hasTrips {
			v, err := scalarInt64(in[0], "M")
			if err != nil {
				return nil, err
			}
			trips = v
		}
		cond, hasCond := true, in[1] != nil
		if hasCond {
			if in[1].Dtype() != tensor.Bool || numel(in[1].Shape()) != 1 {
				return nil, fmt.Errorf("cond must be one bool, got %s%v", dtName(in[1].Dtype()), in[1].Shape())
			}
			cond = view[bool](in[1])[0]
		}
		vals := slices.Clone(in[2:explicit])
		outer := outerEnv(n, in)
		stacked := make([][]*tensor.Dense, scans)
		for i := int64(0); ; i++ {
			if (hasTrips && i >= trips) || !cond {
				break
			}
			if i >= maxLoopIterations {
				return nil, fmt.Errorf("the loop has run %d iterations without ending: give it a trip count M or a condition that becomes false", i)
			}
			if ec != nil && ec.Context != nil {
				if err := ec.Context.Err(); err != nil {
					return nil, err
				}
			}
			env := make(map[string]*tensor.Dense, len(outer)+len(body.Inputs))
			for k, v := range outer {
				env[k] = v
			}
			env[body.Inputs[0].Name] = scalar(i)
			env[body.Inputs[1].Name] = scalar(cond)
			for j, v := range vals {
				env[body.Inputs[2+j].Name] = v
			}
			outs, err := sg.run(ec, env)
			if err != nil {
				return nil, fmt.Errorf("iteration %d: %w", i, err)
			}
			c := outs[0]
			if c.Dtype() != tensor.Bool || numel(c.Shape()) != 1 {
				return nil, fmt.Errorf("iteration %d: the body's cond output must be one bool, got %s%v", i, dtName(c.Dtype()), c.Shape())
			}
			cond = view[bool](c)[0]
			copy(vals, outs[1:1+carried])
			for k := 0; k < scans; k++ {
				stacked[k] = append(stacked[k], outs[1+carried+k])
			}
		}
		res := append([]*tensor.Dense{}, vals...)
		for k := 0; k < scans; k++ {
			st, err := stack(ec, stacked[k], body.Outputs[1+carried+k])
			if err != nil {
				return nil, fmt.Errorf("scan output %d: %w", k, err)
			}
			res = append(res, st)
		}
		return res, nil
	}, nil
}

// stack joins equal-shaped tensors along a new first axis; with none it
// gives a [0, …] tensor of the body output's declared type and shape.
func stack(ec *ExecContext, ts []*tensor.Dense, decl graph.ValueInfo) (*tensor.Dense, error) {
	if len(ts) == 0 {
		dt := tensor.Float32
		if d, err := DenseDtype(decl.DType); err == nil {
			dt = d
		}
		shape := []int{0}
		for _, d := range decl.Shape {
			if d.Value > 0 {
				shape = append(shape, int(d.Value))
			} else {
				shape = append(shape, 0)
			}
		}
		return ec.alloc(dt, shape), nil
	}
	first := ts[0]
	for i, t := range ts {
		if t.Dtype() != first.Dtype() || !sameShape(t.Shape(), first.Shape()) {
			return nil, fmt.Errorf("iteration %d gives %s%v, iteration 0 gave %s%v", i, dtName(t.Dtype()), t.Shape(), dtName(first.Dtype()), first.Shape())
		}
	}
	shape := append([]int{len(ts)}, first.Shape()...)
	out := ec.alloc(first.Dtype(), shape)
	n := len(first.Header.Raw)
	for i, t := range ts {
		c, err := contiguous(t)
		if err != nil {
			return nil, err
		}
		copy(out.Header.Raw[i*n:(i+1)*n], c.Header.Raw)
	}
	return out, nil
}

func convertIf(n *Node) (Kernel, error) {
	if err := onlyAttrs(n, "then_branch", "else_branch"); err != nil {
		return nil, err
	}
	thenG, err := graphAttr(n, "then_branch")
	if err != nil {
		return nil, err
	}
	elseG, err := graphAttr(n, "else_branch")
	if err != nil {
		return nil, err
	}
	for _, g := range []*graph.Graph{thenG, elseG} {
		if len(g.Inputs) != 0 {
			return nil, fmt.Errorf("branch %q takes %d inputs; If branches take none", g.Name, len(g.Inputs))
		}
		if len(g.Outputs) != len(n.Outputs) {
			return nil, fmt.Errorf("branch %q has %d outputs, the node %d", g.Name, len(g.Outputs), len(n.Outputs))
		}
	}
	thenSG, err := compileSubgraph(thenG, n.Registry, n.Opset)
	if err != nil {
		return nil, err
	}
	elseSG, err := compileSubgraph(elseG, n.Registry, n.Opset)
	if err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		c := in[0]
		if c.Dtype() != tensor.Bool || numel(c.Shape()) != 1 {
			return nil, fmt.Errorf("cond must be one bool, got %s%v", dtName(c.Dtype()), c.Shape())
		}
		sg := elseSG
		if view[bool](c)[0] {
			sg = thenSG
		}
		return sg.run(ec, outerEnv(n, in))
	}, nil
}
