package kernels

// GRU — https://onnx.ai/onnx/operators/onnx__GRU.html
//
//   Attributes: hidden_size (required), direction ("forward" (default),
//   "reverse", "bidirectional"), activations (default Sigmoid, Tanh per
//   direction; also Relu, HardSigmoid, LeakyRelu, ThresholdedRelu, ScaledTanh,
//   Affine, Elu, Softsign, Softplus), activation_alpha, activation_beta,
//   clip (float, optional), linear_before_reset (default 0), layout (opset 14+,
//   default 0: sequence first; 1: batch first).
//   Inputs: X, W [dirs, 3·hidden, input], R [dirs, 3·hidden, hidden], B
//   (optional [dirs, 6·hidden]), sequence_lens (optional int32 [batch]),
//   initial_h (optional). Outputs: Y, Y_h (both optional). Gates in z, r, h
//   order. Steps past a batch entry's sequence length leave Y zero and H
//   unchanged. Opsets 7, 14 (layout), 22 (types only). Computed in float64.

import (
	"fmt"
	"math"
	"strings"

	"gorgonia.org/tensor"
)

func registerRNN(r *Registry) {
	r.Register(spec("GRU", 7, 3, 6, 2, convertGRU))
	r.Register(spec("GRU", 14, 3, 6, 2, convertGRU))
}

type gruParams struct {
	hidden      int
	dirs        []bool // per direction: reverse?
	acts        [][2]func(float64) float64
	clip        float64 // 0: none
	linearReset bool
	batchFirst  bool
}

// rnnActivation returns a named RNN activation, consuming its alpha/beta
// parameters from the attribute lists.
func rnnActivation(name string, alphas, betas *[]float32) (func(float64) float64, error) {
	take := func(list *[]float32, def float64) float64 {
		if len(*list) == 0 {
			return def
		}
		v := float64((*list)[0])
		*list = (*list)[1:]
		return v
	}
	switch strings.ToLower(name) {
	case "sigmoid":
		return sigmoid, nil
	case "tanh":
		return math.Tanh, nil
	case "relu":
		return func(x float64) float64 { return math.Max(x, 0) }, nil
	case "softsign":
		return func(x float64) float64 { return x / (1 + math.Abs(x)) }, nil
	case "softplus":
		return softplus, nil
	case "hardsigmoid":
		a, b := take(alphas, 0.2), take(betas, 0.5)
		return func(x float64) float64 { return math.Max(0, math.Min(1, a*x+b)) }, nil
	case "leakyrelu":
		a := take(alphas, 0.01)
		return func(x float64) float64 {
			if x < 0 {
				return a * x
			}
			return x
		}, nil
	case "thresholdedrelu":
		a := take(alphas, 1)
		return func(x float64) float64 {
			if x > a {
				return x
			}
			return 0
		}, nil
	case "scaledtanh":
		a, b := take(alphas, 1), take(betas, 1)
		return func(x float64) float64 { return a * math.Tanh(b*x) }, nil
	case "affine":
		a, b := take(alphas, 1), take(betas, 0)
		return func(x float64) float64 { return a*x + b }, nil
	case "elu":
		a := take(alphas, 1)
		return func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		}, nil
	}
	return nil, fmt.Errorf("activation %q is not supported", name)
}

func convertGRU(n *Node) (Kernel, error) {
	a := attrsOf(n)
	a.Required("hidden_size")
	var p gruParams
	p.hidden = int(a.Int("hidden_size", 0))
	dir := a.String("direction", "forward")
	a.OneOf("direction", dir, "forward", "reverse", "bidirectional")
	alphas, _ := a.Floats("activation_alpha")
	betas, _ := a.Floats("activation_beta")
	names, _ := a.Strings("activations")
	if a.has("clip") {
		p.clip = float64(a.Float("clip", 0))
	}
	p.linearReset = a.Bool("linear_before_reset", false)
	if n.Opset >= 14 {
		p.batchFirst = a.Int("layout", 0) == 1
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	switch dir {
	case "forward":
		p.dirs = []bool{false}
	case "reverse":
		p.dirs = []bool{true}
	default:
		p.dirs = []bool{false, true}
	}
	if names == nil {
		for range p.dirs {
			names = append(names, "Sigmoid", "Tanh")
		}
	}
	if len(names) != 2*len(p.dirs) {
		return nil, fmt.Errorf("activations %v must name 2 functions per direction", names)
	}
	al, be := append([]float32{}, alphas...), append([]float32{}, betas...)
	for d := range p.dirs {
		var pair [2]func(float64) float64
		for i := range pair {
			f, err := rnnActivation(names[2*d+i], &al, &be)
			if err != nil {
				return nil, err
			}
			pair[i] = f
		}
		p.acts = append(p.acts, pair)
	}
	if p.hidden <= 0 {
		return nil, fmt.Errorf("hidden_size must be positive, got %d", p.hidden)
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return gru(ec, in, p)
	}), nil
}

