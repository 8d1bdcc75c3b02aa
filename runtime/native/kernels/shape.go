package kernels

// Symbolic shape inference. Every operator may have a shape rule (OpSpec.
// Shape, set next to its kernel with Registry.SetShape) that gives its
// outputs' element types and shapes from its inputs' — with dimensions kept
// symbolic ("batch", "past_seq+seq") where the model names them — and
// follows the values of small integer tensors (what Shape, Gather, Concat
// and Reshape compute from shapes), so that a Reshape whose target is
// assembled from another tensor's shape still gets a shape. The engine runs
// the rules once per model (engine.InferTypes) to report every value's type
// and to refuse, at open, graphs whose known dimensions cannot fit. An
// operator without a rule gives outputs of unknown type; inference goes on
// around it.

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// Dim is one dimension (or one element of a small integer tensor) as
// inference knows it: a size, a symbolic expression, or unknown.
type Dim struct {
	// N is the value when Set (a size, or any integer for the elements of
	// a shape tensor, such as Reshape's -1).
	N   int64
	Set bool
	// Expr is the symbolic expression when not Set ("" means unknown): a
	// name the model gives a dimension, or a sum of such terms and a
	// constant ("past_seq+seq", "seq-1").
	Expr string
}

// Known returns the dim of value n.
func Known(n int64) Dim { return Dim{N: n, Set: true} }

// Symbol returns the symbolic dim called name.
func Symbol(name string) Dim { return Dim{Expr: name} }

// UnknownDim is a dimension nothing is known about.
var UnknownDim = Dim{}

// IsKnown reports whether d has a known value.
func (d Dim) IsKnown() bool { return d.Set }

// String renders the value, the expression, or "?".
func (d Dim) String() string {
	switch {
	case d.Set:
		return strconv.FormatInt(d.N, 10)
	case d.Expr != "":
		return d.Expr
	}
	return "?"
}

// Type is what inference knows of a value.
type Type struct {
	// DType is the element type; graph.Undefined when unknown.
	DType graph.DType
	// Shape is nil when the rank is unknown.
	Shape []Dim
	// Value holds the elements of a small (≤ 64 elements) integer tensor,
	// symbolically, when they are known: a shape and the arithmetic on it.
	Value []Dim
	// Const is the value of a constant (an initializer or a folded value).
	Const *tensor.Dense
}

// Ranked reports whether the rank is known.
func (t Type) Ranked() bool { return t.Shape != nil }

// String renders the type as "float32[batch seq 512]", with "[...]" for an
// unknown rank.
func (t Type) String() string {
	dt := "?"
	if t.DType != graph.Undefined {
		dt = t.DType.String()
	}
	if t.Shape == nil {
		return dt + "[...]"
	}
	parts := make([]string, len(t.Shape))
	for i, d := range t.Shape {
		parts[i] = d.String()
	}
	return dt + "[" + strings.Join(parts, " ") + "]"
}

// ShapeFunc infers a node's output types from its inputs' (nil entries for
// omitted inputs are zero Types). It returns one Type per output; an error
// means the inputs certainly cannot fit (known dimensions disagree).
type ShapeFunc func(n *Node, in []Type) ([]Type, error)

// SetShape sets the shape rule of every registered version of domain::op.
func (r *Registry) SetShape(domain, op string, fn ShapeFunc) {
	list := r.ops[domain+"::"+op]
	for i := range list {
		list[i].Shape = fn
	}
}

// maxValue bounds the integer tensors whose elements inference follows.
const maxValue = 64

// ConstType returns the Type of a constant tensor, values included for a
// small integer one.
func ConstType(d *tensor.Dense) Type {
	t := Type{Const: d, Shape: []Dim{}}
	if gt, err := GraphDType(d.Dtype()); err == nil {
		t.DType = gt
	}
	for _, s := range d.Shape() {
		t.Shape = append(t.Shape, Known(int64(s)))
	}
	if isInt(d.Dtype()) && numel(d.Shape()) <= maxValue {
		if v, err := int64sOf(d, "value"); err == nil {
			for _, x := range v {
				t.Value = append(t.Value, Known(x))
			}
		}
	}
	return t
}

