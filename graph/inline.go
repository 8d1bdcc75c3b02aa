package graph

import (
	"fmt"
	"math"
)

// maxInlineDepth bounds nested function expansion, which also catches
// recursive functions.
const maxInlineDepth = 32

// DefaultMaxNodes bounds the nodes of a graph once its functions are
// inlined, when no other bound is given: a million nodes, fifty times what
// a transformer of billions of parameters needs, and far below what a
// model of nested functions calling each other many times could expand to.
const DefaultMaxNodes = 1_000_000

// A NodeLimitError reports a graph that would have more nodes than allowed
// once its model-local functions are inlined.
type NodeLimitError struct {
	// Nodes is the node count after inlining (saturated at the largest
	// int64); Limit is the bound.
	Nodes, Limit int64
}

func (e *NodeLimitError) Error() string {
	n := fmt.Sprint(e.Nodes)
	if e.Nodes == math.MaxInt64 {
		n = "more than 9e18"
	}
	return fmt.Sprintf("graph: inlining the model-local functions would give %s nodes, more than the limit of %d (nested functions that call each other many times expand exponentially; raise the limit with runtime.Options.MaxNodes if the model is genuine)", n, e.Limit)
}

// InlineFunctions replaces every call of a model-local function by the
// function's body, recursively, and drops the functions and any opset import
// no node uses any more. Values inside an expanded body are renamed
// call-node-name + "/" + original name (an unnamed call gets the name
// function-name + "#" + a counter); attribute references are resolved
// against the call's attributes (an unset reference drops the attribute, as
// ONNX specifies). A graph that would exceed DefaultMaxNodes nodes is
// refused with a *NodeLimitError before anything is expanded.
func InlineFunctions(m *Model) error { return InlineFunctionsLimit(m, DefaultMaxNodes) }

// InlineFunctionsLimit is InlineFunctions with a bound on the node count
// after inlining (maxNodes ≤ 0 means DefaultMaxNodes). The count is worked
// out from the functions' sizes first, so an inlining bomb costs nothing.
func InlineFunctionsLimit(m *Model, maxNodes int64) error {
	return InlineFunctionsExcept(m, maxNodes, nil)
}

// InlineFunctionsExcept is InlineFunctionsLimit that leaves the calls of
// the functions keep reports true for (by domain and name) as they are, and
// those functions in the model: a runtime with its own implementation of a
// function (a fused kernel) runs the call as one node.
func InlineFunctionsExcept(m *Model, maxNodes int64, keep func(domain, name string) bool) error {
	if maxNodes <= 0 {
		maxNodes = DefaultMaxNodes
	}
	if len(m.Functions) == 0 {
		if n := int64(len(m.Graph.Nodes)); n > maxNodes {
			return &NodeLimitError{Nodes: n, Limit: maxNodes}
		}
		return nil
	}
	fns := map[string]*Function{}
	var keptFns []*Function
	for _, f := range m.Functions {
		if keep != nil && keep(f.Domain, f.Name) {
			keptFns = append(keptFns, f)
			continue
		}
		fns[f.Domain+"::"+f.Name] = f
	}
	sizes := map[*Function]int64{}
	total, err := expandedSize(m.Graph.Nodes, fns, sizes, 0)
	if err != nil {
		return err
	}
	if total > maxNodes {
		return &NodeLimitError{Nodes: total, Limit: maxNodes}
	}
	unnamed := 0
	nodes, err := inlineNodes(m.Graph.Nodes, fns, 0, &unnamed)
	if err != nil {
		return err
	}
	m.Graph.Nodes = nodes
	m.Functions = keptFns
	used := map[string]bool{DomainONNX: true}
	for _, n := range m.Graph.Nodes {
		used[n.Domain] = true
	}
	for _, f := range keptFns {
		for _, o := range f.Opsets {
			used[o.Domain] = true
		}
	}
	kept := m.Opsets[:0]
	for _, o := range m.Opsets {
		if used[o.Domain] || o.Domain == "ai.onnx" {
			kept = append(kept, o)
		}
	}
	m.Opsets = kept
	return nil
}