func gru(ec *ExecContext, in []*tensor.Dense, p gruParams) ([]*tensor.Dense, error) {
	x, w, r := in[0], in[1], in[2]
	b, lens, h0 := input(in, 3), input(in, 4), input(in, 5)
	if err := sameType(x, w, r, b, h0); err != nil {
		return nil, err
	}
	if !isFloat(x.Dtype()) || x.Dims() != 3 {
		return nil, fmt.Errorf("input X must be a 3-D float tensor, got %s %v", dtName(x.Dtype()), x.Shape())
	}
	xs := x.Shape()
	seq, batch, inSize := xs[0], xs[1], xs[2]
	if p.batchFirst {
		seq, batch = xs[1], xs[0]
	}
	nd, hs := len(p.dirs), p.hidden
	if !sameShape(w.Shape(), []int{nd, 3 * hs, inSize}) || !sameShape(r.Shape(), []int{nd, 3 * hs, hs}) {
		return nil, fmt.Errorf("weights W %v and R %v must be [%d %d %d] and [%d %d %d]", w.Shape(), r.Shape(), nd, 3*hs, inSize, nd, 3*hs, hs)
	}
	if b != nil && !sameShape(b.Shape(), []int{nd, 6 * hs}) {
		return nil, fmt.Errorf("bias B %v must be [%d %d]", b.Shape(), nd, 6*hs)
	}
	xv, _ := toFloat64s(ec, x)
	wv, _ := toFloat64s(ec, w)
	rv, _ := toFloat64s(ec, r)
	bv := allocSlice[float64](ec, mulElems(nd, 6, hs), "GRU bias")
	if b != nil {
		bv, _ = toFloat64s(ec, b)
	}
	steps := allocSlice[int](ec, batch, "GRU sequence lengths")
	for i := range steps {
		steps[i] = seq
	}
	if lens != nil {
		l, err := int64sOf(lens, "sequence_lens")
		if err != nil {
			return nil, err
		}
		if len(l) != batch {
			return nil, fmt.Errorf("sequence_lens has %d entries for batch %d", len(l), batch)
		}
		for i, v := range l {
			if v < 0 || v > int64(seq) {
				return nil, fmt.Errorf("sequence length %d is outside [0, %d]", v, seq)
			}
			steps[i] = int(v)
		}
	}
	// Hidden state per direction and batch entry.
	h := allocSlice[float64](ec, mulElems(nd, batch, hs), "GRU state")
	if h0 != nil {
		hv, _ := toFloat64s(ec, h0)
		want := []int{nd, batch, hs}
		if p.batchFirst {
			want = []int{batch, nd, hs}
		}
		if !sameShape(h0.Shape(), want) {
			return nil, fmt.Errorf("initial_h %v must be %v", h0.Shape(), want)
		}
		for d := 0; d < nd; d++ {
			for bi := 0; bi < batch; bi++ {
				src := (d*batch + bi) * hs
				if p.batchFirst {
					src = (bi*nd + d) * hs
				}
				copy(h[(d*batch+bi)*hs:][:hs], hv[src:src+hs])
			}
		}
	}
	y := allocSlice[float64](ec, mulElems(seq, nd, batch, hs), "GRU output") // [seq, dirs, batch, hidden]
	xAt := func(t, bi int) []float64 {
		if p.batchFirst {
			return xv[(bi*seq+t)*inSize:][:inSize]
		}
		return xv[(t*batch+bi)*inSize:][:inSize]
	}
	clip := func(v float64) float64 {
		if p.clip > 0 {
			return math.Max(-p.clip, math.Min(p.clip, v))
		}
		return v
	}
	dot := func(m []float64, row, cols int, v []float64) float64 {
		s := 0.0
		for j, x := range m[row*cols : (row+1)*cols] {
			s += x * v[j]
		}
		return s
	}
	z, rr, hh := make([]float64, hs), make([]float64, hs), make([]float64, hs)
	rh := make([]float64, hs)
	for d, reverse := range p.dirs {
		W, R := wv[d*3*hs*inSize:], rv[d*3*hs*hs:]
		Wb, Rb := bv[d*6*hs:], bv[d*6*hs+3*hs:]
		f, g := p.acts[d][0], p.acts[d][1]
		for bi := 0; bi < batch; bi++ {
			hp := h[(d*batch+bi)*hs:][:hs]
			for s := 0; s < steps[bi]; s++ {
				t := s
				if reverse {
					t = steps[bi] - 1 - s
				}
				xt := xAt(t, bi)
				for i := 0; i < hs; i++ {
					z[i] = f(clip(dot(W, i, inSize, xt) + dot(R, i, hs, hp) + Wb[i] + Rb[i]))
					rr[i] = f(clip(dot(W, hs+i, inSize, xt) + dot(R, hs+i, hs, hp) + Wb[hs+i] + Rb[hs+i]))
				}
				for i := 0; i < hs; i++ {
					rh[i] = rr[i] * hp[i]
				}
				for i := 0; i < hs; i++ {
					var v float64
					if p.linearReset {
						v = dot(W, 2*hs+i, inSize, xt) + rr[i]*(dot(R, 2*hs+i, hs, hp)+Rb[2*hs+i]) + Wb[2*hs+i]
					} else {
						v = dot(W, 2*hs+i, inSize, xt) + dot(R, 2*hs+i, hs, rh) + Rb[2*hs+i] + Wb[2*hs+i]
					}
					hh[i] = g(clip(v))
				}
				for i := 0; i < hs; i++ {
					hp[i] = (1-z[i])*hh[i] + z[i]*hp[i]
				}
				copy(y[((t*nd+d)*batch+bi)*hs:][:hs], hp)
			}
		}
	}
	dt := x.Dtype()
	yShape, hShape := []int{seq, nd, batch, hs}, []int{nd, batch, hs}
	yt, err := fromFloat64s(ec, dt, yShape, y)
	if err != nil {
		return nil, err
	}
	ht, err := fromFloat64s(ec, dt, hShape, h)
	if err != nil {
		return nil, err
	}
	if p.batchFirst {
		yt = transpose(ec, yt, []int{2, 0, 1, 3})
		ht = transpose(ec, ht, []int{1, 0, 2})
	}
	return []*tensor.Dense{yt, ht}, nil
}
