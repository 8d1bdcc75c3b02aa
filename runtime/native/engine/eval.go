package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// checkSupport returns an *UnsupportedOpsError listing every node of the
// model's main graph whose operator the registry lacks at the model's
// opset, or nil. Model-local functions must be inlined first.
func checkSupport(m *graph.Model, reg *kernels.Registry) error {
	var ops []UnsupportedOp
	index := map[string]int{}
	for k, n := range m.Graph.Nodes {
		opset := m.Opset(onnxDomain(n.Domain))
		if _, err := reg.Lookup(n.Domain, n.OpType, opset); err != nil {
			key := fmt.Sprintf("%s::%s::%d", n.Domain, n.OpType, opset)
			i, ok := index[key]
			if !ok {
				i = len(ops)
				index[key] = i
				var sup []int64
				if oe, ok := err.(*kernels.OpsetError); ok {
					sup = oe.Supported
				}
				ops = append(ops, UnsupportedOp{Domain: n.Domain, OpType: n.OpType, Opset: opset, Supported: sup})
			}
			label := n.Name
			if label == "" {
				label = fmt.Sprintf("#%d", k)
			}
			ops[i].Nodes = append(ops[i].Nodes, label)
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return &UnsupportedOpsError{Ops: ops}
}

// EvalOptions configures EvalWith.
type EvalOptions struct {
	// Registry holds the operators; nil means kernels.DefaultRegistry().
	Registry *kernels.Registry
	// MaxTensorBytes bounds every tensor and buffer a kernel allocates (see
	// kernels.ExecContext); 0 means runtime.DefaultMaxTensorBytes().
	MaxTensorBytes int64
	// MaxNodes bounds the graph's nodes once functions are inlined; 0
	// means graph.DefaultMaxNodes.
	MaxNodes int64
	// Context, when set, stops the evaluation before its next node once it
	// is done.
	Context context.Context
}

// Eval runs a model eagerly, node by node in graph order, and returns the
// values of its outputs. It is the reference interpreter of the native
// backend, and what constant folding uses.
//
// Model-local functions are inlined on a copy of the model first (m is not
// modified). Before anything runs, every operator is looked up (all the
// missing ones are reported in one *UnsupportedOpsError) and every node is
// converted. inputs must hold a value for every graph input that is not an
// initializer; an input that shadows an initializer replaces it. A nil reg
// means kernels.DefaultRegistry(). Node failures are *kernels.NodeError values naming the
// node, its operator and opset.
func Eval(m *graph.Model, inputs map[string]*tensor.Dense, reg *kernels.Registry) (map[string]*tensor.Dense, error) {
	return EvalWith(m, inputs, EvalOptions{Registry: reg})
}

// EvalWith is Eval with options: a registry, an allocation budget and a
// context.
func EvalWith(m *graph.Model, inputs map[string]*tensor.Dense, opts EvalOptions) (map[string]*tensor.Dense, error) {
	reg := opts.Registry
	ctx := opts.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ec := &kernels.ExecContext{MaxTensorBytes: opts.MaxTensorBytes, Context: ctx}
	if reg == nil {
		reg = kernels.DefaultRegistry()
	}
	if m == nil || m.Graph == nil {
		return nil, fmt.Errorf("native: Eval: model has no graph")
	}
	mc, err := inlinedCopy(m, opts.MaxNodes)
	if err != nil {
		return nil, err
	}
	g := mc.Graph
	if err := checkSupport(mc, reg); err != nil {
		return nil, err
	}
	values := map[string]*tensor.Dense{}
	for _, t := range g.Initializers {
		d, err := kernels.DenseFromTensor(t)
		if err != nil {
			return nil, fmt.Errorf("native: initializer %q: %w", t.Name, err)
		}
		values[t.Name] = d
	}
	var missing []string
	for _, in := range g.Inputs {
		v, ok := inputs[in.Name]
		if !ok {
			if _, init := values[in.Name]; !init {
				missing = append(missing, in.Name)
			}
			continue
		}
		if v == nil {
			return nil, fmt.Errorf("native: Eval: input %q is nil", in.Name)
		}
		if err := checkInput(in, v); err != nil {
			return nil, err
		}
		values[in.Name] = v
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("native: Eval: no value for graph input(s) %s", strings.Join(missing, ", "))
	}
	for name := range inputs {
		if !slices.ContainsFunc(g.Inputs, func(v graph.ValueInfo) bool { return v.Name == name }) {
			return nil, fmt.Errorf("native: Eval: %q is not a graph input (inputs: %s)", name, inputNames(g))
		}
	}
	// Initializers not replaced by an input are constants for the
	// converters.
	consts := map[string]bool{}
	for _, t := range g.Initializers {
		if _, over := inputs[t.Name]; !over {
			consts[t.Name] = true
		}
	}
	// Convert every node before running any.
	ks := make([]kernels.Kernel, len(g.Nodes))
	for i, n := range g.Nodes {
		opset := mc.Opset(onnxDomain(n.Domain))
		s, err := reg.Lookup(n.Domain, n.OpType, opset)
		if err != nil {
			return nil, err // checkSupport found every miss already
		}
		nn, implicit := kernels.WithImplicitInputs(n)
		g.Nodes[i] = nn
		n = nn
		node := &kernels.Node{Node: n, Opset: opset, Const: make([]*tensor.Dense, len(n.Inputs)), Implicit: implicit, Registry: reg}
		for j, name := range n.Inputs {
			if consts[name] {
				node.Const[j] = values[name]
			}
		}
		if ks[i], err = s.NewKernel(node); err != nil {
			return nil, err
		}
	}
	for i, n := range g.Nodes {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("native: Eval: %w", err)
		}
		args := make([]*tensor.Dense, len(n.Inputs))
		for j, name := range n.Inputs {
			if name == "" {
				continue
			}
			v, ok := values[name]
			if !ok {
				return nil, &kernels.NodeError{Node: n.Name, Domain: n.Domain, OpType: n.OpType, Opset: mc.Opset(onnxDomain(n.Domain)),
					Err: fmt.Errorf("input %d (%q) is not computed by any earlier node, nor a graph input or initializer", j, name)}
			}
			args[j] = v
		}
		outs, err := ks[i](ec, args)
		if err != nil {
			return nil, err
		}
		for j, name := range n.Outputs {
			if name != "" && j < len(outs) {
				values[name] = outs[j]
			}
		}
	}
	res := make(map[string]*tensor.Dense, len(g.Outputs))
	for _, o := range g.Outputs {
		v, ok := values[o.Name]
		if !ok {
			return nil, fmt.Errorf("native: Eval: graph output %q is never computed", o.Name)
		}
		res[o.Name] = v
	}
	return res, nil
}

// inlinedCopy returns a shallow copy of m with its functions inlined; the
// nodes, initializers and functions of m are shared, not modified.
func inlinedCopy(m *graph.Model, maxNodes int64) (*graph.Model, error) {
	mc := *m
	g := *m.Graph
	g.Nodes = slices.Clone(m.Graph.Nodes)
	mc.Graph = &g
	mc.Opsets = slices.Clone(m.Opsets)
	mc.Functions = slices.Clone(m.Functions)
	if err := graph.InlineFunctionsLimit(&mc, maxNodes); err != nil {
		return nil, fmt.Errorf("native: inlining functions: %w", err)
	}
	return &mc, nil
}

func inputNames(g *graph.Graph) string {
	names := make([]string, len(g.Inputs))
	for i, v := range g.Inputs {
		names[i] = v.Name
	}
	return strings.Join(names, ", ")
}

// checkInput compares a value with the graph input's declared type and
// fixed dimensions.
func checkInput(in graph.ValueInfo, v *tensor.Dense) error {
	if in.DType != graph.Undefined {
		want, err := kernels.DenseDtype(in.DType)
		if err != nil {
			return fmt.Errorf("native: Eval: input %q: %w", in.Name, err)
		}
		if v.Dtype() != want {
			return fmt.Errorf("native: Eval: input %q is %s, the model declares %s", in.Name, kernels.DTypeName(v.Dtype()), in.DType)
		}
	}
	if in.Shape == nil {
		return nil
	}
	sh := v.Shape()
	if len(sh) != len(in.Shape) {
		return fmt.Errorf("native: Eval: input %q has shape %v, the model declares rank %d %v", in.Name, sh, len(in.Shape), in.Shape)
	}
	for i, d := range in.Shape {
		if d.Param == "" && d.Value > 0 && int64(sh[i]) != d.Value {
			return fmt.Errorf("native: Eval: input %q has shape %v, the model declares %v", in.Name, sh, in.Shape)
		}
	}
	return nil
}

// onnxDomain maps the alias "ai.onnx" to the default domain "".
func onnxDomain(d string) string {
	if d == "ai.onnx" {
		return graph.DomainONNX
	}
	return d
}
