package kernels

import (
	"fmt"
	"sort"
	"strings"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// Kernel computes one node's outputs from its input values. An omitted
// optional input is nil. A kernel must not modify its inputs and must be
// safe to call from several goroutines at once (it holds only the
// attributes parsed at conversion time).
type Kernel func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error)

// Node is what a converter sees of an ONNX node: the IR node, the opset of
// its domain the model imports, and which inputs are constant (initializers
// or folded values) with their values.
type Node struct {
	*graph.Node
	// Opset is the model's version of the node's domain.
	Opset int64
	// Const holds the values of the inputs known at conversion time,
	// indexed like Inputs; nil where the input is computed at run time.
	Const []*tensor.Dense
	// Implicit counts the trailing Inputs that are not the node's own but
	// outer-scope values its sub-graphs read (see graph.FreeVariables and
	// WithImplicitInputs); the operator's arity concerns the others.
	Implicit int
	// Registry, when set, is where the operators of the node's sub-graphs
	// are looked up (Loop, If); nil means DefaultRegistry().
	Registry *Registry
}

// WithImplicitInputs returns n itself when its attributes hold no
// sub-graph, or a copy whose Inputs end with the outer-scope values its
// sub-graphs read, and their count: the form in which an executor hands a
// control-flow kernel everything its body needs.
func WithImplicitInputs(n *graph.Node) (*graph.Node, int) {
	var free []string
	seen := map[string]bool{}
	for _, a := range n.Attrs {
		if a.G == nil {
			continue
		}
		for _, v := range graph.FreeVariables(a.G) {
			if !seen[v] {
				seen[v] = true
				free = append(free, v)
			}
		}
	}
	if len(free) == 0 {
		return n, 0
	}
	c := *n
	c.Inputs = append(append([]string{}, n.Inputs...), free...)
	return &c, len(free)
}

// ConvertFunc turns a node into a kernel, reading and validating its
// attributes once. It rejects attributes it does not know.
type ConvertFunc func(n *Node) (Kernel, error)

// OpSpec declares one implementation of an operator.
type OpSpec struct {
	// Domain is "" for the ONNX default domain.
	Domain string
	// OpType is the ONNX operator name, verbatim ("MatMul").
	OpType string
	// Since is the first opset version this implementation follows; it
	// serves every version from Since up to the next registered Since.
	Since int64
	// MinInputs and MaxInputs bound the input count (MaxInputs -1: any).
	MinInputs, MaxInputs int
	// Outputs bounds the output count: at least 1, at most Outputs.
	Outputs int
	// Differentiable is true when the Gorgonia op built from this kernel
	// also has a gradient.
	Differentiable bool
	// Convert builds the kernel.
	Convert ConvertFunc
	// Shape is the operator's shape rule (see ShapeFunc); nil means its
	// outputs' types are unknown to inference.
	Shape ShapeFunc
}

// Registry maps (domain, op type, opset) to operator implementations.
// Build one with NewRegistry and the Register* family functions, or use
// DefaultRegistry.
type Registry struct {
	ops map[string][]OpSpec // key domain::op, sorted by Since
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{ops: map[string][]OpSpec{}} }

// Register adds an implementation. Registering the same (domain, op type,
// since) twice replaces the earlier one.
func (r *Registry) Register(s OpSpec) {
	key := s.Domain + "::" + s.OpType
	list := r.ops[key]
	for i := range list {
		if list[i].Since == s.Since {
			list[i] = s
			return
		}
	}
	list = append(list, s)
	sort.Slice(list, func(i, j int) bool { return list[i].Since < list[j].Since })
	r.ops[key] = list
}

// Lookup returns the implementation of op type in domain for the model's
// opset of that domain: the one with the highest Since ≤ opset.
func (r *Registry) Lookup(domain, opType string, opset int64) (OpSpec, error) {
	if domain == "ai.onnx" {
		domain = ""
	}
	list := r.ops[domain+"::"+opType]
	if len(list) == 0 {
		return OpSpec{}, &OpsetError{Domain: domain, OpType: opType, Actual: opset}
	}
	best := -1
	for i, s := range list {
		if s.Since <= opset {
			best = i
		}
	}
	if best < 0 {
		return OpSpec{}, &OpsetError{Domain: domain, OpType: opType, Actual: opset, Supported: sinceList(list)}
	}
	return list[best], nil
}

// Ops lists every registered implementation, sorted by domain, op type and
// version (the source of docs/ops.md).
func (r *Registry) Ops() []OpSpec {
	var out []OpSpec
	for _, list := range r.ops {
		out = append(out, list...)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Domain != b.Domain {
			return a.Domain < b.Domain
		}
		if a.OpType != b.OpType {
			return a.OpType < b.OpType
		}
		return a.Since < b.Since
	})
	return out
}

func sinceList(list []OpSpec) []int64 {
	out := make([]int64, len(list))
	for i, s := range list {
		out[i] = s.Since
	}
	return out
}

// OpsetError reports an operator the registry has no implementation of for
// the model's opset.
type OpsetError struct {
	Domain    string
	OpType    string
	Actual    int64   // the model's opset of Domain
	Supported []int64 // the versions implemented; empty: the op is unknown
}

func (e *OpsetError) Error() string {
	op := e.OpType
	if e.Domain != "" {
		op = e.Domain + "." + e.OpType
	}
	if len(e.Supported) == 0 {
		return fmt.Sprintf("operator %s is not supported", op)
	}
	vs := make([]string, len(e.Supported))
	for i, v := range e.Supported {
		vs[i] = fmt.Sprint(v)
	}
	return fmt.Sprintf("operator %s at opset %d is not supported (implemented from opset %s)", op, e.Actual, strings.Join(vs, ", "))
}
