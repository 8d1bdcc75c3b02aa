package autodiff

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"

	"gorgonia.org/tensor"
)

// A tiny registry for the compiler's tests, independent of the real
// operators: float32/float64 (and int64 where shape arithmetic needs it)
// kernels of a few lines each.

// ctVals returns a float or int64 tensor's elements as float64.
func ctVals(d *tensor.Dense) []float64 {
	switch d.Dtype() {
	case tensor.Int64:
		n := d.Shape().TotalSize()
		out := make([]float64, n)
		if n > 0 {
			for i, v := range d.Int64s()[:n] {
				out[i] = float64(v)
			}
		}
		return out
	}
	v, err := gradFloats(d)
	if err != nil {
		panic(err)
	}
	return v
}

// ctNew builds a float or int64 tensor from float64 values.
func ctNew(dt tensor.Dtype, shape []int, v []float64) *tensor.Dense {
	if dt == tensor.Int64 {
		d := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		if len(v) > 0 {
			dst := d.Int64s()
			for i, x := range v {
				dst[i] = int64(x)
			}
		}
		return d
	}
	return gradDense(dt, shape, v)
}

func ctBroadcast(a, b []int) ([]int, error) {
	r := max(len(a), len(b))
	out := make([]int, r)
	for i := range out {
		da, db := 1, 1
		if j := i - (r - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (r - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a, b)
		}
	}
	return out, nil
}

func ctBinary(f func(a, b float64) float64) kernels.ConvertFunc {
	return func(n *kernels.Node) (kernels.Kernel, error) {
		return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			a, b := in[0], in[1]
			if a.Dtype() != b.Dtype() {
				return nil, fmt.Errorf("dtypes %v and %v differ", a.Dtype(), b.Dtype())
			}
			shape, err := ctBroadcast(a.Shape(), b.Shape())
			if err != nil {
				return nil, err
			}
			ia, ib := gradBroadcastIndex(shape, a.Shape()), gradBroadcastIndex(shape, b.Shape())
			av, bv := ctVals(a), ctVals(b)
			out := make([]float64, len(ia))
			for i := range out {
				out[i] = f(av[ia[i]], bv[ib[i]])
			}
			return []*tensor.Dense{ctNew(a.Dtype(), shape, out)}, nil
		}, nil
	}
}

func ctUnary(f func(x float64) float64) kernels.ConvertFunc {
	return func(n *kernels.Node) (kernels.Kernel, error) {
		return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
			v := ctVals(in[0])
			for i := range v {
				v[i] = f(v[i])
			}
			return []*tensor.Dense{ctNew(in[0].Dtype(), in[0].Shape(), v)}, nil
		}, nil
	}
}

func ctMatMul(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		sa, sb := []int(in[0].Shape()), []int(in[1].Shape())
		if len(sa) < 2 || len(sb) < 2 {
			return nil, errors.New("test MatMul wants rank ≥ 2")
		}
		m, k, nn := sa[len(sa)-2], sa[len(sa)-1], sb[len(sb)-1]
		if sb[len(sb)-2] != k {
			return nil, fmt.Errorf("inner dims of %v and %v differ", sa, sb)
		}
		batch, err := ctBroadcast(sa[:len(sa)-2], sb[:len(sb)-2])
		if err != nil {
			return nil, err
		}
		ia, ib := gradBroadcastIndex(batch, sa[:len(sa)-2]), gradBroadcastIndex(batch, sb[:len(sb)-2])
		a, b := ctVals(in[0]), ctVals(in[1])
		out := make([]float64, len(ia)*m*nn)
		for bi := range ia {
			for i := range m {
				for j := range nn {
					s := 0.0
					for l := range k {
						s += a[ia[bi]*m*k+i*k+l] * b[ib[bi]*k*nn+l*nn+j]
					}
					out[bi*m*nn+i*nn+j] = s
				}
			}
		}
		return []*tensor.Dense{ctNew(in[0].Dtype(), append(batch, m, nn), out)}, nil
	}, nil
}

