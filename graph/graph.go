package graph

import "fmt"

// Domains of the operator sets xt2onnx emits.
const (
	// DomainONNX is the default ONNX operator domain.
	DomainONNX = ""
	// DomainXT is the domain of xt2onnx's model-local functions.
	DomainXT = "ai.xtransformers"
)

// Dim is one dimension of a value's shape: a fixed size, or a symbolic name
// such as "batch" (Param), or unknown when both are zero.
type Dim struct {
	Value int64
	Param string
}

// String renders a dim as its size, its name, or "?".
func (d Dim) String() string {
	switch {
	case d.Param != "":
		return d.Param
	case d.Value > 0:
		return fmt.Sprint(d.Value)
	}
	return "?"
}

// Fixed returns a fixed-size dim.
func Fixed(n int64) Dim { return Dim{Value: n} }

// Sym returns a symbolic dim.
func Sym(name string) Dim { return Dim{Param: name} }

// ValueInfo describes a named value: its element type and, when known, its
// shape. A nil Shape means the rank is unknown.
type ValueInfo struct {
	Name  string
	DType DType
	Shape []Dim
	Doc   string
}

// AttrType is the type of an attribute, numbered as AttributeProto.AttributeType.
type AttrType int32

// Attribute types.
const (
	AttrUndefined AttrType = 0
	AttrFloat     AttrType = 1
	AttrInt       AttrType = 2
	AttrString    AttrType = 3
	AttrTensor    AttrType = 4
	AttrGraph     AttrType = 5
	AttrFloats    AttrType = 6
	AttrInts      AttrType = 7
	AttrStrings   AttrType = 8
)

// Attr is a node attribute. Exactly the field matching Type is meaningful.
// When Ref is set, the attribute refers to the attribute of that name of the
// enclosing function (only valid inside a function body).
type Attr struct {
	Name    string
	Type    AttrType
	F       float32
	I       int64
	S       string
	T       *Tensor
	G       *Graph
	Floats  []float32
	Ints    []int64
	Strings []string
	Ref     string
}

// AInt returns an int attribute.
func AInt(name string, v int64) Attr { return Attr{Name: name, Type: AttrInt, I: v} }

// AFloat returns a float attribute.
func AFloat(name string, v float32) Attr { return Attr{Name: name, Type: AttrFloat, F: v} }

// AInts returns an ints attribute.
func AInts(name string, v ...int64) Attr { return Attr{Name: name, Type: AttrInts, Ints: v} }

// AString returns a string attribute.
func AString(name, v string) Attr { return Attr{Name: name, Type: AttrString, S: v} }

// ATensor returns a tensor attribute.
func ATensor(name string, t *Tensor) Attr { return Attr{Name: name, Type: AttrTensor, T: t} }

// ARef returns an attribute of the given type that takes its value from the
// enclosing function's attribute ref.
func ARef(name string, typ AttrType, ref string) Attr {
	return Attr{Name: name, Type: typ, Ref: ref}
}

// Node is one operator application. An empty input name stands for an
// omitted optional input.
type Node struct {
	Name    string
	OpType  string
	Domain  string
	Inputs  []string
	Outputs []string
	Attrs   []Attr
	Doc     string
}

// Attr returns the attribute called name, if present.
func (n *Node) Attr(name string) (Attr, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// Graph is a computation graph: inputs, initializers, nodes in topological
// order and outputs.
type Graph struct {
	Name         string
	Doc          string
	Inputs       []ValueInfo
	Outputs      []ValueInfo
	ValueInfo    []ValueInfo
	Initializers []*Tensor
	Nodes        []*Node
}

// OpsetImport names an operator set version the model or a function uses.
type OpsetImport struct {
	Domain  string
	Version int64
}

// Function is an ONNX model-local function: a named, reusable subgraph that
// nodes call with OpType Name and Domain Domain.
type Function struct {
	Domain     string
	Name       string
	Doc        string
	Inputs     []string
	Outputs    []string
	Attributes []string
	Nodes      []*Node
	Opsets     []OpsetImport

	// deps are the functions the body calls, registered with the model
	// together with this one.
	deps []*Function
}

// MetadataEntry is one key/value pair of model metadata, kept in order so
// that exports are byte-stable.
type MetadataEntry struct {
	Key, Value string
}

// Model is a whole ONNX model.
type Model struct {
	IRVersion       int64
	Opsets          []OpsetImport
	ProducerName    string
	ProducerVersion string
	Domain          string
	ModelVersion    int64
	Doc             string
	Graph           *Graph
	Functions       []*Function
	Metadata        []MetadataEntry
}

// Opset returns the model's imported version of domain, or 0 if it has none.
// The ONNX domain may be written "" or "ai.onnx".
func (m *Model) Opset(domain string) int64 {
	for _, o := range m.Opsets {
		if o.Domain == domain || (domain == DomainONNX && o.Domain == "ai.onnx") {
			return o.Version
		}
	}
	return 0
}

// Function returns the model-local function (domain, name), if present.
func (m *Model) Function(domain, name string) *Function {
	for _, f := range m.Functions {
		if f.Domain == domain && f.Name == name {
			return f
		}
	}
	return nil
}

// MetadataValue returns the value stored under key in the model metadata.
func (m *Model) MetadataValue(key string) (string, bool) {
	for _, e := range m.Metadata {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// SetMetadata sets key to value, replacing an earlier value.
func (m *Model) SetMetadata(key, value string) {
	for i, e := range m.Metadata {
		if e.Key == key {
			m.Metadata[i].Value = value
			return
		}
	}
	m.Metadata = append(m.Metadata, MetadataEntry{key, value})
}

// FreeVariables returns the values g's nodes (and the sub-graphs of their
// attributes, recursively) read that g does not define: not a graph input,
// not an initializer, not a node output. They are the outer-scope values a
// sub-graph (a Loop or If body) captures, in first-use order.
func FreeVariables(g *Graph) []string {
	defined := map[string]bool{"": true}
	for _, v := range g.Inputs {
		defined[v.Name] = true
	}
	for _, t := range g.Initializers {
		defined[t.Name] = true
	}
	seen := map[string]bool{}
	var free []string
	use := func(name string) {
		if !defined[name] && !seen[name] {
			seen[name] = true
			free = append(free, name)
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			use(in)
		}
		for _, a := range n.Attrs {
			if a.G != nil {
				for _, v := range FreeVariables(a.G) {
					use(v)
				}
			}
		}
		for _, o := range n.Outputs {
			defined[o] = true
		}
	}
	return free
}
