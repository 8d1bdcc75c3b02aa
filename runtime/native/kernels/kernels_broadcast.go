package kernels

import (
	"fmt"

	"gorgonia.org/tensor"
)

// broadcastShape returns the ONNX multidirectional (numpy) broadcast of
// shapes: aligned on the right, each dimension is equal across inputs or 1.
func broadcastShape(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for i, d := range s {
			o := out[off+i]
			switch {
			case d == o || d == 1:
			case o == 1:
				out[off+i] = d
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast: dimension %d is %d in one input and %d in another", shapes, off+i-rank, o, d)
			}
		}
	}
	return out, nil
}

// bplan is an iteration plan over the output of a broadcasting operation:
// the output is walked in rows of inner elements; for each row, every
// input's offset is known and its elements advance by istr (0 or 1).
type bplan struct {
	out   []int   // output shape
	dims  []int   // outer (coalesced) dimensions
	str   [][]int // per input, the stride of each outer dimension
	inner int     // row length
	istr  []int   // per input, the stride within a row: 1, or 0 when broadcast
}

func planBroadcast(shapes ...[]int) (*bplan, error) {
	out, err := broadcastShape(shapes...)
	if err != nil {
		return nil, err
	}
	return planTo(out, shapes...), nil
}

// planTo plans the broadcast of shapes (known to broadcast) to out.
func planTo(out []int, shapes ...[]int) *bplan {
	rank := len(out)
	k := len(shapes)
	p := &bplan{out: out, str: make([][]int, k), istr: make([]int, k)}
	// Per input, the stride of every output dimension (0 when broadcast).
	full := make([][]int, k)
	for j, s := range shapes {
		full[j] = make([]int, rank)
		acc := 1
		for i := len(s) - 1; i >= 0; i-- {
			if s[i] != 1 {
				full[j][rank-len(s)+i] = acc
			}
			acc *= s[i]
		}
	}
	// Drop size-1 dimensions, then merge neighbours that every input walks
	// contiguously (or broadcasts over entirely).
	var dims []int
	strs := make([][]int, k)
	for i := 0; i < rank; i++ {
		if out[i] == 1 {
			continue
		}
		if len(dims) > 0 {
			last := len(dims) - 1
			merge := true
			for j := range shapes {
				if strs[j][last] != full[j][i]*out[i] {
					merge = false
					break
				}
			}
			if merge {
				dims[last] *= out[i]
				for j := range shapes {
					strs[j][last] = full[j][i]
				}
				continue
			}
		}
		dims = append(dims, out[i])
		for j := range shapes {
			strs[j] = append(strs[j], full[j][i])
		}
	}
	if len(dims) == 0 {
		p.inner = 1
		for j := range shapes {
			p.str[j] = nil
		}
		return p
	}
	last := len(dims) - 1
	p.inner = dims[last]
	p.dims = dims[:last]
	for j := range shapes {
		p.istr[j] = strs[j][last]
		p.str[j] = strs[j][:last]
	}
	return p
}

// each calls fn for every row of the output: o is the row's output offset
// and offs the inputs' offsets (fn must not keep offs).
func (p *bplan) each(fn func(o int, offs []int)) {
	if numel(p.out) == 0 {
		return
	}
	k := len(p.str)
	offs := make([]int, k)
	idx := make([]int, len(p.dims))
	rows := numel(p.dims)
	for r := 0; r < rows; r++ {
		fn(r*p.inner, offs)
		// Advance the odometer.
		for d := len(p.dims) - 1; d >= 0; d-- {
			idx[d]++
			for j := 0; j < k; j++ {
				offs[j] += p.str[j][d]
			}
			if idx[d] < p.dims[d] {
				break
			}
			for j := 0; j < k; j++ {
				offs[j] -= p.str[j][d] * p.dims[d]
			}
			idx[d] = 0
		}
	}
}

// runBinary applies f elementwise over the broadcast of a and b.
func runBinary[T, R any](p *bplan, a, b []T, dst []R, f func(T, T) R) {
	as, bs, n := p.istr[0], p.istr[1], p.inner
	p.each(func(o int, offs []int) {
		x, y, d := a[offs[0]:], b[offs[1]:], dst[o:o+n]
		switch {
		case as == 1 && bs == 1:
			x, y = x[:n], y[:n]
			for i := range d {
				d[i] = f(x[i], y[i])
			}
		case as == 1:
			v := y[0]
			x = x[:n]
			for i := range d {
				d[i] = f(x[i], v)
			}
		case bs == 1:
			v := x[0]
			y = y[:n]
			for i := range d {
				d[i] = f(v, y[i])
			}
		default:
			r := f(x[0], y[0])
			for i := range d {
				d[i] = r
			}
		}
	})
}

// broadcastTo copies x into a new tensor of shape out (x must broadcast to
// it). It moves elements without looking at them, so it serves every type.
func broadcastTo(ec *ExecContext, x *tensor.Dense, out []int) *tensor.Dense {
	if sameShape(x.Shape(), out) {
		return x
	}
	p := planTo(out, x.Shape())
	dst := ec.alloc(x.Dtype(), out)
	es := int(x.Dtype().Size())
	s, d := x.Header.Raw, dst.Header.Raw
	n := p.inner
	p.each(func(o int, offs []int) {
		if p.istr[0] == 1 {
			copy(d[o*es:(o+n)*es], s[offs[0]*es:(offs[0]+n)*es])
			return
		}
		e := s[offs[0]*es : (offs[0]+1)*es]
		for i := 0; i < n; i++ {
			copy(d[(o+i)*es:], e)
		}
	})
	return dst
}
