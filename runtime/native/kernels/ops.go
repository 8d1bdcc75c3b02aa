package kernels

import (
	"fmt"

	"gorgonia.org/tensor"
)

// DefaultRegistry returns a new registry holding every operator the native
// backend implements, one file per family (ops_math.go, ops_nn.go, …).
// docs/ops.md lists them.
func DefaultRegistry() *Registry {
	r := NewRegistry()
	registerMath(r)
	registerEinsum(r)
	registerNN(r)
	registerConv(r)
	registerShape(r)
	registerIndex(r)
	registerCast(r)
	registerQuant(r)
	registerContrib(r)
	registerReduce(r)
	registerLogic(r)
	registerAttention(r)
	registerRNN(r)
	registerFused(r)
	registerControl(r)
	return r
}

// A NodeError reports a failure to build or run one node; it names the
// node, its operator and the model's opset of the operator's domain.
type NodeError struct {
	Node   string // node name; may be empty
	Domain string
	OpType string
	Opset  int64
	Err    error
}

func (e *NodeError) Error() string {
	op := e.OpType
	if e.Domain != "" {
		op = e.Domain + "." + op
	}
	return fmt.Sprintf("native: node %q (%s, opset %d): %v", e.Node, op, e.Opset, e.Err)
}

// Unwrap returns the underlying error.
func (e *NodeError) Unwrap() error { return e.Err }

func nodeErr(n *Node, err error) error {
	return &NodeError{Node: n.Name, Domain: n.Domain, OpType: n.OpType, Opset: n.Opset, Err: err}
}

// CheckArity reports whether the node's input and output counts fit the
// spec: at least MinInputs inputs, all of them present (optional inputs
// may be empty names), at most MaxInputs, and 1 to Outputs outputs.
func (s OpSpec) CheckArity(n *Node) error {
	in := len(n.Inputs) - n.Implicit
	if in < s.MinInputs {
		return fmt.Errorf("has %d inputs, needs at least %d", in, s.MinInputs)
	}
	if s.MaxInputs >= 0 && in > s.MaxInputs {
		// Trailing empty names are omitted optional inputs.
		for in > s.MaxInputs && n.Inputs[in-1] == "" {
			in--
		}
		if in > s.MaxInputs {
			return fmt.Errorf("has %d inputs, takes at most %d", len(n.Inputs), s.MaxInputs)
		}
	}
	for i := 0; i < min(s.MinInputs, in); i++ {
		if n.Inputs[i] == "" {
			return fmt.Errorf("required input %d is empty", i)
		}
	}
	out := len(n.Outputs)
	if out < 1 || out > s.Outputs {
		return fmt.Errorf("has %d outputs, takes 1 to %d", out, s.Outputs)
	}
	return nil
}

// NewKernel checks the node against the spec, converts it, and returns its
// kernel. Errors from either step, and from running the kernel, are
// *NodeError values naming the node; a panic inside the converter or the
// kernel (from gorgonia or a bug) is recovered into such an error. The
// kernel materializes input views before use and checks that required
// inputs are present and that every requested output is produced.
func (s OpSpec) NewKernel(n *Node) (k Kernel, err error) {
	if err := s.CheckArity(n); err != nil {
		return nil, nodeErr(n, err)
	}
	defer func() {
		if r := recover(); r != nil {
			k, err = nil, nodeErr(n, fmt.Errorf("converter panicked: %v", r))
		}
	}()
	inner, err := s.Convert(n)
	if err != nil {
		return nil, nodeErr(n, err)
	}
	return func(ec *ExecContext, in []*tensor.Dense) (out []*tensor.Dense, err error) {
		defer func() {
			if r := recover(); r != nil {
				if bp, ok := r.(budgetPanic); ok {
					out, err = nil, nodeErr(n, bp.err)
					return
				}
				out, err = nil, nodeErr(n, fmt.Errorf("kernel panicked: %v", r))
			}
		}()
		if len(in) < len(n.Inputs) {
			return nil, nodeErr(n, fmt.Errorf("got %d input values for %d inputs", len(in), len(n.Inputs)))
		}
		args := make([]*tensor.Dense, len(n.Inputs))
		for i := range args {
			if in[i] == nil {
				if i < s.MinInputs {
					return nil, nodeErr(n, fmt.Errorf("required input %d (%q) has no value", i, n.Inputs[i]))
				}
				continue
			}
			c, err := contiguous(in[i])
			if err != nil {
				return nil, nodeErr(n, fmt.Errorf("input %d (%q): %w", i, n.Inputs[i], err))
			}
			args[i] = c
		}
		out, err = inner(ec, args)
		if err != nil {
			return nil, nodeErr(n, err)
		}
		for i, name := range n.Outputs {
			if name != "" && (i >= len(out) || out[i] == nil) {
				return nil, nodeErr(n, fmt.Errorf("output %d (%q) was not produced", i, name))
			}
		}
		return out, nil
	}, nil
}

// input returns input i, or nil when the node has fewer inputs or the
// input is omitted.
func input(in []*tensor.Dense, i int) *tensor.Dense {
	if i < len(in) {
		return in[i]
	}
	return nil
}

// wants reports whether the node's output i is used (present and named).
func wants(n *Node, i int) bool { return i < len(n.Outputs) && n.Outputs[i] != "" }

// one wraps a single result as a kernel's outputs.
func one(t *tensor.Dense, err error) ([]*tensor.Dense, error) {
	if err != nil {
		return nil, err
	}
	return []*tensor.Dense{t}, nil
}

// spec is shorthand for a default-domain OpSpec.
func spec(op string, since int64, minIn, maxIn, outs int, convert ConvertFunc) OpSpec {
	return OpSpec{OpType: op, Since: since, MinInputs: minIn, MaxInputs: maxIn, Outputs: outs, Convert: convert}
}

// noAttrs is the converter helper for operators without attributes.
func noAttrs(n *Node) error { return attrsOf(n).Err() }

// kernelOf adapts a single-output function as a converter with no
// attributes.
func kernelOf(f func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error)) ConvertFunc {
	return func(n *Node) (Kernel, error) {
		if err := noAttrs(n); err != nil {
			return nil, err
		}
		return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) { return one(f(ec, in)) }, nil
	}
}
