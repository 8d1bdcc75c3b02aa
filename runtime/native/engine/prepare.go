package engine

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// PreparedModel is a model made ready for compiling: its model-local
// functions inlined, every node's operator looked up and its arity checked.
// Initializers are decoded once, on first use, and shared by every program
// compiled from it. A PreparedModel is safe for concurrent use.
type PreparedModel struct {
	reg      *kernels.Registry
	implicit []int            // per node of g: its implicit (outer-scope) inputs
	g        *graph.Graph     // the inlined main graph
	specs    []kernels.OpSpec // per node of g
	opsets   []int64          // per node of g: the model's opset of its domain

	inits map[string]*graph.Tensor // initializers by name

	mu      sync.Mutex
	decoded map[string]*tensor.Dense // initializers decoded so far
}

// Prepare inlines m's model-local functions (on a copy: m is not changed)
// and looks up every node's operator in reg for the model's opset of the
// node's domain. Every operator reg cannot run is collected into one
// *UnsupportedOpsError before anything else is checked. It then checks each
// node's input and output counts against its kernels.OpSpec, reporting the first
// mismatch as a *NodeError.
func Prepare(m *graph.Model, reg *kernels.Registry) (pm *PreparedModel, err error) {
	return PrepareWith(m, reg, PrepareOptions{})
}

// PrepareOptions configures PrepareWith.
type PrepareOptions struct {
	// MaxNodes bounds the main graph's nodes once functions are inlined
	// (a *graph.NodeLimitError beyond it); 0 means graph.DefaultMaxNodes.
	MaxNodes int64
	// NoFusion inlines every function and leaves every node as it is,
	// instead of running fused kernels for the functions and patterns the
	// registry implements (for comparing the two).
	NoFusion bool
}

// PrepareWith is Prepare with options.
func PrepareWith(m *graph.Model, reg *kernels.Registry, opts PrepareOptions) (pm *PreparedModel, err error) {
	defer func() {
		if r := recover(); r != nil {
			pm, err = nil, fmt.Errorf("native: compile: internal error: %v", r)
		}
	}()
	if m == nil || m.Graph == nil {
		return nil, errors.New("native: compile: the model has no graph")
	}
	if reg == nil {
		return nil, errors.New("native: compile: nil registry (use DefaultRegistry())")
	}
	mc := *m
	gc := *m.Graph
	gc.Nodes = slices.Clone(m.Graph.Nodes)
	mc.Graph = &gc
	mc.Opsets = slices.Clone(m.Opsets)
	mc.Functions = slices.Clone(m.Functions)
	// Functions the registry implements (fused kernels) stay one node.
	keep := func(domain, name string) bool {
		if opts.NoFusion {
			return false
		}
		_, err := reg.Lookup(domain, name, mc.Opset(domain))
		return err == nil
	}
	if err := graph.InlineFunctionsExcept(&mc, opts.MaxNodes, keep); err != nil {
		return nil, fmt.Errorf("native: compile: inlining model-local functions: %w", err)
	}
	g := mc.Graph
	if !opts.NoFusion {
		inits := make(map[string]*graph.Tensor, len(g.Initializers))
		for _, t := range g.Initializers {
			inits[t.Name] = t
		}
		if fuse(g, inits) && mc.Opset(kernels.DomainNative) == 0 {
			mc.Opsets = append(mc.Opsets, graph.OpsetImport{Domain: kernels.DomainNative, Version: 1})
		}
	}
	// Control-flow nodes get the outer values their bodies read as extra
	// inputs, so that planning sees them (and keeps them alive).
	implicit := make([]int, len(g.Nodes))
	for i, n := range g.Nodes {
		g.Nodes[i], implicit[i] = kernels.WithImplicitInputs(n)
	}
	pm = &PreparedModel{
		reg:      reg,
		implicit: implicit,
		g:        g,
		specs:    make([]kernels.OpSpec, len(g.Nodes)),
		opsets:   make([]int64, len(g.Nodes)),
		inits:    make(map[string]*graph.Tensor, len(g.Initializers)),
		decoded:  map[string]*tensor.Dense{},
	}
	var missing []UnsupportedOp
	seen := map[string]int{}
	for i, n := range g.Nodes {
		domain := n.Domain
		if domain == "ai.onnx" {
			domain = ""
		}
		opset := mc.Opset(domain)
		pm.opsets[i] = opset
		s, err := reg.Lookup(domain, n.OpType, opset)
		if err == nil {
			pm.specs[i] = s
			continue
		}
		key := fmt.Sprintf("%s::%s::%d", domain, n.OpType, opset)
		j, ok := seen[key]
		if !ok {
			u := UnsupportedOp{Domain: domain, OpType: n.OpType, Opset: opset}
			var oe *kernels.OpsetError
			if errors.As(err, &oe) {
				u.Supported = oe.Supported
			}
			j = len(missing)
			seen[key] = j
			missing = append(missing, u)
		}
		missing[j].Nodes = append(missing[j].Nodes, nodeLabel(n, i))
	}
	if len(missing) > 0 {
		return nil, &UnsupportedOpsError{Ops: missing}
	}
	for i, n := range g.Nodes {
		if err := pm.specs[i].CheckArity(&kernels.Node{Node: n, Opset: pm.opsets[i], Implicit: implicit[i]}); err != nil {
			return nil, pm.nodeErr(i, err)
		}
	}
	for _, t := range g.Initializers {
		pm.inits[t.Name] = t
	}
	return pm, nil
}

