package kernels

import (
	"unsafe"

	"gorgonia.org/tensor"
)

// Data movement: these helpers copy elements by size without looking at
// them, so they serve every element type.

// words reinterprets raw tensor memory as elements of W.
func words[W any](raw []byte) []W {
	var z W
	size := int(unsafe.Sizeof(z))
	if len(raw) < size {
		return []W{}
	}
	return unsafe.Slice((*W)(unsafe.Pointer(&raw[0])), len(raw)/size)
}

// stridedView describes elements of a tensor by shape, per-dimension
// strides (in elements; 0 repeats) and a start offset.
type stridedView struct {
	shape []int
	str   []int
	off   int
}

// materialize copies the view of x into a new contiguous tensor.
func materialize(ec *ExecContext, x *tensor.Dense, v stridedView) *tensor.Dense {
	out := ec.alloc(x.Dtype(), v.shape)
	copyStrided(out.Header.Raw, x.Header.Raw, int(x.Dtype().Size()), v)
	return out
}

// copyStrided copies the elements of view v of src, in row-major order,
// to the contiguous dst.
func copyStrided(dst, src []byte, es int, v stridedView) {
	if numel(v.shape) == 0 {
		return
	}
	// Coalesce dimensions the view walks contiguously.
	var shape, str []int
	for i, d := range v.shape {
		if d == 1 {
			continue
		}
		if k := len(shape) - 1; k >= 0 && str[k] == v.str[i]*d {
			shape[k] *= d
			str[k] = v.str[i]
			continue
		}
		shape = append(shape, d)
		str = append(str, v.str[i])
	}
	switch es {
	case 1:
		stridedT(words[uint8](dst), words[uint8](src), shape, str, v.off)
	case 2:
		stridedT(words[uint16](dst), words[uint16](src), shape, str, v.off)
	case 4:
		stridedT(words[uint32](dst), words[uint32](src), shape, str, v.off)
	default:
		stridedT(words[uint64](dst), words[uint64](src), shape, str, v.off)
	}
}

func stridedT[W any](dst, src []W, shape, str []int, off int) {
	n := len(shape)
	if n == 0 {
		dst[0] = src[off]
		return
	}
	inner, is := shape[n-1], str[n-1]
	idx := make([]int, n-1)
	o, s := 0, off
	for {
		switch is {
		case 1:
			copy(dst[o:o+inner], src[s:s+inner])
		case 0:
			v := src[s]
			for i := 0; i < inner; i++ {
				dst[o+i] = v
			}
		default:
			for i := 0; i < inner; i++ {
				dst[o+i] = src[s+i*is]
			}
		}
		o += inner
		d := n - 2
		for ; d >= 0; d-- {
			idx[d]++
			s += str[d]
			if idx[d] < shape[d] {
				break
			}
			s -= str[d] * shape[d]
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// transpose permutes the dimensions of x: output dimension i is input
// dimension perm[i].
func transpose(ec *ExecContext, x *tensor.Dense, perm []int) *tensor.Dense {
	xs, xstr := x.Shape(), stridesOf(x.Shape())
	v := stridedView{shape: make([]int, len(perm)), str: make([]int, len(perm))}
	for i, p := range perm {
		v.shape[i], v.str[i] = xs[p], xstr[p]
	}
	return materialize(ec, x, v)
}

// concat joins tensors of one type along axis (their other dimensions
// must match; checked by the caller).
func concat(ec *ExecContext, xs []*tensor.Dense, axis int) *tensor.Dense {
	shape := shapeOf(xs[0])
	shape[axis] = 0
	for _, x := range xs {
		shape[axis] += x.Shape()[axis]
	}
	out := ec.alloc(xs[0].Dtype(), shape)
	es := int(xs[0].Dtype().Size())
	outer, inner := numel(shape[:axis]), numel(shape[axis+1:])*es
	rowOut := shape[axis] * inner
	at := 0
	for _, x := range xs {
		row := x.Shape()[axis] * inner
		src := x.Header.Raw
		for o := 0; o < outer; o++ {
			copy(out.Header.Raw[o*rowOut+at:o*rowOut+at+row], src[o*row:(o+1)*row])
		}
		at += row
	}
	return out
}