// expandedSize returns how many nodes nodes become once every function
// call is expanded, saturating at math.MaxInt64; sizes memoizes each
// function's expanded size.
func expandedSize(nodes []*Node, fns map[string]*Function, sizes map[*Function]int64, depth int) (int64, error) {
	var total int64
	for _, n := range nodes {
		f, ok := fns[n.Domain+"::"+n.OpType]
		if !ok {
			total = satAdd(total, 1)
			continue
		}
		if depth >= maxInlineDepth {
			return 0, fmt.Errorf("graph: node %q: function %s.%s nests deeper than %d calls (recursive?)", n.Name, f.Domain, f.Name, maxInlineDepth)
		}
		sz, ok := sizes[f]
		if !ok {
			var err error
			if sz, err = expandedSize(f.Nodes, fns, sizes, depth+1); err != nil {
				return 0, err
			}
			sizes[f] = sz
		}
		total = satAdd(total, sz)
	}
	return total, nil
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func inlineNodes(nodes []*Node, fns map[string]*Function, depth int, unnamed *int) ([]*Node, error) {
	out := make([]*Node, 0, len(nodes))
	for _, n := range nodes {
		f, ok := fns[n.Domain+"::"+n.OpType]
		if !ok {
			out = append(out, n)
			continue
		}
		if depth >= maxInlineDepth {
			return nil, fmt.Errorf("graph: node %q: function %s.%s nests deeper than %d calls (recursive?)", n.Name, f.Domain, f.Name, maxInlineDepth)
		}
		prefix := n.Name
		if prefix == "" {
			*unnamed++
			prefix = fmt.Sprintf("%s#%d", f.Name, *unnamed)
		}
		body, err := expandCall(n, f, prefix)
		if err != nil {
			return nil, err
		}
		body, err = inlineNodes(body, fns, depth+1, unnamed)
		if err != nil {
			return nil, err
		}
		out = append(out, body...)
	}
	return out, nil
}

// expandCall returns the body of f for call, with values and named nodes
// renamed prefix + "/" + original name.
func expandCall(call *Node, f *Function, prefix string) ([]*Node, error) {
	if len(call.Inputs) > len(f.Inputs) {
		return nil, fmt.Errorf("graph: node %q calls %s.%s with %d inputs, the function takes %d", call.Name, f.Domain, f.Name, len(call.Inputs), len(f.Inputs))
	}
	if len(call.Outputs) > len(f.Outputs) {
		return nil, fmt.Errorf("graph: node %q calls %s.%s with %d outputs, the function has %d", call.Name, f.Domain, f.Name, len(call.Outputs), len(f.Outputs))
	}
	rename := map[string]string{}
	for i, name := range f.Inputs {
		if i < len(call.Inputs) {
			rename[name] = call.Inputs[i]
		} else {
			rename[name] = ""
		}
	}
	outputs := map[string]string{}
	for i, name := range f.Outputs {
		if i < len(call.Outputs) && call.Outputs[i] != "" { // an omitted output stays a local value
			outputs[name] = call.Outputs[i]
		}
	}
	attrs := map[string]Attr{}
	for _, a := range call.Attrs {
		attrs[a.Name] = a
	}
	local := func(v string) string {
		if v == "" {
			return ""
		}
		if r, ok := rename[v]; ok {
			return r
		}
		if r, ok := outputs[v]; ok {
			return r
		}
		return prefix + "/" + v
	}
	body := make([]*Node, 0, len(f.Nodes))
	for _, bn := range f.Nodes {
		name := ""
		if bn.Name != "" {
			name = prefix + "/" + bn.Name
		}
		nn := &Node{
			Name:    name,
			OpType:  bn.OpType,
			Domain:  bn.Domain,
			Doc:     bn.Doc,
			Inputs:  make([]string, len(bn.Inputs)),
			Outputs: make([]string, len(bn.Outputs)),
		}
		for i, v := range bn.Inputs {
			nn.Inputs[i] = local(v)
		}
		for i, v := range bn.Outputs {
			nn.Outputs[i] = local(v)
		}
		for _, a := range bn.Attrs {
			if a.Ref == "" {
				nn.Attrs = append(nn.Attrs, a)
				continue
			}
			v, ok := attrs[a.Ref]
			if !ok {
				continue
			}
			if v.Type != a.Type {
				return nil, fmt.Errorf("graph: node %q: attribute %q of %s.%s is %v, body node %q wants %v", call.Name, a.Ref, f.Domain, f.Name, v.Type, bn.Name, a.Type)
			}
			v.Name = a.Name
			nn.Attrs = append(nn.Attrs, v)
		}
		body = append(body, nn)
	}
	return body, nil
}