// nodeLabel names node i for messages: its name, or "#i" when unnamed.
func nodeLabel(n *graph.Node, i int) string {
	if n.Name != "" {
		return n.Name
	}
	return fmt.Sprintf("#%d", i)
}

// nodeErr wraps err as a *NodeError for node i.
func (pm *PreparedModel) nodeErr(i int, err error) error {
	var ne *kernels.NodeError
	if errors.As(err, &ne) {
		return err
	}
	n := pm.g.Nodes[i]
	return &kernels.NodeError{Node: nodeLabel(n, i), Domain: n.Domain, OpType: n.OpType, Opset: pm.opsets[i], Err: err}
}

// Inputs returns the graph inputs a run must be given: those that are not
// also initializers (an initializer listed as an input is a constant).
func (pm *PreparedModel) Inputs() []graph.ValueInfo {
	var out []graph.ValueInfo
	for _, in := range pm.g.Inputs {
		if _, ok := pm.inits[in.Name]; !ok {
			out = append(out, in)
		}
	}
	return out
}

// Outputs returns the graph outputs.
func (pm *PreparedModel) Outputs() []graph.ValueInfo { return slices.Clone(pm.g.Outputs) }

// initializer returns the decoded initializer name, decoding it once.
func (pm *PreparedModel) initializer(name string) (*tensor.Dense, error) {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if d, ok := pm.decoded[name]; ok {
		return d, nil
	}
	d, err := kernels.DenseFromTensor(pm.inits[name])
	if err != nil {
		return nil, err // names the tensor
	}
	pm.decoded[name] = d
	return d, nil
}

// Graph returns the inlined main graph. It is shared: do not modify it.
func (pm *PreparedModel) Graph() *graph.Graph { return pm.g }

// Spec returns the operator implementation of node i of Graph().
func (pm *PreparedModel) Spec(i int) kernels.OpSpec { return pm.specs[i] }

// Opset returns the model's opset of the domain of node i of Graph().
func (pm *PreparedModel) Opset(i int) int64 { return pm.opsets[i] }

// IsInitializer reports whether name is an initializer of the graph.
func (pm *PreparedModel) IsInitializer(name string) bool { _, ok := pm.inits[name]; return ok }

// Initializer returns initializer name decoded, decoding it once.
func (pm *PreparedModel) Initializer(name string) (*tensor.Dense, error) { return pm.initializer(name) }

// Node returns the kernels.Node of node i of Graph(), for converting it.
func (pm *PreparedModel) Node(i int, consts []*tensor.Dense) *kernels.Node {
	return &kernels.Node{Node: pm.g.Nodes[i], Opset: pm.opsets[i], Const: consts, Implicit: pm.implicit[i], Registry: pm.reg}
}

// NodeErr wraps err as a *kernels.NodeError for node i of Graph(), unless
// it is one already.
func (pm *PreparedModel) NodeErr(i int, err error) error { return pm.nodeErr(i, err) }

// NodeLabel names node n (index i) for messages: its name, or "#i".
func NodeLabel(n *graph.Node, i int) string { return nodeLabel(n, i) }
