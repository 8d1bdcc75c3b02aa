package graph

import (
	"fmt"
	"sort"
	"strings"
)

// Builder appends nodes to a graph or to a function body. Names are
// deterministic: a builder has a dotted scope ("attn_layers.layers.0.1") and
// every node it emits is named scope + "." + a fixed suffix, with "_2", "_3"
// … appended only if that name is already taken. The same build therefore
// always produces byte-identical output.
//
// A graph builder stores constants as initializers; a function builder (whose
// body cannot hold initializers) stores them as Constant nodes. Constants with
// equal type, shape and data are emitted once and shared.
type Builder struct {
	s      *sink
	prefix string
}

type sink struct {
	function  bool
	dataless  bool // initializers may lack their data (see SetDataless)
	opset     int64
	nodes     []*Node
	inits     []*Tensor
	used      map[string]bool
	consts    map[string]string
	functions []*Function
	fnIndex   map[string]bool
}

// NewGraphBuilder returns a builder for a main graph that imports the given
// ONNX opset version.
func NewGraphBuilder(opset int64) *Builder {
	return &Builder{s: newSink(false, opset)}
}

// NewFunctionBuilder returns a builder for a function body that imports the
// given ONNX opset version.
func NewFunctionBuilder(opset int64) *Builder {
	return &Builder{s: newSink(true, opset)}
}

func newSink(function bool, opset int64) *sink {
	return &sink{
		function: function,
		opset:    opset,
		used:     map[string]bool{},
		consts:   map[string]string{},
		fnIndex:  map[string]bool{},
	}
}

// SetDataless lets the builder's initializers come without data (a nil
// Raw), for dry builds that only want the graph's structure and parameter
// shapes; such a graph cannot be exported.
func (b *Builder) SetDataless(on bool) { b.s.dataless = on }

// Opset returns the ONNX opset version the builder emits for.
func (b *Builder) Opset() int64 { return b.s.opset }

// InFunction reports whether the builder emits a function body.
func (b *Builder) InFunction() bool { return b.s.function }

// Scope returns a builder that emits into the same graph with name prefix
// extended by name.
func (b *Builder) Scope(name string) *Builder {
	return &Builder{s: b.s, prefix: b.join(name)}
}

// Prefix returns the builder's dotted scope.
func (b *Builder) Prefix() string { return b.prefix }

func (b *Builder) join(name string) string {
	switch {
	case b.prefix == "":
		return name
	case name == "":
		return b.prefix
	}
	return b.prefix + "." + name
}

// Reserve marks a value name (for example a graph input) as taken so that no
// node output is given the same name.
func (b *Builder) Reserve(names ...string) {
	for _, n := range names {
		b.s.used[n] = true
	}
}

