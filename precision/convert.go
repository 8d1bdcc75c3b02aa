// Package precision changes the numeric precision of a built model: half
// precision (float16, bfloat16) and weight-only quantization (int8, int4)
// of a float32 graph from package builder. Every pass works on streamed
// models too (graph.Tensor.Source): tensors are converted while they are
// written, so the weights never sit in memory together.
//
// float16 converts weights and compute: every float32 tensor, constant and
// Cast target becomes float16, except LayerNormalization and Softmax,
// which run in float32 between Casts (their gains and biases stay
// float32), as accuracy needs. bfloat16 converts the weights only, each
// followed by a Cast to float32: ONNX Runtime's CPU provider has no
// bfloat16 kernels for Add, MatMul, Softmax or most other operators, so a
// bfloat16-compute graph would run natively only. In both, the graph's
// float inputs and outputs stay float32 (Cast at the boundary), so every
// tool that feeds or reads a model works unchanged.
package precision

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/xt2onnx/xt2onnx/graph"
)

// MetaDType is the metadata key naming the precision of a converted
// model's weights ("float16", "bfloat16", "int8", "int4").
const MetaDType = "xt2onnx.dtype"

// Convert rewrites m, a float32 model, in place to compute in dt
// (graph.Float16) or to store its weights in dt (graph.BFloat16); see the
// package documentation. graph.Double computes everything in float64
// (no float32 islands; inputs and outputs stay float32): a reference for
// measuring the others, run natively. graph.Float leaves m as it is.
func Convert(m *graph.Model, dt graph.DType) error {
	if m == nil || m.Graph == nil {
		return fmt.Errorf("precision: model has no graph")
	}
	switch dt {
	case graph.Float:
		return nil
	case graph.Float16:
		toCompute(m, graph.Float16)
	case graph.Double:
		toCompute(m, graph.Double)
	case graph.BFloat16:
		weightsTo(m, graph.BFloat16)
	default:
		return fmt.Errorf("precision: cannot convert a model to %s; want float32, float16, bfloat16 or float64", dt)
	}
	m.SetMetadata(MetaDType, dt.String())
	return nil
}

// weightsTo stores every float32 initializer in dt, followed by a Cast
// back to float32 under the initializer's name.
func weightsTo(m *graph.Model, dt graph.DType) {
	g := m.Graph
	var casts []*graph.Node
	for _, t := range g.Initializers {
		if t.DType != graph.Float {
			continue
		}
		name := t.Name
		convertTensor(t, dt)
		t.Name = name + "/" + dt.String()
		casts = append(casts, castNode(name+".cast", t.Name, name, graph.Float))
	}
	g.Nodes = append(casts, g.Nodes...)
}

func castNode(name, in, out string, to graph.DType) *graph.Node {
	return &graph.Node{Name: name, OpType: "Cast", Inputs: []string{in}, Outputs: []string{out},
		Attrs: []graph.Attr{graph.AInt("to", int64(to))}}
}

// toCompute converts the whole graph to compute in dt.
func toCompute(m *graph.Model, dt graph.DType) {
	g := m.Graph
	var position map[*graph.Node]bool
	if dt == graph.Float16 {
		position = keepPositionMath(g)
	}
	// Initializers read only as LayerNormalization's scale or bias stay
	// float32: the normalization runs in float32.
	lnOnly := map[string]bool{}
	other := map[string]bool{}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			if n.OpType == "LayerNormalization" && n.Domain == "" && i > 0 && dt == graph.Float16 {
				lnOnly[in] = true
			} else {
				other[in] = true
			}
		}
	}
	keep32 := map[string]bool{}
	for _, t := range g.Initializers {
		if t.DType == graph.Float && lnOnly[t.Name] && !other[t.Name] {
			keep32[t.Name] = true
		}
	}
	// Constants read only by position arithmetic stay float32 too.
	posOnly := map[string]bool{}
	notPos := map[string]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if position[n] {
				posOnly[in] = true
			} else {
				notPos[in] = true
			}
		}
	}
	for _, t := range g.Initializers {
		if t.DType == graph.Float && posOnly[t.Name] && !notPos[t.Name] {
			keep32[t.Name] = true
		}
	}
	for _, t := range g.Initializers {
		if t.DType == graph.Float && !keep32[t.Name] {
			convertTensor(t, dt)
		}
	}
	rename := map[string]string{}
	var nodes []*graph.Node
	for _, in := range g.Inputs {
		if in.DType == graph.Float {
			h := in.Name + "/" + dt.String()
			nodes = append(nodes, castNode(in.Name+".to_"+dt.String(), in.Name, h, dt))
			rename[in.Name] = h
		}
	}
	var tail []*graph.Node
	for _, out := range g.Outputs {
		if out.DType == graph.Float {
			h := out.Name + "/" + dt.String()
			rename[out.Name] = h
			tail = append(tail, castNode(out.Name+".to_float32", h, out.Name, graph.Float))
		}
	}
	isKept := func(name string) bool { return keep32[name] }
	var conv []*graph.Node
	for _, n := range g.Nodes {
		if position[n] {
			c := *n
			c.Inputs = renamed(n.Inputs, rename)
			c.Outputs = renamed(n.Outputs, rename)
			conv = append(conv, &c)
			continue
		}
		conv = append(conv, convertNodes([]*graph.Node{n}, dt, rename, isKept)...)
	}
	nodes = append(nodes, conv...)
	g.Nodes = append(nodes, tail...)
	for i := range g.ValueInfo {
		if g.ValueInfo[i].DType == graph.Float {
			g.ValueInfo[i].DType = dt
		}
	}
	for _, f := range m.Functions {
		f.Nodes = convertNodes(f.Nodes, dt, nil, func(string) bool { return false })
	}
}