// knownInts returns t's values when every one is known.
func (t Type) knownInts() ([]int64, bool) {
	if t.Value == nil {
		return nil, false
	}
	out := make([]int64, len(t.Value))
	for i, d := range t.Value {
		if !d.IsKnown() {
			return nil, false
		}
		out[i] = d.N
	}
	return out, true
}

// sameDim reports whether two dims are certainly equal.
func sameDim(a, b Dim) bool {
	if a.IsKnown() || b.IsKnown() {
		return a.N == b.N
	}
	return a.Expr != "" && a.Expr == b.Expr
}

// conflict reports whether two dims are certainly different.
func conflict(a, b Dim) bool { return a.IsKnown() && b.IsKnown() && a.N != b.N }

// Symbolic arithmetic on dims: sums of named terms plus a constant, kept
// in a canonical order so that equal expressions compare equal.

type linear struct {
	terms map[string]int64 // name → coefficient
	c     int64
}

func parseLinear(d Dim) (linear, bool) {
	l := linear{terms: map[string]int64{}}
	if d.IsKnown() {
		l.c = d.N
		return l, true
	}
	if d.Expr == "" {
		return l, false
	}
	s := d.Expr
	sign := int64(1)
	for len(s) > 0 {
		i := strings.IndexAny(s[1:], "+-") + 1
		if i == 0 {
			i = len(s)
		}
		tok := s[:i]
		s = s[i:]
		sign = 1
		if tok[0] == '+' || tok[0] == '-' {
			if tok[0] == '-' {
				sign = -1
			}
			tok = tok[1:]
		}
		if n, err := strconv.ParseInt(tok, 10, 64); err == nil {
			l.c += sign * n
			continue
		}
		if tok == "" || strings.ContainsAny(tok, "*/()") {
			return l, false
		}
		l.terms[tok] += sign
	}
	return l, true
}

func (l linear) dim() Dim {
	names := make([]string, 0, len(l.terms))
	for n, c := range l.terms {
		if c != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return Known(l.c)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		c := l.terms[n]
		switch {
		case c == 1 && i > 0:
			b.WriteString("+")
		case c == -1:
			b.WriteString("-")
		case c > 1 && i > 0:
			fmt.Fprintf(&b, "+%d*", c)
		case c > 1:
			fmt.Fprintf(&b, "%d*", c)
		case c < -1:
			fmt.Fprintf(&b, "%d*", c)
		}
		b.WriteString(n)
	}
	if l.c > 0 {
		fmt.Fprintf(&b, "+%d", l.c)
	} else if l.c < 0 {
		fmt.Fprintf(&b, "%d", l.c)
	}
	return Symbol(b.String())
}

// addDims returns a+b, symbolically when needed.
func addDims(a, b Dim, sign int64) Dim {
	la, ok1 := parseLinear(a)
	lb, ok2 := parseLinear(b)
	if !ok1 || !ok2 {
		return UnknownDim
	}
	for n, c := range lb.terms {
		la.terms[n] += sign * c
	}
	la.c += sign * lb.c
	return la.dim()
}

// mulDims returns a·b when either is known (and the other linear).
func mulDims(a, b Dim) Dim {
	if a.IsKnown() && b.IsKnown() {
		return Known(a.N * b.N)
	}
	if b.IsKnown() {
		a, b = b, a
	}
	if !a.IsKnown() {
		return UnknownDim
	}
	lb, ok := parseLinear(b)
	if !ok {
		return UnknownDim
	}
	for n := range lb.terms {
		lb.terms[n] *= a.N
	}
	lb.c *= a.N
	return lb.dim()
}

// divDims returns a/b for known dims (floor, as integer Div truncates
// non-negative sizes), unknown otherwise.
func divDims(a, b Dim) Dim {
	if a.IsKnown() && b.IsKnown() && b.N != 0 {
		return Known(a.N / b.N)
	}
	if b.IsKnown() && b.N == 1 {
		return a
	}
	return UnknownDim
}

// product returns the product of dims (symbolic when one factor is).
func product(ds []Dim) Dim {
	p := Known(1)
	for _, d := range ds {
		p = mulDims(p, d)
	}
	return p
}