func ctSoftmax(n *kernels.Node) (kernels.Kernel, error) {
	axis := int64(-1)
	if a, ok := n.Attr("axis"); ok {
		axis = a.I
	}
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		shape := []int(in[0].Shape())
		ax := int(axis)
		if ax < 0 {
			ax += len(shape)
		}
		x := ctVals(in[0])
		pre, nn, post := tensor.Shape(shape[:ax]).TotalSize(), shape[ax], tensor.Shape(shape[ax+1:]).TotalSize()
		out := make([]float64, len(x))
		for p := range pre {
			for q := range post {
				base := p*nn*post + q
				mx := math.Inf(-1)
				for j := range nn {
					mx = max(mx, x[base+j*post])
				}
				s := 0.0
				for j := range nn {
					out[base+j*post] = math.Exp(x[base+j*post] - mx)
					s += out[base+j*post]
				}
				for j := range nn {
					out[base+j*post] /= s
				}
			}
		}
		return []*tensor.Dense{ctNew(in[0].Dtype(), shape, out)}, nil
	}, nil
}

func ctShape(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		s := in[0].Shape()
		v := make([]float64, len(s))
		for i, d := range s {
			v[i] = float64(d)
		}
		return []*tensor.Dense{ctNew(tensor.Int64, []int{len(s)}, v)}, nil
	}, nil
}

// ctGather gathers along axis 0 with int64 indices.
func ctGather(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		data, idx := in[0], ctVals(in[1])
		shape := []int(data.Shape())
		row := tensor.Shape(shape[1:]).TotalSize()
		v := ctVals(data)
		var out []float64
		for _, i := range idx {
			j := int(i)
			if j < 0 {
				j += shape[0]
			}
			if j < 0 || j >= shape[0] {
				return nil, fmt.Errorf("index %v out of range", i)
			}
			out = append(out, v[j*row:(j+1)*row]...)
		}
		oshape := append(slices.Clone([]int(in[1].Shape())), shape[1:]...)
		return []*tensor.Dense{ctNew(data.Dtype(), oshape, out)}, nil
	}, nil
}

// ctConcat concatenates 1-D tensors.
func ctConcat(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		var out []float64
		for _, d := range in {
			out = append(out, ctVals(d)...)
		}
		return []*tensor.Dense{ctNew(in[0].Dtype(), []int{len(out)}, out)}, nil
	}, nil
}

func ctReshape(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		want := ctVals(in[1])
		shape := make([]int, len(want))
		infer := -1
		total := in[0].Shape().TotalSize()
		known := 1
		for i, w := range want {
			switch {
			case w == 0:
				shape[i] = in[0].Shape()[i]
			case w == -1:
				infer = i
				continue
			default:
				shape[i] = int(w)
			}
			known *= shape[i]
		}
		if infer >= 0 {
			shape[infer] = total / known
		}
		if tensor.Shape(shape).TotalSize() != total {
			return nil, fmt.Errorf("cannot reshape %v to %v", in[0].Shape(), want)
		}
		return []*tensor.Dense{ctNew(in[0].Dtype(), shape, ctVals(in[0]))}, nil
	}, nil
}

func ctUnsqueeze(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		shape := slices.Clone([]int(in[0].Shape()))
		for _, a := range ctVals(in[1]) {
			shape = slices.Insert(shape, int(a), 1)
		}
		return []*tensor.Dense{ctNew(in[0].Dtype(), shape, ctVals(in[0]))}, nil
	}, nil
}

func ctConstant(n *kernels.Node) (kernels.Kernel, error) {
	a, ok := n.Attr("value")
	if !ok {
		return nil, errors.New("Constant needs a value attribute")
	}
	d, err := kernels.DenseFromTensor(a.T)
	if err != nil {
		return nil, err
	}
	return func(*kernels.ExecContext, []*tensor.Dense) ([]*tensor.Dense, error) { return []*tensor.Dense{d}, nil }, nil
}