func renamed(names []string, rename map[string]string) []string {
	out := make([]string, len(names))
	for i, s := range names {
		if r, ok := rename[s]; ok {
			s = r
		}
		out[i] = s
	}
	return out
}

// keepPositionMath finds the nodes computed from positions, integers and
// constants alone, no activation or weight (a Cast of integers to float32
// and what follows from it: rotary and sinusoidal angles, ALiBi
// distances, T5 buckets, masks), which must stay float32: float16 holds
// integers exactly only up to 2048 and would move positions, angles and
// bucket boundaries. It returns those nodes, rewrites g so that their float results enter the
// rest of the graph through a Cast to float16, and gives shared small
// constants a float32 copy for them.
func keepPositionMath(g *graph.Graph) map[*graph.Node]bool {
	// Weights are the float initializers read by MatMul, Gemm, Conv or as
	// the table of a Gather (embeddings); the graph's float inputs and
	// everything computed from either are activations. The other float
	// initializers are constants (angles' inverse frequencies, slopes,
	// fills, scales).
	act := map[string]bool{}
	for _, in := range g.Inputs {
		if in.DType == graph.Float {
			act[in.Name] = true
		}
	}
	for _, n := range g.Nodes {
		for i, in := range n.Inputs {
			switch {
			case n.Domain != "":
			case n.OpType == "MatMul", n.OpType == "Gemm", n.OpType == "Conv":
				act[in] = true
			case n.OpType == "Gather" && i == 0:
				act[in] = true
			}
		}
	}
	constFloat := map[string]*graph.Tensor{}
	for _, t := range g.Initializers {
		if t.DType == graph.Float && !act[t.Name] {
			constFloat[t.Name] = t
		}
	}
	pos := map[*graph.Node]bool{}
	derived := map[string]bool{} // outputs of position nodes
	isFloat := map[string]bool{} // float values among them and the small constants
	for name := range constFloat {
		isFloat[name] = true
	}
	for _, n := range g.Nodes {
		var anyAct, anyFloat bool
		for i, in := range n.Inputs {
			anyAct = anyAct || act[in]
			if isFloat[in] && !(n.OpType == "Where" && i == 0) {
				anyFloat = true
			}
		}
		if anyAct || n.Domain != "" {
			for _, o := range n.Outputs {
				if !(n.Domain == "" && (n.OpType == "Shape" || n.OpType == "Size")) {
					act[o] = true
				}
			}
			continue
		}
		// Computed from positions, integers and constants only.
		pos[n] = true
		floatOut := anyFloat
		switch n.OpType {
		case "Cast":
			floatOut = attrInt(n, "to") == int64(graph.Float)
		case "Constant":
			floatOut = false
			for _, a := range n.Attrs {
				if a.Name == "value_float" || a.Name == "value_floats" || (a.Name == "value" && a.T != nil && a.T.DType == graph.Float) {
					floatOut = true
				}
			}
		case "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "Not", "And", "Or", "Xor", "IsNaN", "IsInf", "Shape", "Size", "ArgMax", "ArgMin":
			floatOut = false
		}
		for _, o := range n.Outputs {
			derived[o], isFloat[o] = true, floatOut
		}
	}
	// Float position values entering other nodes are cast to float16 there.
	var out []*graph.Node
	cast := map[string]string{}
	for _, n := range g.Nodes {
		if !pos[n] {
			for i, in := range n.Inputs {
				if !derived[in] || !isFloat[in] {
					continue
				}
				h, ok := cast[in]
				if !ok {
					h = in + "/float16"
					cast[in] = h
					out = append(out, castNode(in+".to_float16", in, h, graph.Float16))
				}
				c := *n
				c.Inputs = append([]string(nil), n.Inputs...)
				c.Inputs[i] = h
				n = &c
			}
		}
		out = append(out, n)
	}
	g.Nodes = out // position nodes are the same pointers, still marked
	// A small constant read by both kinds gets a float32 copy for the
	// position nodes.
	readers := map[string][2]bool{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			r := readers[in]
			if pos[n] {
				r[0] = true
			} else {
				r[1] = true
			}
			readers[in] = r
		}
	}
	inits := g.Initializers
	for _, t := range inits {
		name := t.Name
		if constFloat[name] == nil {
			continue
		}
		if r := readers[name]; r[0] && r[1] {
			cp := *t
			cp.Name = name + "/float32"
			g.Initializers = append(g.Initializers, &cp)
			for _, n := range g.Nodes {
				if pos[n] {
					for i, in := range n.Inputs {
						if in == name {
							n.Inputs[i] = cp.Name
						}
					}
				}
			}
		}
	}
	return pos
}