// broadcastDims is the multidirectional broadcast of shapes; an error
// reports two known sizes that cannot broadcast.
func broadcastDims(shapes ...[]Dim) ([]Dim, error) {
	rank := 0
	for _, s := range shapes {
		if s == nil {
			return nil, nil
		}
		rank = max(rank, len(s))
	}
	out := make([]Dim, rank)
	for i := range out {
		out[i] = Known(1)
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := &out[off+i]
			switch {
			case d.IsKnown() && d.N == 1:
			case o.IsKnown() && o.N == 1:
				*o = d
			case sameDim(*o, d):
			case conflict(*o, d):
				return nil, fmt.Errorf("shapes %v do not broadcast: dimension %d is %s and %s", shapeStrings(shapes), off+i-rank, o, d)
			case o.IsKnown():
				// a known size and a symbol: the symbol must equal it
			case d.IsKnown():
				*o = d
			case o.Expr == "":
				*o = d // unknown and symbolic: keep the symbol
			case d.Expr == "":
			default:
				*o = UnknownDim // two different symbols
			}
		}
	}
	return out, nil
}

func shapeStrings(shapes [][]Dim) []string {
	out := make([]string, len(shapes))
	for i, s := range shapes {
		out[i] = Type{Shape: s}.String()[1:]
	}
	return out
}

// elementwise value arithmetic for the integer tensors that carry shapes.
func valueArith(op string, a, b Type) []Dim {
	if a.Value == nil || b.Value == nil {
		return nil
	}
	n := max(len(a.Value), len(b.Value))
	if (len(a.Value) != n && len(a.Value) != 1) || (len(b.Value) != n && len(b.Value) != 1) {
		return nil
	}
	out := make([]Dim, n)
	for i := range out {
		x, y := a.Value[min(i, len(a.Value)-1)], b.Value[min(i, len(b.Value)-1)]
		switch op {
		case "Add":
			out[i] = addDims(x, y, 1)
		case "Sub":
			out[i] = addDims(x, y, -1)
		case "Mul":
			out[i] = mulDims(x, y)
		case "Div":
			out[i] = divDims(x, y)
		default:
			return nil
		}
	}
	return out
}

// Generic rules.

// sameAsInput gives every output input 0's type (elementwise unary ops,
// normalizations).
func sameAsInput(n *Node, in []Type) ([]Type, error) {
	out := make([]Type, len(n.Outputs))
	for i := range out {
		out[i] = Type{DType: in[0].DType, Shape: in[0].Shape}
	}
	return out, nil
}

// broadcastRule is the rule of binary and variadic broadcasting ops; with
// boolOut the result is bool (comparisons, logic).
func broadcastRule(boolOut bool) ShapeFunc {
	return func(n *Node, in []Type) ([]Type, error) {
		var shapes [][]Dim
		dt := graph.Undefined
		for _, t := range in {
			shapes = append(shapes, t.Shape)
			if dt == graph.Undefined {
				dt = t.DType
			}
		}
		s, err := broadcastDims(shapes...)
		if err != nil {
			return nil, err
		}
		if boolOut {
			dt = graph.Bool
		}
		t := Type{DType: dt, Shape: s}
		if len(in) == 2 && !boolOut {
			t.Value = valueArith(n.OpType, in[0], in[1])
		}
		return []Type{t}, nil
	}
}

// normAxisDim maps a possibly negative axis into [0, rank).
func normAxisDim(axis int64, rank int) (int, error) {
	return normAxis(axis, rank)
}

// intsInput returns the values of input i as known int64s: its constant,
// or the values inference followed.
func intsInput(in []Type, i int) ([]int64, bool) {
	if i >= len(in) {
		return nil, false
	}
	if v, ok := in[i].knownInts(); ok {
		return v, true
	}
	if in[i].Const != nil && isInt(in[i].Const.Dtype()) {
		v, err := int64sOf(in[i].Const, "input")
		return v, err == nil
	}
	return nil, false
}

// attrInts reads an ints attribute without the strictness of attrsOf
// (unknown attributes are the kernel's business).
func attrIntsOf(n *Node, name string) ([]int64, bool) {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.Ints, true
		}
	}
	return nil, false
}

func attrIntOf(n *Node, name string, def int64) int64 {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.I
		}
	}
	return def
}

func attrStringOf(n *Node, name, def string) string {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.S
		}
	}
	return def
}

func cloneDims(d []Dim) []Dim { return slices.Clone(d) }