// ctSplit splits along axis 0 into as many equal parts as the node has
// outputs.
func ctSplit(n *kernels.Node) (kernels.Kernel, error) {
	parts := len(n.Outputs)
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		shape := []int(in[0].Shape())
		if shape[0]%parts != 0 {
			return nil, fmt.Errorf("dim 0 (%d) does not split in %d", shape[0], parts)
		}
		v := ctVals(in[0])
		size := len(v) / parts
		var outs []*tensor.Dense
		for p := range parts {
			s := append([]int{shape[0] / parts}, shape[1:]...)
			outs = append(outs, ctNew(in[0].Dtype(), s, slices.Clone(v[p*size:(p+1)*size])))
		}
		return outs, nil
	}, nil
}

// ctNonZeroCount returns the nonzero elements of a 1-D tensor: its output
// shape depends on the input's values.
func ctNonZeroCount(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		var out []float64
		for _, v := range ctVals(in[0]) {
			if v != 0 {
				out = append(out, v)
			}
		}
		return []*tensor.Dense{ctNew(in[0].Dtype(), []int{len(out)}, out)}, nil
	}, nil
}

// ctFailNegative fails when its input holds a negative value (never on the
// zeros compiling runs it on).
func ctFailNegative(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		for _, v := range ctVals(in[0]) {
			if v < 0 {
				return nil, errors.New("negative input")
			}
		}
		return []*tensor.Dense{in[0]}, nil
	}, nil
}

// ctPanicNegative panics where ctFailNegative fails.
func ctPanicNegative(n *kernels.Node) (kernels.Kernel, error) {
	return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		for _, v := range ctVals(in[0]) {
			if v < 0 {
				panic("negative input")
			}
		}
		return []*tensor.Dense{in[0]}, nil
	}, nil
}

// testRegistry returns the compiler tests' registry.
func testRegistry() *kernels.Registry {
	r := kernels.NewRegistry()
	reg := func(op string, minIn, maxIn, outs int, c kernels.ConvertFunc) {
		r.Register(kernels.OpSpec{OpType: op, Since: 1, MinInputs: minIn, MaxInputs: maxIn, Outputs: outs, Convert: c,
			Differentiable: gradients[op] != nil})
	}
	reg("Add", 2, 2, 1, ctBinary(func(a, b float64) float64 { return a + b }))
	reg("Sub", 2, 2, 1, ctBinary(func(a, b float64) float64 { return a - b }))
	reg("Mul", 2, 2, 1, ctBinary(func(a, b float64) float64 { return a * b }))
	reg("Div", 2, 2, 1, ctBinary(func(a, b float64) float64 { return a / b }))
	reg("Relu", 1, 1, 1, ctUnary(func(x float64) float64 { return max(x, 0) }))
	reg("Tanh", 1, 1, 1, ctUnary(math.Tanh))
	reg("Sigmoid", 1, 1, 1, ctUnary(func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }))
	reg("Exp", 1, 1, 1, ctUnary(math.Exp))
	reg("Neg", 1, 1, 1, ctUnary(func(x float64) float64 { return -x }))
	reg("Identity", 1, 1, 1, func(*kernels.Node) (kernels.Kernel, error) {
		return func(ec *kernels.ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) { return in[:1], nil }, nil
	})
	reg("MatMul", 2, 2, 1, ctMatMul)
	reg("Softmax", 1, 1, 1, ctSoftmax)
	reg("Shape", 1, 1, 1, ctShape)
	reg("Gather", 2, 2, 1, ctGather)
	reg("Concat", 1, -1, 1, ctConcat)
	reg("Reshape", 2, 2, 1, ctReshape)
	reg("Unsqueeze", 2, 2, 1, ctUnsqueeze)
	reg("Constant", 0, 0, 1, ctConstant)
	reg("Split", 1, 2, 8, ctSplit)
	reg("NonZeroCount", 1, 1, 1, ctNonZeroCount)
	reg("FailNegative", 1, 1, 1, ctFailNegative)
	reg("PanicNegative", 1, 1, 1, ctPanicNegative)
	r.Register(kernels.OpSpec{OpType: "Erf", Since: 99, MinInputs: 1, MaxInputs: 1, Outputs: 1, Convert: ctUnary(math.Erf)})
	return r
}
