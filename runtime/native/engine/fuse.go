package engine

import (
	"math"
	"slices"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// The fusion pass rewrites node patterns of the inlined graph into single
// nodes of the engine's own fused operators (domain kernels.DomainNative).
// A pattern is fused only when every intermediate value has exactly one
// reader and is not a graph output, so the rewrite changes nothing anyone
// can observe but speed. Calls of the model-local functions the registry
// implements (ai.xtransformers.Attention, QKNorm, L2NormGroups) are not
// inlined in the first place (see PrepareWith).
//
// Patterns:
//   - exact GELU, as exporters write torch's F.gelu below opset 20:
//     Div(x, √2) (or Mul(x, 1/√2)) → Erf → Add(·, 1) → then either
//     Mul(x, ·) → Mul(·, ½) (xt2onnx, TorchScript) or Mul(½, ·) → Mul(x, ·)
//     (dynamo), in either operand order.

// fuser holds what the pattern matcher needs to know about the graph.
type fuser struct {
	g         *graph.Graph
	inits     map[string]*graph.Tensor
	producer  map[string]int   // value → index of the node making it
	consumers map[string]int   // value → number of reading input slots
	readersOf map[string][]int // value → the nodes reading it
	outputs   map[string]bool
	removed   []bool
}

func newFuser(g *graph.Graph, inits map[string]*graph.Tensor) *fuser {
	f := &fuser{g: g, inits: inits, producer: map[string]int{}, consumers: map[string]int{}, readersOf: map[string][]int{},
		outputs: map[string]bool{}, removed: make([]bool, len(g.Nodes))}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if o != "" {
				f.producer[o] = i
			}
		}
		for k, in := range n.Inputs {
			if in != "" {
				f.consumers[in]++
				if !slices.Contains(n.Inputs[:k], in) {
					f.readersOf[in] = append(f.readersOf[in], i)
				}
			}
		}
	}
	for _, o := range g.Outputs {
		f.outputs[o.Name] = true
	}
	return f
}

// only reports whether value v is read by exactly one node and is not a
// graph output: a value a fused node may swallow.
func (f *fuser) only(v string) bool { return f.consumers[v] == 1 && !f.outputs[v] }

// node returns the live node producing v with op type op (default domain),
// or -1.
func (f *fuser) node(v, op string) int {
	i, ok := f.producer[v]
	if !ok || f.removed[i] {
		return -1
	}
	n := f.g.Nodes[i]
	if n.OpType != op || (n.Domain != "" && n.Domain != "ai.onnx") || len(n.Outputs) != 1 {
		return -1
	}
	return i
}

// scalar returns the value of v when it is a one-element float constant
// (an initializer or a Constant node's output).
func (f *fuser) scalar(v string) (float64, bool) {
	var t *graph.Tensor
	if it, ok := f.inits[v]; ok {
		t = it
	} else if i, ok := f.producer[v]; ok {
		n := f.g.Nodes[i]
		if n.OpType == "Constant" && (n.Domain == "" || n.Domain == "ai.onnx") {
			for _, a := range n.Attrs {
				switch a.Name {
				case "value":
					t = a.T
				case "value_float":
					return float64(a.F), true
				}
			}
		}
	}
	if t == nil || t.NumElements() != 1 {
		return 0, false
	}
	switch t.DType {
	case graph.Float:
		v, err := t.Float32s()
		if err != nil || len(v) != 1 {
			return 0, false
		}
		return float64(v[0]), true
	case graph.Double:
		if len(t.Raw) != 8 {
			return 0, false
		}
		return math.Float64frombits(leUint64(t.Raw)), true
	}
	return 0, false
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Abs(b) }

// other returns the input of the binary node n that is not v, or "".
func other(n *graph.Node, v string) string {
	if len(n.Inputs) != 2 {
		return ""
	}
	switch v {
	case n.Inputs[0]:
		return n.Inputs[1]
	case n.Inputs[1]:
		return n.Inputs[0]
	}
	return ""
}

// readers returns the live nodes reading v.
func (f *fuser) readers(v string) []int {
	var out []int
	for _, i := range f.readersOf[v] {
		if !f.removed[i] {
			out = append(out, i)
		}
	}
	return out
}

