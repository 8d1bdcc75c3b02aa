package graph

import "fmt"

// maxInlineDepth bounds nested function expansion, which also catches
// recursive functions.
const maxInlineDepth = 32

// InlineFunctions replaces every call of a model-local function by the
// function's body, recursively, and drops the functions and any opset import
// no node uses any more. Values inside an expanded body are renamed
// call-node-name + "/" + original name (an unnamed call gets the name
// function-name + "#" + a counter); attribute references are resolved
// against the call's attributes (an unset reference drops the attribute, as
// ONNX specifies).
func InlineFunctions(m *Model) error {
	if len(m.Functions) == 0 {
		return nil
	}
	fns := map[string]*Function{}
	for _, f := range m.Functions {
		fns[f.Domain+"::"+f.Name] = f
	}
	unnamed := 0
	nodes, err := inlineNodes(m.Graph.Nodes, fns, 0, &unnamed)
	if err != nil {
		return err
	}
	m.Graph.Nodes = nodes
	m.Functions = nil
	used := map[string]bool{DomainONNX: true}
	for _, n := range m.Graph.Nodes {
		used[n.Domain] = true
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