func attrInt(n *graph.Node, name string) int64 {
	for _, a := range n.Attrs {
		if a.Name == name {
			return a.I
		}
	}
	return 0
}

// convertNodes rewrites nodes for float16 compute: renamed values
// followed, float constants and Cast targets converted, Softmax and
// LayerNormalization wrapped in Casts to float32 and back.
func convertNodes(nodes []*graph.Node, dt graph.DType, rename map[string]string, kept32 func(string) bool) []*graph.Node {
	var out []*graph.Node
	ren := func(s string) string {
		if r, ok := rename[s]; ok {
			return r
		}
		return s
	}
	for _, n := range nodes {
		c := *n
		c.Inputs = make([]string, len(n.Inputs))
		for i, in := range n.Inputs {
			c.Inputs[i] = ren(in)
		}
		c.Outputs = make([]string, len(n.Outputs))
		for i, o := range n.Outputs {
			c.Outputs[i] = ren(o)
		}
		c.Attrs = append([]graph.Attr(nil), n.Attrs...)
		if c.Domain != "" && c.Domain != "ai.onnx" {
			out = append(out, &c)
			continue
		}
		switch c.OpType {
		case "Constant":
			out = append(out, convertConstant(&c, dt)...)
			continue
		case "ConstantOfShape":
			for i, a := range c.Attrs {
				if a.Name == "value" && a.T != nil && a.T.DType == graph.Float {
					t := *a.T
					convertTensor(&t, dt)
					c.Attrs[i].T = &t
				}
			}
		case "Cast":
			for i, a := range c.Attrs {
				if a.Name == "to" && a.I == int64(graph.Float) {
					c.Attrs[i].I = int64(dt)
				}
			}
		case "Softmax", "LayerNormalization":
			if dt != graph.Float16 {
				break
			}
			ins := make([]string, len(c.Inputs))
			for i, in := range c.Inputs {
				if in == "" || (c.OpType == "LayerNormalization" && i > 0 && kept32(in)) {
					ins[i] = in
					continue
				}
				ins[i] = in + "/float32." + c.Name
				out = append(out, castNode(c.Name+".in"+fmt.Sprint(i)+".to_float32", in, ins[i], graph.Float))
			}
			y := c.Outputs[0]
			c.Inputs = ins
			c.Outputs = append([]string{y + "/float32"}, c.Outputs[1:]...)
			out = append(out, &c, castNode(c.Name+".to_"+dt.String(), y+"/float32", y, dt))
			continue
		}
		out = append(out, &c)
	}
	return out
}

// convertConstant converts a Constant node's float value; a value given by
// a reference to a float attribute (inside a function) is cast after.
func convertConstant(c *graph.Node, dt graph.DType) []*graph.Node {
	for i, a := range c.Attrs {
		switch {
		case a.Ref != "" && (a.Name == "value_float" || a.Name == "value_floats"):
			y := c.Outputs[0]
			c.Outputs = []string{y + "/float32"}
			return []*graph.Node{c, castNode(c.Name+".to_"+dt.String(), y+"/float32", y, dt)}
		case a.Name == "value" && a.T != nil && a.T.DType == graph.Float:
			t := *a.T
			convertTensor(&t, dt)
			c.Attrs[i].T = &t
		case a.Name == "value_float":
			t := graph.FloatTensor("", nil, []float32{a.F})
			convertTensor(t, dt)
			c.Attrs[i] = graph.ATensor("value", t)
		case a.Name == "value_floats":
			t := graph.FloatTensor("", []int64{int64(len(a.Floats))}, a.Floats)
			convertTensor(t, dt)
			c.Attrs[i] = graph.ATensor("value", t)
		}
	}
	return []*graph.Node{c}
}

