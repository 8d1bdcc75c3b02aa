package autodiff

import (
	"fmt"
	"hash"
	"hash/fnv"
	"slices"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// gradCtx is what a gradient function sees: the forward node's inputs (by
// slot, constants included), its output, the gradient flowing into the
// output, and the slot to differentiate with respect to.
type gradCtx struct {
	st  *cStep
	in  []*tensor.Dense
	y   *tensor.Dense
	g   *tensor.Dense
	wrt int
}

// gradFunc returns the gradient with respect to input c.wrt, shaped like
// that input, as float64 values.
type gradFunc func(c *gradCtx) ([]float64, error)

// gradients holds the operators (default domain) whose Gorgonia ops have
// gradients, and gradSlots which of their inputs those are with respect
// to (nil: every input).
var (
	gradients = map[string]gradFunc{
		"Add":      gradBinary(func(a, b, y, g float64) (float64, float64) { return g, g }),
		"Sub":      gradBinary(func(a, b, y, g float64) (float64, float64) { return g, -g }),
		"Mul":      gradBinary(func(a, b, y, g float64) (float64, float64) { return g * b, g * a }),
		"Div":      gradBinary(func(a, b, y, g float64) (float64, float64) { return g / b, -g * a / (b * b) }),
		"Neg":      gradUnary(func(x, y, g float64) float64 { return -g }),
		"Identity": gradUnary(func(x, y, g float64) float64 { return g }),
		"Relu": gradUnary(func(x, y, g float64) float64 {
			if x > 0 {
				return g
			}
			return 0
		}),
		"Tanh":    gradUnary(func(x, y, g float64) float64 { return g * (1 - y*y) }),
		"Sigmoid": gradUnary(func(x, y, g float64) float64 { return g * y * (1 - y) }),
		"Exp":     gradUnary(func(x, y, g float64) float64 { return g * y }),
		"Reshape": gradUnary(func(x, y, g float64) float64 { return g }),
		"Softmax": gradSoftmax,
		"MatMul":  gradMatMul,
	}
	gradSlots = map[string][]int{"Reshape": {0}}
)

// GradientOps lists the operators of the default domain whose compiled
// Gorgonia ops have gradients (SymDiff), sorted. kernels.OpSpec.Differentiable
// should be true for exactly these.
func GradientOps() []string {
	out := make([]string, 0, len(gradients))
	for op := range gradients {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

// differentiable reports whether the op has a gradient with respect to
// input slot: the operator has one, the slot is one it differentiates, and
// the input and output are float32 or float64.
func (o *kernelOp) differentiable(slot int) bool {
	n := o.st.node
	if (n.Domain != "" && n.Domain != "ai.onnx") || gradients[n.OpType] == nil || len(o.st.outs) != 1 {
		return false
	}
	if slots, ok := gradSlots[n.OpType]; ok && !slices.Contains(slots, slot) {
		return false
	}
	v := o.p.pl.values[o.st.ins[slot]]
	isF := func(dt tensor.Dtype) bool { return dt == tensor.Float32 || dt == tensor.Float64 }
	return isF(v.dtype) && isF(o.st.outT[0])
}

// gradOp computes the gradient of a kernelOp's output with respect to one
// of its Gorgonia children. Its children are the forward op's children,
// the forward node and the gradient flowing into it.
type gradOp struct {
	fwd   *kernelOp
	child int // index among the forward op's children
	slot  int // the input slot of that child
	types []hm.Type
}

func (o *gradOp) Arity() int { return len(o.types) }

func (o *gradOp) Type() hm.Type {
	ts := append(slices.Clone(o.types), o.types[o.child])
	return hm.NewFnType(ts...)
}

func (o *gradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	v := o.fwd.p.pl.values[o.fwd.st.ins[o.slot]]
	return tensor.Shape(slices.Clone(v.shape)), nil
}

func (o *gradOp) ReturnsPtr() bool     { return false }
func (o *gradOp) CallsExtern() bool    { return false }
func (o *gradOp) OverwritesInput() int { return -1 }

func (o *gradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "onnximport.grad/%d/%d/%p", o.fwd.index, o.slot, o)
}

func (o *gradOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *gradOp) String() string { return fmt.Sprintf("∂%v/∂in%d", o.fwd, o.slot) }

func (o *gradOp) Do(vals ...gorgonia.Value) (gorgonia.Value, error) {
	pm := o.fwd.p.pl.pm
	nc := len(o.fwd.slots)
	if len(vals) != nc+2 {
		return nil, pm.NodeErr(o.fwd.st.index, fmt.Errorf("gradient: got %d values, want %d", len(vals), nc+2))
	}
	in, err := o.fwd.args(vals[:nc])
	if err != nil {
		return nil, pm.NodeErr(o.fwd.st.index, fmt.Errorf("gradient: %w", err))
	}
	y, err := fromValue(vals[nc])
	if err != nil {
		return nil, pm.NodeErr(o.fwd.st.index, fmt.Errorf("gradient: output: %w", err))
	}
	g, err := fromValue(vals[nc+1])
	if err != nil {
		return nil, pm.NodeErr(o.fwd.st.index, fmt.Errorf("gradient: incoming gradient: %w", err))
	}
	c := &gradCtx{st: o.fwd.st, in: in, y: y, g: g, wrt: o.slot}
	res, err := gradients[o.fwd.st.node.OpType](c)
	if err != nil {
		return nil, pm.NodeErr(o.fwd.st.index, fmt.Errorf("gradient of input %d: %w", o.slot, err))
	}
	x := in[o.slot]
	return toValue(gradDense(x.Dtype(), []int(x.Shape()), res)), nil
}

// gradFloats returns a float32 or float64 tensor's elements as float64.
func gradFloats(d *tensor.Dense) ([]float64, error) {
	if d.IsMaterializable() {
		m, ok := d.Materialize().(*tensor.Dense)
		if !ok {
			return nil, fmt.Errorf("cannot materialize a %v view", d.Dtype())
		}
		d = m
	}
	n := d.Shape().TotalSize()
	out := make([]float64, n)
	if n == 0 {
		return out, nil
	}
	switch d.Dtype() {
	case tensor.Float32:
		for i, v := range d.Float32s()[:n] {
			out[i] = float64(v)
		}
	case tensor.Float64:
		copy(out, d.Float64s()[:n])
	default:
		return nil, fmt.Errorf("gradients need float32 or float64 values, got %v", d.Dtype())
	}
	return out, nil
}

// gradDense builds a tensor of type dt (float32 or float64) from values.
func gradDense(dt tensor.Dtype, shape []int, v []float64) *tensor.Dense {
	d := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	if len(v) == 0 {
		return d
	}
	if dt == tensor.Float32 {
		dst := d.Float32s()
		for i, x := range v {
			dst[i] = float32(x)
		}
	} else {
		copy(d.Float64s(), v)
	}
	return d
}

// gradBroadcastIndex maps each flat index of a tensor of shape out to the
// flat index of the element of a tensor of shape in, broadcast to out the
// NumPy way, that it reads.
func gradBroadcastIndex(out, in []int) []int {
	r := len(out)
	strides := make([]int, r)
	s := 1
	for i := len(in) - 1; i >= 0; i-- {
		if in[i] != 1 {
			strides[r-len(in)+i] = s
		}
		s *= in[i]
	}
	n := tensor.Shape(out).TotalSize()
	idx := make([]int, n)
	coord := make([]int, r)
	cur := 0
	for k := range n {
		idx[k] = cur
		for d := r - 1; d >= 0; d-- {
			coord[d]++
			cur += strides[d]
			if coord[d] < out[d] {
				break
			}
			cur -= strides[d] * coord[d]
			coord[d] = 0
		}
	}
	return idx
}

// gradAll reads the forward input, output and incoming gradient.
func gradAll(c *gradCtx, slots ...int) (ins [][]float64, y, g []float64, err error) {
	for _, s := range slots {
		v, err := gradFloats(c.in[s])
		if err != nil {
			return nil, nil, nil, err
		}
		ins = append(ins, v)
	}
	if y, err = gradFloats(c.y); err != nil {
		return nil, nil, nil, err
	}
	if g, err = gradFloats(c.g); err != nil {
		return nil, nil, nil, err
	}
	if len(g) != len(y) {
		return nil, nil, nil, fmt.Errorf("incoming gradient has %d elements, the output %d", len(g), len(y))
	}
	return ins, y, g, nil
}

// gradUnary differentiates an elementwise operator of input 0 (shaped like
// its output): f returns the input gradient from x, y and the incoming
// gradient.
func gradUnary(f func(x, y, g float64) float64) gradFunc {
	return func(c *gradCtx) ([]float64, error) {
		ins, y, g, err := gradAll(c, 0)
		if err != nil {
			return nil, err
		}
		x := ins[0]
		if len(x) != len(g) {
			return nil, fmt.Errorf("input has %d elements, the output %d", len(x), len(g))
		}
		out := make([]float64, len(x))
		for i := range out {
			out[i] = f(x[i], y[i], g[i])
		}
		return out, nil
	}
}

// gradBinary differentiates a broadcasting elementwise operator of two
// inputs: f returns both partial contributions of one output element,
// which are summed over the broadcast dims of each input.
func gradBinary(f func(a, b, y, g float64) (float64, float64)) gradFunc {
	return func(c *gradCtx) ([]float64, error) {
		ins, y, g, err := gradAll(c, 0, 1)
		if err != nil {
			return nil, err
		}
		out := []int(c.y.Shape())
		ia := gradBroadcastIndex(out, []int(c.in[0].Shape()))
		ib := gradBroadcastIndex(out, []int(c.in[1].Shape()))
		a, b := ins[0], ins[1]
		res := make([]float64, len(ins[c.wrt]))
		for i := range g {
			da, db := f(a[ia[i]], b[ib[i]], y[i], g[i])
			if c.wrt == 0 {
				res[ia[i]] += da
			} else {
				res[ib[i]] += db
			}
		}
		return res, nil
	}
}

// gradSoftmax: dx = y ⊙ (g − Σ g ⊙ y), the sum over the softmax axis (from
// opset 13) or over the flattened dims from axis on (before).
func gradSoftmax(c *gradCtx) ([]float64, error) {
	_, y, g, err := gradAll(c)
	if err != nil {
		return nil, err
	}
	shape := []int(c.y.Shape())
	axis := int64(-1)
	if c.st.opset < 13 {
		axis = 1
	}
	if a, ok := c.st.node.Attr("axis"); ok {
		axis = a.I
	}
	r := len(shape)
	if axis < 0 {
		axis += int64(r)
	}
	if r == 0 || axis < 0 || axis >= int64(r) {
		return nil, fmt.Errorf("axis %d is out of range for rank %d", axis, r)
	}
	pre := tensor.Shape(shape[:axis]).TotalSize()
	n, post := shape[axis], tensor.Shape(shape[axis+1:]).TotalSize()
	if c.st.opset < 13 {
		n, post = n*post, 1
	}
	out := make([]float64, len(y))
	for p := range pre {
		for q := range post {
			base := p*n*post + q
			s := 0.0
			for j := range n {
				k := base + j*post
				s += g[k] * y[k]
			}
			for j := range n {
				k := base + j*post
				out[k] = y[k] * (g[k] - s)
			}
		}
	}
	return out, nil
}

// gradMatMul: for C = A·B (NumPy matmul: 1-D operands promoted, batch dims
// broadcast), dA = G·Bᵀ and dB = Aᵀ·G, summed over broadcast batch dims.
func gradMatMul(c *gradCtx) ([]float64, error) {
	ins, _, g, err := gradAll(c, 0, 1)
	if err != nil {
		return nil, err
	}
	sa, sb := []int(c.in[0].Shape()), []int(c.in[1].Shape())
	if len(sa) == 0 || len(sb) == 0 {
		return nil, fmt.Errorf("matmul of a scalar")
	}
	if len(sa) == 1 {
		sa = []int{1, sa[0]}
	}
	if len(sb) == 1 {
		sb = []int{sb[0], 1}
	}
	m, k, n := sa[len(sa)-2], sa[len(sa)-1], sb[len(sb)-1]
	if sb[len(sb)-2] != k {
		return nil, fmt.Errorf("inner dims differ: %v and %v", c.in[0].Shape(), c.in[1].Shape())
	}
	ba, bb := sa[:len(sa)-2], sb[:len(sb)-2]
	r := max(len(ba), len(bb))
	batch := make([]int, r)
	for i := range batch {
		da, db := 1, 1
		if j := i - (r - len(ba)); j >= 0 {
			da = ba[j]
		}
		if j := i - (r - len(bb)); j >= 0 {
			db = bb[j]
		}
		batch[i] = max(da, db)
	}
	ia, ib := gradBroadcastIndex(batch, ba), gradBroadcastIndex(batch, bb)
	if len(g) != len(ia)*m*n {
		return nil, fmt.Errorf("incoming gradient has %d elements, want %d", len(g), len(ia)*m*n)
	}
	a, b := ins[0], ins[1]
	res := make([]float64, len(ins[c.wrt]))
	for bi := range ia {
		G := g[bi*m*n : (bi+1)*m*n]
		A := a[ia[bi]*m*k : (ia[bi]+1)*m*k]
		B := b[ib[bi]*k*n : (ib[bi]+1)*k*n]
		if c.wrt == 0 {
			dA := res[ia[bi]*m*k : (ia[bi]+1)*m*k]
			for i := range m {
				for j := range k {
					s := 0.0
					for l := range n {
						s += G[i*n+l] * B[j*n+l]
					}
					dA[i*k+j] += s
				}
			}
		} else {
			dB := res[ib[bi]*k*n : (ib[bi]+1)*k*n]
			for j := range k {
				for l := range n {
					s := 0.0
					for i := range m {
						s += A[i*k+j] * G[i*n+l]
					}
					dB[j*n+l] += s
				}
			}
		}
	}
	return res, nil
}