// Name returns a fresh value name: the scoped suffix, made unique.
func (b *Builder) Name(suffix string) string {
	base := b.join(suffix)
	name := base
	for i := 2; b.s.used[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	b.s.used[name] = true
	return name
}

// Op emits a single-output node of the default domain and returns its output.
// The node and its output share the name scope.name.
func (b *Builder) Op(opType, name string, inputs []string, attrs ...Attr) string {
	return b.OpN(DomainONNX, opType, name, inputs, 1, attrs...)[0]
}

// OpN emits a node with n outputs of the given domain and returns the output
// names (name for a single output, name.0, name.1 … otherwise).
func (b *Builder) OpN(domain, opType, name string, inputs []string, n int, attrs ...Attr) []string {
	nodeName := b.Name(name)
	outs := make([]string, n)
	if n == 1 {
		outs[0] = nodeName
	} else {
		for i := range outs {
			outs[i] = fmt.Sprintf("%s.%d", nodeName, i)
			b.s.used[outs[i]] = true
		}
	}
	b.s.nodes = append(b.s.nodes, &Node{
		Name:    nodeName,
		OpType:  opType,
		Domain:  domain,
		Inputs:  append([]string(nil), inputs...),
		Outputs: outs,
		Attrs:   attrs,
	})
	return outs
}

// Call emits a call of the model-local function f, registers f (and through
// it the functions its body calls, which must have been registered on the
// function's own builder with UseFunction) with the model, and returns the
// call's outputs.
func (b *Builder) Call(f *Function, name string, inputs []string, attrs ...Attr) []string {
	b.UseFunction(f)
	return b.OpN(f.Domain, f.Name, name, inputs, len(f.Outputs), attrs...)
}

// UseFunction records that the model needs f.
func (b *Builder) UseFunction(f *Function) {
	key := f.Domain + "::" + f.Name
	if b.s.fnIndex[key] {
		return
	}
	b.s.fnIndex[key] = true
	for _, d := range f.deps {
		b.UseFunction(d)
	}
	b.s.functions = append(b.s.functions, f)
}

// Functions returns the functions used so far, in first-use order.
func (b *Builder) Functions() []*Function { return b.s.functions }

// Initializer adds a named constant (for example a weight). In a function
// body it becomes a Constant node. It returns the value name, which is
// t.Name; the name must not be in use.
func (b *Builder) Initializer(t *Tensor) (string, error) {
	if b.s.used[t.Name] {
		return "", fmt.Errorf("graph: value name %q is already in use", t.Name)
	}
	if !b.s.dataless || t.Raw != nil {
		if err := t.Check(); err != nil {
			return "", err
		}
	}
	b.s.used[t.Name] = true
	if b.s.function {
		b.s.nodes = append(b.s.nodes, &Node{Name: t.Name, OpType: "Constant", Outputs: []string{t.Name},
			Attrs: []Attr{ATensor("value", &Tensor{DType: t.DType, Dims: t.Dims, Raw: t.Raw, Source: t.Source})}})
		return t.Name, nil
	}
	b.s.inits = append(b.s.inits, t)
	return t.Name, nil
}

// Const adds a constant shared by content: the first call with given dtype,
// dims and data names it (name, outside any scope, made unique), later equal
// calls return that name.
func (b *Builder) Const(name string, t *Tensor) string {
	key := fmt.Sprintf("%d|%v|%x", t.DType, t.Dims, t.Raw)
	if n, ok := b.s.consts[key]; ok {
		return n
	}
	root := &Builder{s: b.s}
	t = &Tensor{DType: t.DType, Dims: t.Dims, Raw: t.Raw, Name: root.Name(name)}
	if b.s.function {
		b.s.nodes = append(b.s.nodes, &Node{Name: t.Name, OpType: "Constant", Outputs: []string{t.Name},
			Attrs: []Attr{ATensor("value", &Tensor{DType: t.DType, Dims: t.Dims, Raw: t.Raw})}})
	} else {
		b.s.inits = append(b.s.inits, t)
	}
	b.s.consts[key] = t.Name
	return t.Name
}

// ConstFloat adds a float32 constant of the given dims (nil for a scalar).
func (b *Builder) ConstFloat(name string, dims []int64, v ...float32) string {
	return b.Const(name, FloatTensor("", dims, v))
}

// ConstInt64 adds an int64 constant of the given dims (nil for a scalar).
func (b *Builder) ConstInt64(name string, dims []int64, v ...int64) string {
	return b.Const(name, Int64Tensor("", dims, v))
}

// Ints1D adds a 1-D int64 constant, the usual form of shape and axes inputs.
func (b *Builder) Ints1D(name string, v ...int64) string {
	return b.ConstInt64(name, []int64{int64(len(v))}, v...)
}

// Nodes returns the nodes emitted so far.
func (b *Builder) Nodes() []*Node { return b.s.nodes }

// Initializers returns the initializers emitted so far.
func (b *Builder) Initializers() []*Tensor { return b.s.inits }

// FunctionSpec describes a function to build with BuildFunction.
type FunctionSpec struct {
	Domain     string
	Name       string
	Doc        string
	Inputs     []string
	Outputs    []string
	Attributes []string
}

// BuildFunction builds a model-local function at the given ONNX opset. body
// receives a function builder and the input names, and returns the values to
// expose as the function's outputs; they are renamed to spec.Outputs with
// Identity nodes where they differ.
func BuildFunction(opset int64, spec FunctionSpec, body func(b *Builder, in []string) ([]string, error)) (*Function, error) {
	fb := NewFunctionBuilder(opset)
	fb.Reserve(spec.Inputs...)
	fb.Reserve(spec.Outputs...)
	outs, err := body(fb, spec.Inputs)
	if err != nil {
		return nil, fmt.Errorf("graph: building function %s.%s: %w", spec.Domain, spec.Name, err)
	}
	if len(outs) != len(spec.Outputs) {
		return nil, fmt.Errorf("graph: function %s.%s: body returned %d outputs, spec has %d", spec.Domain, spec.Name, len(outs), len(spec.Outputs))
	}
	for i, o := range outs {
		if o != spec.Outputs[i] {
			fb.s.nodes = append(fb.s.nodes, &Node{Name: spec.Outputs[i], OpType: "Identity", Inputs: []string{o}, Outputs: []string{spec.Outputs[i]}})
		}
	}
	opsets := []OpsetImport{{Domain: DomainONNX, Version: opset}}
	if len(fb.s.functions) > 0 {
		doms := map[string]bool{}
		for _, f := range fb.s.functions {
			doms[f.Domain] = true
		}
		names := make([]string, 0, len(doms))
		for d := range doms {
			names = append(names, d)
		}
		sort.Strings(names)
		for _, d := range names {
			opsets = append(opsets, OpsetImport{Domain: d, Version: 1})
		}
	}
	return &Function{
		Domain:     spec.Domain,
		Name:       spec.Name,
		Doc:        strings.TrimSpace(spec.Doc),
		Inputs:     append([]string(nil), spec.Inputs...),
		Outputs:    append([]string(nil), spec.Outputs...),
		Attributes: append([]string(nil), spec.Attributes...),
		Nodes:      fb.s.nodes,
		Opsets:     opsets,
		deps:       fb.s.functions,
	}, nil
}
