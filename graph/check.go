package graph

import (
	"errors"
	"fmt"
)

// CheckError reports a structural problem found by Check, naming where.
type CheckError struct {
	// Where names the node, function or tensor at fault, e.g.
	// `node "layers.0.attn.to_q" (MatMul)`.
	Where string
	// Problem says what is wrong.
	Problem string
}

func (e *CheckError) Error() string {
	return fmt.Sprintf("graph check: %s: %s", e.Where, e.Problem)
}

// Check verifies a model's structure: every node input is produced exactly
// once before it is used (topological order), no value is produced twice,
// every graph output is produced, every node's domain has an opset import,
// every call of a model-local function matches the function's arity, and
// every initializer's data matches its shape. It returns all problems found,
// joined; nil means the model is well formed.
func Check(m *Model) error {
	var errs []error
	add := func(where, format string, args ...any) {
		errs = append(errs, &CheckError{Where: where, Problem: fmt.Sprintf(format, args...)})
	}
	if m.Graph == nil {
		return &CheckError{Where: "model", Problem: "has no graph"}
	}
	if m.Opset(DomainONNX) == 0 {
		add("model", "no opset import for the default ONNX domain")
	}
	fns := map[string]*Function{}
	for _, f := range m.Functions {
		key := f.Domain + "::" + f.Name
		if fns[key] != nil {
			add(fmt.Sprintf("function %s.%s", f.Domain, f.Name), "defined twice")
		}
		fns[key] = f
	}
	imported := func(opsets []OpsetImport, domain string) bool {
		for _, o := range opsets {
			if o.Domain == domain || (domain == "" && o.Domain == "ai.onnx") {
				return true
			}
		}
		return false
	}

	g := m.Graph
	defined := map[string]string{}
	for _, in := range g.Inputs {
		if in.Name == "" {
			add("graph input", "has an empty name")
			continue
		}
		if prev, ok := defined[in.Name]; ok {
			add(fmt.Sprintf("graph input %q", in.Name), "name already used by %s", prev)
		}
		defined[in.Name] = "graph input"
	}
	for _, t := range g.Initializers {
		where := fmt.Sprintf("initializer %q", t.Name)
		if t.Name == "" {
			add("initializer", "has an empty name")
		}
		if err := t.Check(); err != nil {
			add(where, "%v", err)
		}
		if prev, ok := defined[t.Name]; ok && prev != "graph input" {
			add(where, "name already used by %s", prev)
		}
		defined[t.Name] = "initializer"
	}
	checkNodes(g.Nodes, defined, func(n *Node) []string {
		var probs []string
		if !imported(m.Opsets, n.Domain) {
			probs = append(probs, fmt.Sprintf("domain %q has no opset import", n.Domain))
		}
		if f := fns[n.Domain+"::"+n.OpType]; f != nil {
			if len(n.Inputs) > len(f.Inputs) || len(n.Outputs) > len(f.Outputs) {
				probs = append(probs, fmt.Sprintf("calls function %s.%s (%d inputs, %d outputs) with %d inputs and %d outputs",
					f.Domain, f.Name, len(f.Inputs), len(f.Outputs), len(n.Inputs), len(n.Outputs)))
			}
		} else if n.Domain != DomainONNX && n.Domain != "ai.onnx" && n.Domain != "com.microsoft" {
			probs = append(probs, fmt.Sprintf("op %s.%s is neither a standard op nor a function of this model", n.Domain, n.OpType))
		}
		return probs
	}, add, "")
	for _, o := range g.Outputs {
		if _, ok := defined[o.Name]; !ok {
			add(fmt.Sprintf("graph output %q", o.Name), "is not produced by any node, input or initializer")
		}
	}

	for _, f := range m.Functions {
		fname := fmt.Sprintf("function %s.%s", f.Domain, f.Name)
		fdef := map[string]string{}
		for _, in := range f.Inputs {
			fdef[in] = "function input"
		}
		checkNodes(f.Nodes, fdef, func(n *Node) []string {
			var probs []string
			if !imported(f.Opsets, n.Domain) {
				probs = append(probs, fmt.Sprintf("domain %q has no opset import in the function", n.Domain))
			}
			return probs
		}, add, fname+": ")
		for _, o := range f.Outputs {
			if _, ok := fdef[o]; !ok {
				add(fname, "output %q is not produced by the body", o)
			}
		}
	}
	return errors.Join(errs...)
}

func checkNodes(nodes []*Node, defined map[string]string, extra func(*Node) []string, add func(string, string, ...any), prefix string) {
	names := map[string]bool{}
	for i, n := range nodes {
		where := fmt.Sprintf("%snode %q (%s)", prefix, n.Name, n.OpType)
		if n.Name == "" {
			where = fmt.Sprintf("%snode #%d (%s)", prefix, i, n.OpType)
		} else if names[n.Name] {
			add(where, "node name is used twice")
		}
		names[n.Name] = true
		if n.OpType == "" {
			add(where, "has no op type")
		}
		for _, in := range n.Inputs {
			if in == "" {
				continue
			}
			if _, ok := defined[in]; !ok {
				add(where, "input %q is not produced before this node (missing, or nodes out of topological order)", in)
			}
		}
		for _, p := range extra(n) {
			add(where, "%s", p)
		}
		for _, out := range n.Outputs {
			if out == "" {
				continue
			}
			if prev, ok := defined[out]; ok {
				add(where, "output %q is already produced by %s", out, prev)
				continue
			}
			defined[out] = fmt.Sprintf("node %q", n.Name)
		}
	}
}
