package engine

import (
	"fmt"
	"strings"
)

// UnsupportedOp is one operator of a model that the registry has no
// implementation of, with every node that uses it.
type UnsupportedOp struct {
	// Domain is the operator's domain ("" for the default ONNX domain).
	Domain string
	// OpType is the ONNX operator name, verbatim.
	OpType string
	// Opset is the model's opset of Domain (0 when the model imports no
	// opset for it).
	Opset int64
	// Supported lists the opset versions the registry implements the
	// operator from; empty when it does not know the operator at all.
	Supported []int64
	// Nodes names the nodes that use the operator, in graph order; an
	// unnamed node is written "#" and its index in the (inlined) graph.
	Nodes []string
}

// String describes the operator, e.g. `Erf (opset 17; nodes "a", "b")`.
func (u UnsupportedOp) String() string {
	op := u.OpType
	if u.Domain != "" {
		op = u.Domain + "." + u.OpType
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (opset %d", op, u.Opset)
	if len(u.Supported) > 0 {
		vs := make([]string, len(u.Supported))
		for i, v := range u.Supported {
			vs[i] = fmt.Sprint(v)
		}
		fmt.Fprintf(&b, ", implemented from opset %s", strings.Join(vs, ", "))
	}
	const shown = 3
	names := make([]string, 0, shown)
	for i, n := range u.Nodes {
		if i == shown {
			break
		}
		if strings.HasPrefix(n, "#") {
			names = append(names, n)
		} else {
			names = append(names, fmt.Sprintf("%q", n))
		}
	}
	switch {
	case len(u.Nodes) == 1:
		fmt.Fprintf(&b, "; node %s", names[0])
	case len(u.Nodes) > shown:
		fmt.Fprintf(&b, "; nodes %s and %d more", strings.Join(names, ", "), len(u.Nodes)-shown)
	case len(u.Nodes) > 1:
		fmt.Fprintf(&b, "; nodes %s", strings.Join(names, ", "))
	}
	b.WriteString(")")
	return b.String()
}

// UnsupportedOpsError lists every operator of a model that the registry
// cannot run, gathered over the whole (inlined) graph before anything else
// is done, so that one attempt reports them all.
type UnsupportedOpsError struct {
	// Ops holds one entry per (domain, op type, opset), in order of first
	// use.
	Ops []UnsupportedOp
}

func (e *UnsupportedOpsError) Error() string {
	parts := make([]string, len(e.Ops))
	for i, op := range e.Ops {
		parts[i] = op.String()
	}
	if len(parts) == 1 {
		return "native: unsupported operator " + parts[0]
	}
	return fmt.Sprintf("native: %d unsupported operators: %s", len(parts), strings.Join(parts, ", "))
}
