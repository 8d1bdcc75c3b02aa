package kernels

import (
	"fmt"
	"sort"
	"strings"

	"github.com/xt2onnx/xt2onnx/graph"
)

// attrReader reads a node's attributes with type checks. Every getter
// records the name it was asked for; err then reports the first attribute
// of the wrong type, or else any attribute the converter never asked for
// (ONNX attributes this implementation does not know, which would
// otherwise be silently ignored).
type attrReader struct {
	n    *Node
	used map[string]bool
	err  error
}

func attrsOf(n *Node) *attrReader { return &attrReader{n: n, used: map[string]bool{}} }

var attrTypeNames = map[graph.AttrType]string{
	graph.AttrFloat: "float", graph.AttrInt: "int", graph.AttrString: "string",
	graph.AttrTensor: "tensor", graph.AttrGraph: "graph", graph.AttrFloats: "floats",
	graph.AttrInts: "ints", graph.AttrStrings: "strings",
}

func attrTypeName(t graph.AttrType) string {
	if s, ok := attrTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type %d", int32(t))
}

// get returns the attribute name if present and of type want.
func (r *attrReader) get(name string, want graph.AttrType) (graph.Attr, bool) {
	r.used[name] = true
	a, ok := r.n.Attr(name)
	if !ok {
		return a, false
	}
	if a.Ref != "" {
		r.fail(fmt.Errorf("attribute %q refers to function attribute %q, which was not resolved (inline functions first)", name, a.Ref))
		return a, false
	}
	if a.Type != want {
		r.fail(fmt.Errorf("attribute %q is %s, want %s", name, attrTypeName(a.Type), attrTypeName(want)))
		return a, false
	}
	return a, true
}

func (r *attrReader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// has reports whether the attribute is present (of any type).
func (r *attrReader) has(name string) bool {
	_, ok := r.n.Attr(name)
	return ok
}

// Int reads an int attribute, or def when absent.
func (r *attrReader) Int(name string, def int64) int64 {
	if a, ok := r.get(name, graph.AttrInt); ok {
		return a.I
	}
	return def
}

// Bool reads an int attribute that must be 0 or 1.
func (r *attrReader) Bool(name string, def bool) bool {
	d := int64(0)
	if def {
		d = 1
	}
	v := r.Int(name, d)
	if v != 0 && v != 1 {
		r.fail(fmt.Errorf("attribute %q is %d, want 0 or 1", name, v))
	}
	return v == 1
}

// Float reads a float attribute, or def when absent.
func (r *attrReader) Float(name string, def float32) float32 {
	if a, ok := r.get(name, graph.AttrFloat); ok {
		return a.F
	}
	return def
}

// String reads a string attribute, or def when absent.
func (r *attrReader) String(name, def string) string {
	if a, ok := r.get(name, graph.AttrString); ok {
		return a.S
	}
	return def
}

// Ints reads an ints attribute; ok is false when it is absent.
func (r *attrReader) Ints(name string) (v []int64, ok bool) {
	if a, ok := r.get(name, graph.AttrInts); ok {
		return a.Ints, true
	}
	return nil, false
}

// Floats reads a floats attribute; ok is false when it is absent.
func (r *attrReader) Floats(name string) (v []float32, ok bool) {
	if a, ok := r.get(name, graph.AttrFloats); ok {
		return a.Floats, true
	}
	return nil, false
}

// Strings reads a strings attribute; ok is false when it is absent.
func (r *attrReader) Strings(name string) (v []string, ok bool) {
	if a, ok := r.get(name, graph.AttrStrings); ok {
		return a.Strings, true
	}
	return nil, false
}

// Tensor reads a tensor attribute, or nil when absent.
func (r *attrReader) Tensor(name string) *graph.Tensor {
	if a, ok := r.get(name, graph.AttrTensor); ok {
		return a.T
	}
	return nil
}

// Required records an error when name is absent.
func (r *attrReader) Required(name string) {
	if !r.has(name) {
		r.fail(fmt.Errorf("required attribute %q is missing", name))
	}
}

// OneOf records an error when the string attribute value is not allowed.
func (r *attrReader) OneOf(name, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	r.fail(fmt.Errorf("attribute %q is %q, want one of %s", name, v, strings.Join(allowed, ", ")))
}

// Err returns the first type error, or an error naming the attributes
// that no getter asked for.
func (r *attrReader) Err() error {
	if r.err != nil {
		return r.err
	}
	var unknown []string
	for _, a := range r.n.Attrs {
		if !r.used[a.Name] {
			unknown = append(unknown, a.Name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	known := make([]string, 0, len(r.used))
	for k := range r.used {
		known = append(known, k)
	}
	sort.Strings(known)
	if len(known) == 0 {
		return fmt.Errorf("unknown attribute(s) %s at opset %d (the operator takes none)", strings.Join(unknown, ", "), r.n.Opset)
	}
	return fmt.Errorf("unknown attribute(s) %s at opset %d (this implementation knows: %s)", strings.Join(unknown, ", "), r.n.Opset, strings.Join(known, ", "))
}