// fuseGelu finds every exact-GELU pattern and replaces it with one
// DomainNative Gelu node; it returns how many it fused.
func (f *fuser) fuseGelu() int {
	count := 0
	for ei, en := range f.g.Nodes {
		if f.removed[ei] || en.OpType != "Erf" || (en.Domain != "" && en.Domain != "ai.onnx") || len(en.Inputs) != 1 {
			continue
		}
		// x / √2, or x · 1/√2
		d := en.Inputs[0]
		di := f.node(d, "Div")
		var x, scale string
		mul := false
		if di >= 0 {
			dn := f.g.Nodes[di]
			if c, ok := f.scalar(dn.Inputs[1]); ok && near(c, math.Sqrt2) {
				x, scale = dn.Inputs[0], dn.Inputs[1]
			}
		} else if di = f.node(d, "Mul"); di >= 0 {
			dn := f.g.Nodes[di]
			for k := 0; k < 2; k++ {
				if c, ok := f.scalar(dn.Inputs[k]); ok && near(c, 1/math.Sqrt2) {
					x, scale, mul = dn.Inputs[1-k], dn.Inputs[k], true
				}
			}
		}
		if x == "" || !f.only(d) || !f.only(en.Outputs[0]) {
			continue
		}
		// erf + 1
		ar := f.readers(en.Outputs[0])
		if len(ar) != 1 || f.g.Nodes[ar[0]].OpType != "Add" {
			continue
		}
		ai, an := ar[0], f.g.Nodes[ar[0]]
		if c, ok := f.scalar(other(an, en.Outputs[0])); !ok || c != 1 || !f.only(an.Outputs[0]) {
			continue
		}
		p := an.Outputs[0]
		mr := f.readers(p)
		if len(mr) != 1 || f.g.Nodes[mr[0]].OpType != "Mul" {
			continue
		}
		m1i, m1 := mr[0], f.g.Nodes[mr[0]]
		o1 := other(m1, p)
		var final int
		switch {
		case o1 == x: // x·(1+erf), then ·½
			if !f.only(m1.Outputs[0]) {
				continue
			}
			r2 := f.readers(m1.Outputs[0])
			if len(r2) != 1 || f.g.Nodes[r2[0]].OpType != "Mul" {
				continue
			}
			if c, ok := f.scalar(other(f.g.Nodes[r2[0]], m1.Outputs[0])); !ok || c != 0.5 {
				continue
			}
			final = r2[0]
		default: // ½·(1+erf), then x·
			if c, ok := f.scalar(o1); !ok || c != 0.5 || !f.only(m1.Outputs[0]) {
				continue
			}
			r2 := f.readers(m1.Outputs[0])
			if len(r2) != 1 || f.g.Nodes[r2[0]].OpType != "Mul" || other(f.g.Nodes[r2[0]], m1.Outputs[0]) != x {
				continue
			}
			final = r2[0]
		}
		fn := f.g.Nodes[final]
		// The kernel divides (or multiplies) by the model's own constant,
		// so its rounding is the unfused nodes'.
		pre := "div"
		if mul {
			pre = "mul"
		}
		f.g.Nodes[final] = &graph.Node{Name: fn.Name, OpType: "Gelu", Domain: kernels.DomainNative,
			Inputs: []string{x, scale}, Outputs: []string{fn.Outputs[0]}, Doc: "fused exact GELU",
			Attrs: []graph.Attr{graph.AString("pre", pre)}}
		for _, i := range []int{di, ei, ai, m1i} {
			f.removed[i] = true
		}
		count++
	}
	return count
}

// compact drops the removed nodes.
func (f *fuser) compact() {
	kept := f.g.Nodes[:0]
	for i, n := range f.g.Nodes {
		if !f.removed[i] {
			kept = append(kept, n)
		}
	}
	f.g.Nodes = kept
	f.removed = make([]bool, len(kept))
}

// fuse runs every pattern over g (nodes are rewritten in place; g must be
// the engine's own copy) and reports whether any fused node was made.
func fuse(g *graph.Graph, inits map[string]*graph.Tensor) bool {
	f := newFuser(g, inits)
	n := f.fuseGelu()
	f.compact()
	return n > 0
}