// convertTensor changes a float32 tensor's element type to dt, converting
// its data now (Raw) or as it is written (Source).
func convertTensor(t *graph.Tensor, dt graph.DType) {
	t.DType = dt
	if t.Raw != nil || t.Source == nil {
		t.Raw = convertBytes(t.Raw, dt)
		return
	}
	t.Source = &convertSource{inner: t.Source, dt: dt}
}

// convertBytes converts little-endian float32 data to dt.
func convertBytes(raw []byte, dt graph.DType) []byte {
	if raw == nil {
		return nil
	}
	n := len(raw) / 4
	out := make([]byte, 0, n*dt.Size())
	for i := range n {
		out = appendAs(out, math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])), dt)
	}
	return out
}

// appendAs appends f as a little-endian dt.
func appendAs(b []byte, f float32, dt graph.DType) []byte {
	switch dt {
	case graph.BFloat16:
		return binary.LittleEndian.AppendUint16(b, BFloat16Bits(f))
	case graph.Double:
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(float64(f)))
	}
	return binary.LittleEndian.AppendUint16(b, Float16Bits(f))
}

// convertSource converts a float32 source's bytes as they are written.
type convertSource struct {
	inner graph.TensorSource
	dt    graph.DType
}

// WriteData implements graph.TensorSource.
func (s *convertSource) WriteData(w io.Writer) error {
	cw := &convertWriter{w: w, dt: s.dt}
	if err := s.inner.WriteData(cw); err != nil {
		return err
	}
	if cw.n != 0 {
		return fmt.Errorf("precision: source wrote %d bytes past the last whole float32", cw.n)
	}
	return nil
}

// convertWriter turns a stream of little-endian float32 into dt.
type convertWriter struct {
	w       io.Writer
	dt      graph.DType
	partial [4]byte
	n       int
	buf     []byte
}

func (c *convertWriter) Write(p []byte) (int, error) {
	total := len(p)
	c.buf = c.buf[:0]
	for c.n > 0 && len(p) > 0 {
		c.partial[c.n] = p[0]
		c.n++
		p = p[1:]
		if c.n == 4 {
			c.buf = appendAs(c.buf, math.Float32frombits(binary.LittleEndian.Uint32(c.partial[:])), c.dt)
			c.n = 0
		}
	}
	for len(p) >= 4 {
		c.buf = appendAs(c.buf, math.Float32frombits(binary.LittleEndian.Uint32(p)), c.dt)
		p = p[4:]
		if len(c.buf) >= 1<<16 {
			if _, err := c.w.Write(c.buf); err != nil {
				return 0, err
			}
			c.buf = c.buf[:0]
		}
	}
	c.n = copy(c.partial[:], p)
	if len(c.buf) > 0 {
		if _, err := c.w.Write(c.buf); err != nil {
			return 0, err
		}
	}
	return total, nil
}

// Float16Bits rounds f to the nearest IEEE 754 half (ties to even).
// Finite values beyond the half range saturate to ±65504 (so -FLT_MAX, the
// mask fill, becomes float16's lowest value, as PyTorch's finfo.min is);
// infinities and NaN are kept.
func Float16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	a := math.Abs(float64(f))
	switch {
	case math.IsNaN(float64(f)):
		return sign | 0x7e00
	case math.IsInf(float64(f), 0):
		return sign | 0x7c00
	case a >= 65504:
		return sign | 0x7bff
	case a < 1.0/(1<<14): // subnormal: units of 2^-24
		return sign | uint16(math.RoundToEven(a*(1<<24)))
	}
	frac, exp := math.Frexp(a) // a = frac * 2^exp, frac in [0.5, 1)
	m := math.RoundToEven(frac * 2048)
	e := exp - 1
	if m == 2048 {
		m = 1024
		e++
	}
	if e > 15 {
		return sign | 0x7bff
	}
	return sign | uint16(e+15)<<10 | (uint16(m) - 1024)
}

// BFloat16Bits rounds f to the nearest bfloat16 (ties to even); NaN stays
// NaN.
func BFloat16Bits(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
