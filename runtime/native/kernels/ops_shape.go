package kernels

// Shape and layout operators, constants and Range.
//
// Shape — https://onnx.ai/onnx/operators/onnx__Shape.html
//   Opset 1; 15 adds attributes start (default 0), end (default rank), which
//   may be negative and are clamped. Output int64 1-D.
// Size — https://onnx.ai/onnx/operators/onnx__Size.html — int64 scalar. Opsets 1, 13.
// Reshape — https://onnx.ai/onnx/operators/onnx__Reshape.html
//   Inputs data, shape (int64). A 0 copies the input dimension, one -1 is
//   inferred. Opsets 5, 13; 14 adds attribute allowzero (default 0; 1: a 0
//   is a real zero).
// Squeeze, Unsqueeze — https://onnx.ai/onnx/operators/onnx__Squeeze.html (…__Unsqueeze)
//   Opsets 1 and 11 (attribute axes; negative from 11), 13 (axes is an int64
//   input, optional for Squeeze). Squeeze without axes drops every size-1 dim.
// Flatten — https://onnx.ai/onnx/operators/onnx__Flatten.html
//   Attribute axis (default 1; negative from 11). Opsets 1, 9, 11, 13.
// Transpose — https://onnx.ai/onnx/operators/onnx__Transpose.html
//   Attribute perm (default reversed). Opsets 1, 13.
// Concat — https://onnx.ai/onnx/operators/onnx__Concat.html
//   Attribute axis (required; negative from 11). 1 to many inputs. Opsets 4, 11, 13.
// Split — https://onnx.ai/onnx/operators/onnx__Split.html
//   Attribute axis (default 0). Opsets 2 and 11 (attribute split), 13 (split
//   is an optional int64 input), 18 (attribute num_outputs: ceil-sized parts,
//   the last one smaller). Without sizes: equal parts, one per output.
// Slice — https://onnx.ai/onnx/operators/onnx__Slice.html
//   Opset 1: attributes starts, ends, axes. Opsets 10, 11, 13: inputs data,
//   starts, ends, axes (optional), steps (optional, nonzero). Out-of-range
//   bounds are clamped as ONNX specifies for positive and negative steps.
// Expand — https://onnx.ai/onnx/operators/onnx__Expand.html
//   Inputs input, shape (int64); bidirectional broadcast. Opsets 8, 13.
// Tile — https://onnx.ai/onnx/operators/onnx__Tile.html
//   Inputs input, repeats (int64 1-D of length rank). Opsets 6, 13.
// Pad — https://onnx.ai/onnx/operators/onnx__Pad.html
//   Opset 2: attributes pads, mode, value. Opsets 11, 13: inputs data, pads
//   (int64 [begin…, end…], negative crops), constant_value (optional); 18:
//   input axes (optional); 19: mode "wrap". Modes constant (default), reflect,
//   edge, wrap.
// Identity — https://onnx.ai/onnx/operators/onnx__Identity.html — tensors
//   only (optional and sequence values are not supported). Opsets 1, 13, 14, 16.
// Constant — https://onnx.ai/onnx/operators/onnx__Constant.html
//   Exactly one of value (tensor), value_float, value_floats, value_int,
//   value_ints. Opsets 1, 9, 11, 12, 13. Gaps: value_string, value_strings,
//   sparse_value.
// ConstantOfShape — https://onnx.ai/onnx/operators/onnx__ConstantOfShape.html
//   Attribute value (one-element tensor, default float32 0). Input shape
//   (int64 1-D, may be empty: a scalar). Opsets 9, 20, 21.
// Range — https://onnx.ai/onnx/operators/onnx__Range.html
//   Inputs start, limit, delta (scalars of one type); n = max(ceil((limit -
//   start) / delta), 0) elements start + i·delta. Opset 11.
// Trilu — https://onnx.ai/onnx/operators/onnx__Trilu.html
//   Attribute upper (default 1). Inputs input (rank ≥ 2), k (optional int64
//   scalar). Keeps j - i ≥ k (upper) or j - i ≤ k (lower) in the last two
//   dims. Opset 14.

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	onnximport "github.com/xt2onnx/xt2onnx/import"
)

// variadic is the output bound of operators with any number of outputs.
const variadic = math.MaxInt32

func registerShape(r *Registry) {
	r.Register(spec("Shape", 1, 1, 1, 1, convertShape))
	r.Register(spec("Shape", 15, 1, 1, 1, convertShape))
	r.Register(spec("Size", 1, 1, 1, 1, kernelOf(func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error) {
		return scalar(int64(numel(in[0].Shape()))), nil
	})))
	r.Register(spec("Reshape", 5, 2, 2, 1, convertReshape))
	r.Register(spec("Reshape", 14, 2, 2, 1, convertReshape))
	r.Register(spec("Squeeze", 1, 1, 1, 1, convertSqueeze))
	r.Register(spec("Squeeze", 13, 1, 2, 1, convertSqueeze))
	r.Register(spec("Unsqueeze", 1, 1, 1, 1, convertUnsqueeze))
	r.Register(spec("Unsqueeze", 13, 2, 2, 1, convertUnsqueeze))
	r.Register(spec("Flatten", 1, 1, 1, 1, convertFlatten))
	r.Register(spec("Transpose", 1, 1, 1, 1, convertTranspose))
	r.Register(spec("Concat", 4, 1, -1, 1, convertConcat))
	r.Register(spec("Split", 2, 1, 1, variadic, convertSplit))
	r.Register(spec("Split", 13, 1, 2, variadic, convertSplit))
	r.Register(spec("Split", 18, 1, 2, variadic, convertSplit))
	r.Register(spec("Slice", 1, 1, 1, 1, convertSlice))
	r.Register(spec("Slice", 10, 3, 5, 1, convertSlice))
	r.Register(spec("Expand", 8, 2, 2, 1, kernelOf(func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error) {
		return expand(ec, in[0], in[1])
	})))
	r.Register(spec("Tile", 6, 2, 2, 1, kernelOf(func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error) {
		return tile(ec, in[0], in[1])
	})))
	r.Register(spec("Pad", 2, 1, 1, 1, convertPad))
	r.Register(spec("Pad", 11, 2, 3, 1, convertPad))
	r.Register(spec("Pad", 18, 2, 4, 1, convertPad))
	r.Register(spec("Pad", 19, 2, 4, 1, convertPad))
	r.Register(spec("Identity", 1, 1, 1, 1, kernelOf(func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error) {
		return in[0], nil // kernels never write their inputs: sharing is safe
	})))
	r.Register(spec("Constant", 1, 0, 0, 1, convertConstant))
	r.Register(spec("ConstantOfShape", 9, 1, 1, 1, convertConstantOfShape))
	r.Register(spec("Range", 11, 3, 3, 1, kernelOf(func(ec *ExecContext, in []*tensor.Dense) (*tensor.Dense, error) {
		return rangeOp(ec, in[0], in[1], in[2])
	})))
	r.Register(spec("Trilu", 14, 1, 2, 1, convertTrilu))
	r.SetShape("", "Shape", shapeShape)
	r.SetShape("", "Size", shapeSize)
	r.SetShape("", "Reshape", shapeReshape)
	r.SetShape("", "Squeeze", shapeSqueeze)
	r.SetShape("", "Unsqueeze", shapeUnsqueeze)
	r.SetShape("", "Flatten", shapeFlatten)
	r.SetShape("", "Transpose", shapeTranspose)
	r.SetShape("", "Concat", shapeConcat)
	r.SetShape("", "Split", shapeSplit)
	r.SetShape("", "Slice", shapeSlice)
	r.SetShape("", "Expand", shapeExpand)
	r.SetShape("", "Identity", func(n *Node, in []Type) ([]Type, error) { return []Type{in[0]}, nil })
	r.SetShape("", "Trilu", sameAsInput)
	r.SetShape("", "ConstantOfShape", shapeConstantOfShape)
	r.SetShape("", "Range", shapeRange)
	r.SetShape("", "Tile", shapeTile)
}

func convertShape(n *Node) (Kernel, error) {
	a := attrsOf(n)
	var start int64
	var end *int64
	if n.Opset >= 15 {
		start = a.Int("start", 0)
		if a.has("end") {
			e := a.Int("end", 0)
			end = &e
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		sh := in[0].Shape()
		r := int64(len(sh))
		clampDim := func(v int64) int64 {
			if v < 0 {
				v += r
			}
			return min(max(v, 0), r)
		}
		s, e := clampDim(start), r
		if end != nil {
			e = clampDim(*end)
		}
		out := []int64{}
		for i := s; i < e; i++ {
			out = append(out, int64(sh[i]))
		}
		return []*tensor.Dense{fromSlice([]int{len(out)}, out)}, nil
	}, nil
}

// maxElems bounds the element count of a shape that comes from data (a
// Reshape, Expand, Tile or ConstantOfShape shape, a Range count), so that
// sizes computed from it cannot overflow. What may actually be allocated
// is bounded by the tensor budget (ExecContext), far below this.
const maxElems = 1 << 50

// checkElems reports a shape with more than maxElems elements.
func checkElems(shape []int) error {
	n := 1
	for _, d := range shape {
		if d != 0 && n > maxElems/d {
			return fmt.Errorf("shape %v has more than %d elements", shape, maxElems)
		}
		n *= d
	}
	return nil
}

// toInts converts int64 dimensions to int, rejecting negative ones.
func toInts(v []int64, what string) ([]int, error) {
	out := make([]int, len(v))
	for i, d := range v {
		if d < 0 || d > maxDim {
			return nil, fmt.Errorf("%s %v has an invalid entry %d", what, v, d)
		}
		out[i] = int(d)
	}
	return out, nil
}

func convertReshape(n *Node) (Kernel, error) {
	a := attrsOf(n)
	allowZero := false
	if n.Opset >= 14 {
		allowZero = a.Bool("allowzero", false)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		spec, err := int64sOf(in[1], "shape")
		if err != nil {
			return nil, err
		}
		shape, err := reshapeTarget(x.Shape(), spec, allowZero)
		if err != nil {
			return nil, err
		}
		return []*tensor.Dense{reshaped(x, shape)}, nil
	}, nil
}

// reshapeTarget resolves a Reshape shape (with 0 and -1 entries).
func reshapeTarget(in []int, spec []int64, allowZero bool) ([]int, error) {
	out := make([]int, len(spec))
	infer := -1
	known := 1
	for i, d := range spec {
		switch {
		case d == -1:
			if infer >= 0 {
				return nil, fmt.Errorf("shape %v has more than one -1", spec)
			}
			infer = i
			continue
		case d == 0 && !allowZero:
			if i >= len(in) {
				return nil, fmt.Errorf("shape %v copies dimension %d (0), but the input %v has rank %d", spec, i, in, len(in))
			}
			out[i] = in[i]
		case d < 0:
			return nil, fmt.Errorf("shape %v has a negative entry %d", spec, d)
		default:
			out[i] = int(d)
		}
		known *= out[i]
	}
	total := numel(in)
	if infer >= 0 {
		if known == 0 || total%known != 0 {
			return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v", in, total, spec)
		}
		out[infer] = total / known
	} else if known != total {
		return nil, fmt.Errorf("cannot reshape %v (%d elements) to %v (%d elements)", in, total, spec, known)
	}
	return out, nil
}

// axesFrom reads axes from an attribute (before opset `since`) or from
// input idx (from then on); ok is false when none are given.
func axesFrom(n *Node, a *attrReader, since int64) func(in []*tensor.Dense, idx int) ([]int64, bool, error) {
	if n.Opset < since {
		axes, ok := a.Ints("axes")
		return func([]*tensor.Dense, int) ([]int64, bool, error) { return axes, ok, nil }
	}
	return func(in []*tensor.Dense, idx int) ([]int64, bool, error) {
		t := input(in, idx)
		if t == nil {
			return nil, false, nil
		}
		v, err := int64sOf(t, "axes")
		return v, true, err
	}
}

func convertSqueeze(n *Node) (Kernel, error) {
	a := attrsOf(n)
	axesOf := axesFrom(n, a, 13)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		axes, ok, err := axesOf(in, 1)
		if err != nil {
			return nil, err
		}
		sh := x.Shape()
		drop := make([]bool, len(sh))
		if ok && len(axes) > 0 {
			ax, err := normAxes(axes, len(sh))
			if err != nil {
				return nil, err
			}
			for _, d := range ax {
				if sh[d] != 1 {
					return nil, fmt.Errorf("cannot squeeze axis %d of shape %v: its size is %d, not 1", d, sh, sh[d])
				}
				drop[d] = true
			}
		} else {
			for i, d := range sh {
				drop[i] = d == 1
			}
		}
		out := []int{}
		for i, d := range sh {
			if !drop[i] {
				out = append(out, d)
			}
		}
		return []*tensor.Dense{reshaped(x, out)}, nil
	}, nil
}

func convertUnsqueeze(n *Node) (Kernel, error) {
	a := attrsOf(n)
	axesOf := axesFrom(n, a, 13)
	if n.Opset < 13 {
		a.Required("axes")
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		axes, _, err := axesOf(in, 1)
		if err != nil {
			return nil, err
		}
		sh := x.Shape()
		rank := len(sh) + len(axes)
		ax, err := normAxes(axes, rank)
		if err != nil {
			return nil, err
		}
		ins := make([]bool, rank)
		for _, d := range ax {
			ins[d] = true
		}
		out := make([]int, rank)
		j := 0
		for i := range out {
			if ins[i] {
				out[i] = 1
			} else {
				out[i] = sh[j]
				j++
			}
		}
		return []*tensor.Dense{reshaped(x, out)}, nil
	}, nil
}

func convertFlatten(n *Node) (Kernel, error) {
	a := attrsOf(n)
	axis := a.Int("axis", 1)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		r := int64(x.Dims())
		ax := axis
		if ax < 0 {
			ax += r
		}
		if ax < 0 || ax > r {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", axis, r)
		}
		sh := x.Shape()
		return []*tensor.Dense{reshaped(x, []int{numel(sh[:ax]), numel(sh[ax:])})}, nil
	}, nil
}

func convertTranspose(n *Node) (Kernel, error) {
	a := attrsOf(n)
	perm, hasPerm := a.Ints("perm")
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		r := x.Dims()
		p := make([]int, r)
		if hasPerm {
			if len(perm) != r {
				return nil, fmt.Errorf("perm %v does not have rank %d entries (input shape %v)", perm, r, x.Shape())
			}
			ax, err := normAxes(perm, r)
			if err != nil {
				return nil, fmt.Errorf("perm: %w", err)
			}
			p = ax
		} else {
			for i := range p {
				p[i] = r - 1 - i
			}
		}
		return []*tensor.Dense{transpose(ec, x, p)}, nil
	}, nil
}

func convertConcat(n *Node) (Kernel, error) {
	a := attrsOf(n)
	a.Required("axis")
	axis := a.Int("axis", 0)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		for _, x := range in {
			if x == nil {
				return nil, fmt.Errorf("inputs cannot be omitted")
			}
		}
		if err := sameType(in...); err != nil {
			return nil, err
		}
		r := in[0].Dims()
		ax, err := normAxis(axis, r)
		if err != nil {
			return nil, err
		}
		for i, x := range in {
			xs := x.Shape()
			ok := len(xs) == r
			for d := 0; ok && d < r; d++ {
				ok = d == ax || xs[d] == in[0].Shape()[d]
			}
			if !ok {
				return nil, fmt.Errorf("input %d of shape %v does not match input 0 of shape %v outside axis %d", i, xs, in[0].Shape(), ax)
			}
		}
		return []*tensor.Dense{concat(ec, in, ax)}, nil
	}, nil
}

func convertSplit(n *Node) (Kernel, error) {
	a := attrsOf(n)
	axis := a.Int("axis", 0)
	var attrSplit []int64
	if n.Opset < 13 {
		attrSplit, _ = a.Ints("split")
	}
	numOutputs := int64(0)
	if n.Opset >= 18 {
		numOutputs = a.Int("num_outputs", 0)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	outs := len(n.Outputs)
	if numOutputs != 0 && numOutputs != int64(outs) {
		return nil, fmt.Errorf("num_outputs is %d but the node has %d outputs", numOutputs, outs)
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		ax, err := normAxis(axis, x.Dims())
		if err != nil {
			return nil, err
		}
		dim := x.Shape()[ax]
		sizes := attrSplit
		if t := input(in, 1); t != nil {
			if sizes, err = int64sOf(t, "split"); err != nil {
				return nil, err
			}
		}
		if sizes == nil {
			sizes = make([]int64, outs)
			if numOutputs > 0 {
				chunk := (dim + outs - 1) / outs
				for i := range sizes {
					sizes[i] = int64(min(chunk, max(dim-i*chunk, 0)))
				}
			} else {
				if dim%outs != 0 {
					return nil, fmt.Errorf("cannot split dimension %d of size %d into %d equal parts", ax, dim, outs)
				}
				for i := range sizes {
					sizes[i] = int64(dim / outs)
				}
			}
		}
		if len(sizes) != outs {
			return nil, fmt.Errorf("split %v has %d entries for %d outputs", sizes, len(sizes), outs)
		}
		total := int64(0)
		for _, s := range sizes {
			if s < 0 {
				return nil, fmt.Errorf("split %v has a negative size", sizes)
			}
			total += s
		}
		if total != int64(dim) {
			return nil, fmt.Errorf("split %v sums to %d, but dimension %d has size %d", sizes, total, ax, dim)
		}
		res := make([]*tensor.Dense, outs)
		xs, xstr := shapeOf(x), stridesOf(x.Shape())
		start := 0
		for i, s := range sizes {
			sh := append([]int{}, xs...)
			sh[ax] = int(s)
			res[i] = materialize(ec, x, stridedView{shape: sh, str: xstr, off: start * xstr[ax]})
			start += int(s)
		}
		return res, nil
	}, nil
}

func convertSlice(n *Node) (Kernel, error) {
	a := attrsOf(n)
	var aStarts, aEnds, aAxes []int64
	hasAxes := false
	if n.Opset < 10 {
		a.Required("starts")
		a.Required("ends")
		aStarts, _ = a.Ints("starts")
		aEnds, _ = a.Ints("ends")
		aAxes, hasAxes = a.Ints("axes")
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		starts, ends, axes, steps := aStarts, aEnds, aAxes, []int64(nil)
		axesGiven := hasAxes
		if n.Opset >= 10 {
			var err error
			if starts, err = int64sOf(in[1], "starts"); err != nil {
				return nil, err
			}
			if ends, err = int64sOf(in[2], "ends"); err != nil {
				return nil, err
			}
			if t := input(in, 3); t != nil {
				if axes, err = int64sOf(t, "axes"); err != nil {
					return nil, err
				}
				axesGiven = true
			}
			if t := input(in, 4); t != nil {
				if steps, err = int64sOf(t, "steps"); err != nil {
					return nil, err
				}
			}
		}
		r := x.Dims()
		if len(ends) != len(starts) || (axesGiven && len(axes) != len(starts)) || (steps != nil && len(steps) != len(starts)) {
			return nil, fmt.Errorf("starts %v, ends %v, axes %v and steps %v differ in length", starts, ends, axes, steps)
		}
		if !axesGiven {
			axes = make([]int64, len(starts))
			for i := range axes {
				axes[i] = int64(i)
			}
		}
		ax, err := normAxes(axes, r)
		if err != nil {
			return nil, err
		}
		xs, xstr := shapeOf(x), stridesOf(x.Shape())
		v := stridedView{shape: xs, str: append([]int{}, xstr...)}
		for i, d := range ax {
			step := int64(1)
			if steps != nil {
				step = steps[i]
			}
			if step == 0 {
				return nil, fmt.Errorf("steps %v has a zero entry", steps)
			}
			start, length := sliceRange(starts[i], ends[i], step, int64(xs[d]))
			v.shape[d] = int(length)
			v.str[d] = xstr[d] * int(step)
			if length > 0 {
				v.off += int(start) * xstr[d]
			}
		}
		return []*tensor.Dense{materialize(ec, x, v)}, nil
	}, nil
}

// sliceRange clamps a slice of a dimension of size dim as ONNX specifies
// and returns the first index and the number of elements.
func sliceRange(start, end, step, dim int64) (int64, int64) {
	if start < 0 {
		start += dim
	}
	if end < 0 {
		end += dim
	}
	if step > 0 {
		start = min(max(start, 0), dim)
		end = min(max(end, 0), dim)
		if end <= start {
			return start, 0
		}
		return start, (end - start + step - 1) / step
	}
	start = min(max(start, 0), dim-1)
	end = min(max(end, -1), dim-1)
	if start <= end {
		return start, 0
	}
	return start, (start - end + (-step) - 1) / (-step)
}

func expand(ec *ExecContext, x, shapeT *tensor.Dense) (*tensor.Dense, error) {
	s, err := int64sOf(shapeT, "shape")
	if err != nil {
		return nil, err
	}
	target, err := toInts(s, "shape")
	if err != nil {
		return nil, err
	}
	out, err := broadcastShape(x.Shape(), target)
	if err != nil {
		return nil, err
	}
	if err := checkElems(out); err != nil {
		return nil, err
	}
	return cloneIfSame(ec, x, broadcastTo(ec, x, out)), nil
}

// cloneIfSame returns a copy of y when it is x itself.
func cloneIfSame(ec *ExecContext, x, y *tensor.Dense) *tensor.Dense {
	if x == y {
		return cloneDense(ec, x)
	}
	return y
}

func tile(ec *ExecContext, x, repT *tensor.Dense) (*tensor.Dense, error) {
	reps, err := int64sOf(repT, "repeats")
	if err != nil {
		return nil, err
	}
	xs := x.Shape()
	if len(reps) != len(xs) {
		return nil, fmt.Errorf("repeats %v must have one entry per dimension of %v", reps, xs)
	}
	r, err := toInts(reps, "repeats")
	if err != nil {
		return nil, err
	}
	xstr := stridesOf(xs)
	v := stridedView{}
	out := make([]int, len(xs))
	for i := range xs {
		v.shape = append(v.shape, r[i], xs[i])
		v.str = append(v.str, 0, xstr[i])
		out[i] = r[i] * xs[i]
	}
	if err := checkElems(v.shape); err != nil {
		return nil, err
	}
	return reshaped(materialize(ec, x, v), out), nil
}

func convertPad(n *Node) (Kernel, error) {
	a := attrsOf(n)
	mode := a.String("mode", "constant")
	modes := []string{"constant", "reflect", "edge"}
	if n.Opset >= 19 {
		modes = append(modes, "wrap")
	}
	a.OneOf("mode", mode, modes...)
	var attrPads []int64
	var attrValue float32
	if n.Opset < 11 {
		a.Required("pads")
		attrPads, _ = a.Ints("pads")
		attrValue = a.Float("value", 0)
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		pads := attrPads
		var value *tensor.Dense
		var err error
		if n.Opset < 11 {
			if value, err = fromFloat64s(ec, x.Dtype(), []int{}, []float64{float64(attrValue)}); err != nil {
				return nil, err
			}
		} else {
			if pads, err = int64sOf(in[1], "pads"); err != nil {
				return nil, err
			}
			if v := input(in, 2); v != nil {
				if v.Dtype() != x.Dtype() || numel(v.Shape()) != 1 {
					return nil, fmt.Errorf("constant_value must be a scalar of the input's type %s, got %s %v", dtName(x.Dtype()), dtName(v.Dtype()), v.Shape())
				}
				value = v
			}
		}
		r := x.Dims()
		axes := make([]int, r)
		for i := range axes {
			axes[i] = i
		}
		if t := input(in, 3); t != nil {
			av, err := int64sOf(t, "axes")
			if err != nil {
				return nil, err
			}
			if axes, err = normAxes(av, r); err != nil {
				return nil, err
			}
		}
		if len(pads) != 2*len(axes) {
			return nil, fmt.Errorf("pads %v must have 2×%d entries", pads, len(axes))
		}
		begin, end := make([]int, r), make([]int, r)
		for i, d := range axes {
			begin[d], end[d] = int(pads[i]), int(pads[len(axes)+i])
		}
		return one(pad(ec, x, begin, end, mode, value))
	}, nil
}

// pad pads (or, for negative amounts, crops) every dimension of x.
func pad(ec *ExecContext, x *tensor.Dense, begin, end []int, mode string, value *tensor.Dense) (*tensor.Dense, error) {
	xs := x.Shape()
	r := len(xs)
	out := make([]int, r)
	for d := 0; d < r; d++ {
		out[d] = xs[d] + begin[d] + end[d]
		if out[d] < 0 {
			return nil, fmt.Errorf("pads %v/%v remove more than dimension %d of %v", begin, end, d, xs)
		}
		if out[d] > maxElems {
			return nil, fmt.Errorf("padded dimension %d of %d is too large", d, out[d])
		}
		if xs[d] == 0 && out[d] > 0 && mode != "constant" {
			return nil, fmt.Errorf("cannot pad an empty dimension in %s mode", mode)
		}
	}
	if err := checkElems(out); err != nil {
		return nil, err
	}
	// The output decides every buffer's size: check it before the index
	// maps are built.
	if err := ec.check(x.Dtype(), out); err != nil {
		return nil, err
	}
	maps := make([][]int, r)
	for d := 0; d < r; d++ {
		m := allocSlice[int](ec, out[d], "Pad index map")
		for i := range m {
			m[i] = padIndex(i-begin[d], xs[d], mode)
		}
		maps[d] = m
	}
	res := ec.alloc(x.Dtype(), out)
	es := int(x.Dtype().Size())
	var fill []byte
	if value != nil {
		fill = value.Header.Raw[:es]
	} else {
		fill = make([]byte, es)
	}
	xstr := stridesOf(xs)
	src, dst := x.Header.Raw, res.Header.Raw
	total := numel(out)
	idx := make([]int, r)
	for o := 0; o < total; o++ {
		off := 0
		for d := 0; d < r; d++ {
			s := maps[d][idx[d]]
			if s < 0 {
				off = -1
				break
			}
			off += s * xstr[d]
		}
		if off < 0 {
			copy(dst[o*es:(o+1)*es], fill)
		} else {
			copy(dst[o*es:(o+1)*es], src[off*es:(off+1)*es])
		}
		incr(idx, out)
	}
	return res, nil
}

// padIndex maps a position i (relative to the input's start) to an input
// index, or -1 for a constant fill.
func padIndex(i, n int, mode string) int {
	if i >= 0 && i < n {
		return i
	}
	switch mode {
	case "edge":
		return min(max(i, 0), n-1)
	case "wrap":
		return ((i % n) + n) % n
	case "reflect":
		if n == 1 {
			return 0
		}
		period := 2 * (n - 1)
		i = ((i % period) + period) % period
		if i >= n {
			i = period - i
		}
		return i
	}
	return -1
}

func convertConstant(n *Node) (Kernel, error) {
	a := attrsOf(n)
	var val *tensor.Dense
	count := 0
	if t := a.Tensor("value"); t != nil {
		count++
		d, err := DenseFromTensor(t)
		if err != nil {
			return nil, err
		}
		val = d
	}
	if a.has("value_float") {
		count++
		val = scalar(a.Float("value_float", 0))
	}
	if v, ok := a.Floats("value_floats"); ok {
		count++
		val = fromSlice([]int{len(v)}, append([]float32{}, v...))
	}
	if a.has("value_int") {
		count++
		val = scalar(a.Int("value_int", 0))
	}
	if v, ok := a.Ints("value_ints"); ok {
		count++
		val = fromSlice([]int{len(v)}, append([]int64{}, v...))
	}
	for _, s := range []string{"value_string", "value_strings", "sparse_value"} {
		if a.has(s) {
			a.used[s] = true
			return nil, &onnximport.UnsupportedError{Feature: fmt.Sprintf("Constant attribute %s is not supported", s)}
		}
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	if count != 1 {
		return nil, fmt.Errorf("needs exactly one value attribute, has %d", count)
	}
	return func(ec *ExecContext, _ []*tensor.Dense) ([]*tensor.Dense, error) {
		return []*tensor.Dense{cloneDense(ec, val)}, nil
	}, nil
}

func convertConstantOfShape(n *Node) (Kernel, error) {
	a := attrsOf(n)
	val := scalar(float32(0))
	if t := a.Tensor("value"); t != nil {
		if t.NumElements() != 1 {
			return nil, fmt.Errorf("attribute value must have one element, has shape %v", t.Dims)
		}
		d, err := DenseFromTensor(&graph.Tensor{Name: t.Name, DType: t.DType, Raw: t.Raw})
		if err != nil {
			return nil, err
		}
		val = d
	}
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		s, err := int64sOf(in[0], "shape")
		if err != nil {
			return nil, err
		}
		shape, err := toInts(s, "shape")
		if err != nil {
			return nil, err
		}
		if err := checkElems(shape); err != nil {
			return nil, err
		}
		return []*tensor.Dense{cloneIfSame(ec, val, broadcastTo(ec, val, shape))}, nil
	}, nil
}

func rangeOp(ec *ExecContext, start, limit, delta *tensor.Dense) (*tensor.Dense, error) {
	if err := sameType(start, limit, delta); err != nil {
		return nil, err
	}
	for _, t := range []*tensor.Dense{start, limit, delta} {
		if numel(t.Shape()) != 1 {
			return nil, fmt.Errorf("start, limit and delta must be scalars, got shape %v", t.Shape())
		}
	}
	dt := start.Dtype()
	if isInt(dt) {
		s, err := castDense(ec, start, tensor.Int64)
		if err != nil {
			return nil, err
		}
		l, _ := castDense(ec, limit, tensor.Int64)
		d, _ := castDense(ec, delta, tensor.Int64)
		sv, lv, dv := view[int64](s)[0], view[int64](l)[0], view[int64](d)[0]
		if dv == 0 {
			return nil, fmt.Errorf("delta is zero")
		}
		cnt := int64(0)
		if dv > 0 && lv > sv {
			cnt = (lv - sv + dv - 1) / dv
		} else if dv < 0 && lv < sv {
			cnt = (sv - lv - dv - 1) / -dv
		}
		if cnt > maxElems {
			return nil, fmt.Errorf("range of %d elements is too large", cnt)
		}
		vals := allocSlice[int64](ec, int(cnt), "Range values")
		for i := range vals {
			vals[i] = sv + int64(i)*dv
		}
		return castDense(ec, fromSlice([]int{int(cnt)}, vals), dt)
	}
	sv, err := toFloat64s(ec, start)
	if err != nil {
		return nil, err
	}
	lv, _ := toFloat64s(ec, limit)
	dv, _ := toFloat64s(ec, delta)
	if dv[0] == 0 {
		return nil, fmt.Errorf("delta is zero")
	}
	fcnt := max(math.Ceil((lv[0]-sv[0])/dv[0]), 0)
	if fcnt > maxElems || math.IsNaN(fcnt) {
		return nil, fmt.Errorf("range from %g to %g by %g has too many elements", sv[0], lv[0], dv[0])
	}
	cnt := int(fcnt)
	vals := allocSlice[float64](ec, int(cnt), "Range values")
	for i := range vals {
		vals[i] = sv[0] + float64(i)*dv[0]
	}
	return fromFloat64s(ec, dt, []int{cnt}, vals)
}

func convertTrilu(n *Node) (Kernel, error) {
	a := attrsOf(n)
	upper := a.Bool("upper", true)
	if err := a.Err(); err != nil {
		return nil, err
	}
	return func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		x := in[0]
		k := int64(0)
		if t := input(in, 1); t != nil {
			var err error
			if k, err = scalarInt64(t, "k"); err != nil {
				return nil, err
			}
		}
		if x.Dims() < 2 {
			return nil, fmt.Errorf("input must have rank ≥ 2, got shape %v", x.Shape())
		}
		out := cloneDense(ec, x)
		sh := x.Shape()
		rows, cols := sh[len(sh)-2], sh[len(sh)-1]
		es := int(x.Dtype().Size())
		raw := out.Header.Raw
		for b := 0; b < numel(sh[:len(sh)-2]); b++ {
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					d := int64(j - i)
					if (upper && d < k) || (!upper && d > k) {
						o := ((b*rows+i)*cols + j) * es
						clear(raw[o : o+es])
					}
				}
			}
		}
		return []*tensor.Dense{out}, nil
	}, nil
}

// axesOf returns a node's axes: its axes input when given (opset 13+), or
// its axes attribute.
func axesOf(n *Node, in []Type, input int) ([]int64, bool) {
	if input < len(in) && input < len(n.Inputs)-n.Implicit && n.Inputs[input] != "" {
		return intsInput(in, input)
	}
	return attrIntsOf(n, "axes")
}

func shapeShape(n *Node, in []Type) ([]Type, error) {
	x := in[0].Shape
	t := Type{DType: graph.Int64}
	if x == nil {
		t.Shape = []Dim{UnknownDim}
		return []Type{t}, nil
	}
	r := int64(len(x))
	start, end := attrIntOf(n, "start", 0), attrIntOf(n, "end", r)
	clamp := func(v int64) int64 {
		if v < 0 {
			v += r
		}
		return max(0, min(v, r))
	}
	start, end = clamp(start), clamp(end)
	if end < start {
		end = start
	}
	t.Value = cloneDims(x[start:end])
	t.Shape = []Dim{Known(end - start)}
	return []Type{t}, nil
}

func shapeSize(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: graph.Int64, Shape: []Dim{}}
	if in[0].Shape != nil {
		t.Value = []Dim{product(in[0].Shape)}
	}
	return []Type{t}, nil
}

// shapeReshape reads the target from the shape input's (followed) values:
// 0 copies the input's dim (unless allowzero), -1 takes the rest.
func shapeReshape(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	target := in[1].Value
	if target == nil {
		if v, ok := intsInput(in, 1); ok {
			for _, x := range v {
				target = append(target, Known(x))
			}
		}
	}
	if target == nil {
		if s := in[1].Shape; len(s) == 1 && s[0].IsKnown() {
			t.Shape = make([]Dim, s[0].N)
			for i := range t.Shape {
				t.Shape[i] = UnknownDim
			}
		}
		return []Type{t}, nil
	}
	x := in[0].Shape
	allowZero := attrIntOf(n, "allowzero", 0) != 0
	out := make([]Dim, len(target))
	infer := -1
	for i, d := range target {
		switch {
		case d.IsKnown() && d.N == 0 && !allowZero:
			if x == nil || i >= len(x) {
				out[i] = UnknownDim
			} else {
				out[i] = x[i]
			}
		case d.IsKnown() && d.N == -1:
			infer = i
			out[i] = UnknownDim
		default:
			out[i] = d
		}
	}
	if infer >= 0 && x != nil {
		if d, ok := cancelDims(x, out, infer); ok {
			out[infer] = d
			t.Shape = out
			return []Type{t}, nil
		}
		rest := Known(1)
		for i, d := range out {
			if i != infer {
				rest = mulDims(rest, d)
			}
		}
		total := product(x)
		if total.IsKnown() && rest.IsKnown() && rest.N > 0 {
			if total.N%rest.N != 0 {
				return nil, fmt.Errorf("cannot reshape %s elements into %v", total, out)
			}
			out[infer] = Known(total.N / rest.N)
		} else if sameDim(total, rest) {
			out[infer] = Known(1)
		} else if l, ok := parseLinear(total); ok && rest.IsKnown() && rest.N > 0 {
			// a single symbolic term times a constant: divide the constant
			if len(l.terms) == 1 && l.c == 0 {
				for name, c := range l.terms {
					if c%rest.N == 0 {
						out[infer] = mulDims(Known(c/rest.N), Symbol(name))
					}
				}
			}
		}
	}
	t.Shape = out
	if in[0].Value != nil && len(out) == 1 {
		t.Value = in[0].Value
	}
	return []Type{t}, nil
}

func shapeSqueeze(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType, Value: in[0].Value}
	x := in[0].Shape
	if x == nil {
		return []Type{t}, nil
	}
	axes, ok := axesOf(n, in, 1)
	if !ok && len(n.Inputs)-n.Implicit > 1 && n.Inputs[1] != "" {
		return []Type{{DType: in[0].DType}}, nil
	}
	drop := make([]bool, len(x))
	if len(axes) == 0 {
		for i, d := range x {
			if d.IsKnown() && d.N == 1 {
				drop[i] = true
			} else if !d.IsKnown() {
				return []Type{{DType: in[0].DType}}, nil
			}
		}
	}
	for _, a := range axes {
		ax, err := normAxisDim(a, len(x))
		if err != nil {
			return nil, err
		}
		drop[ax] = true
	}
	for i, d := range x {
		if !drop[i] {
			t.Shape = append(t.Shape, d)
		}
	}
	if t.Shape == nil {
		t.Shape = []Dim{}
	}
	return []Type{t}, nil
}

func shapeUnsqueeze(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType, Value: in[0].Value}
	x := in[0].Shape
	axes, ok := axesOf(n, in, 1)
	if x == nil || !ok {
		return []Type{t}, nil
	}
	r := len(x) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		ax, err := normAxisDim(a, r)
		if err != nil {
			return nil, err
		}
		ins[ax] = true
	}
	j := 0
	t.Shape = make([]Dim, r)
	for i := range t.Shape {
		if ins[i] {
			t.Shape[i] = Known(1)
		} else {
			t.Shape[i] = x[j]
			j++
		}
	}
	return []Type{t}, nil
}

func shapeFlatten(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	x := in[0].Shape
	if x == nil {
		return []Type{t}, nil
	}
	ax := attrIntOf(n, "axis", 1)
	if ax < 0 {
		ax += int64(len(x))
	}
	if ax < 0 || ax > int64(len(x)) {
		return nil, fmt.Errorf("axis %d is out of range for rank %d", ax, len(x))
	}
	t.Shape = []Dim{product(x[:ax]), product(x[ax:])}
	return []Type{t}, nil
}

func shapeTranspose(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	x := in[0].Shape
	if x == nil {
		return []Type{t}, nil
	}
	perm, ok := attrIntsOf(n, "perm")
	if !ok {
		perm = make([]int64, len(x))
		for i := range perm {
			perm[i] = int64(len(x) - 1 - i)
		}
	}
	if len(perm) != len(x) {
		return nil, fmt.Errorf("perm %v does not fit rank %d", perm, len(x))
	}
	t.Shape = make([]Dim, len(x))
	for i, p := range perm {
		if p < 0 || p >= int64(len(x)) {
			return nil, fmt.Errorf("perm %v is out of range", perm)
		}
		t.Shape[i] = x[p]
	}
	return []Type{t}, nil
}

func shapeConcat(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	var ranked []Type
	for _, x := range in[:len(in)-n.Implicit] {
		if x.Shape == nil {
			return []Type{t}, nil
		}
		ranked = append(ranked, x)
	}
	if len(ranked) == 0 {
		return []Type{t}, nil
	}
	r := len(ranked[0].Shape)
	ax, err := normAxisDim(attrIntOf(n, "axis", 0), r)
	if err != nil {
		return nil, err
	}
	out := cloneDims(ranked[0].Shape)
	values := ranked[0].Value != nil && r == 1
	for _, x := range ranked[1:] {
		if len(x.Shape) != r {
			return nil, fmt.Errorf("inputs of ranks %d and %d", r, len(x.Shape))
		}
		for i := range out {
			if i == ax {
				out[i] = addDims(out[i], x.Shape[i], 1)
			} else if conflict(out[i], x.Shape[i]) {
				return nil, fmt.Errorf("dimension %d is %s in one input and %s in another", i, out[i], x.Shape[i])
			}
		}
		values = values && x.Value != nil
	}
	t.Shape = out
	if values {
		for _, x := range ranked {
			t.Value = append(t.Value, x.Value...)
		}
	}
	return []Type{t}, nil
}

func shapeSplit(n *Node, in []Type) ([]Type, error) {
	outs := make([]Type, len(n.Outputs))
	x := in[0].Shape
	for i := range outs {
		outs[i].DType = in[0].DType
	}
	if x == nil {
		return outs, nil
	}
	ax, err := normAxisDim(attrIntOf(n, "axis", 0), len(x))
	if err != nil {
		return nil, err
	}
	sizes, ok := intsInput(in, 1)
	if !ok {
		sizes, ok = attrIntsOf(n, "split")
	}
	for i := range outs {
		s := cloneDims(x)
		switch {
		case ok && i < len(sizes):
			s[ax] = Known(sizes[i])
		case x[ax].IsKnown():
			k := int64(len(outs))
			per := (x[ax].N + k - 1) / k
			s[ax] = Known(min(per, max(0, x[ax].N-int64(i)*per)))
		default:
			s[ax] = UnknownDim
		}
		outs[i].Shape = s
	}
	return outs, nil
}

// shapeSlice: known starts/ends give known sizes on known dims; slicing a
// symbolic dim from a known start to the end (INT_MAX) gives dim − start.
func shapeSlice(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	x := in[0].Shape
	if x == nil {
		return []Type{t}, nil
	}
	starts, ok1 := intsInput(in, 1)
	ends, ok2 := intsInput(in, 2)
	if !ok1 || !ok2 || len(starts) != len(ends) {
		t.Shape = make([]Dim, len(x))
		for i := range t.Shape {
			t.Shape[i] = x[i]
		}
		// Symbolic bounds (a KV cache's past_seq … past_seq+seq): on the
		// sliced axes the length is end − start, assuming they are in
		// range, for unit steps.
		axes, okA := intsInput(in, 3)
		steps, okS := intsInput(in, 4)
		sv, ev := in[1].Value, in[2].Value
		if sv == nil || ev == nil || len(sv) != len(ev) {
			for i := range t.Shape {
				t.Shape[i] = UnknownDim
			}
			return []Type{t}, nil
		}
		for i := range sv {
			ax := i
			if okA && i < len(axes) {
				a, err := normAxisDim(axes[i], len(x))
				if err != nil {
					return []Type{{DType: in[0].DType}}, nil
				}
				ax = a
			}
			if okS && i < len(steps) && steps[i] != 1 {
				t.Shape[ax] = UnknownDim
				continue
			}
			t.Shape[ax] = addDims(ev[i], sv[i], -1)
		}
		return []Type{t}, nil
	}
	axes, ok := intsInput(in, 3)
	if !ok {
		axes = make([]int64, len(starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	steps, ok := intsInput(in, 4)
	if !ok {
		steps = make([]int64, len(starts))
		for i := range steps {
			steps[i] = 1
		}
	}
	out := cloneDims(x)
	for i, a := range axes {
		ax, err := normAxisDim(a, len(x))
		if err != nil || i >= len(steps) {
			return []Type{t}, nil
		}
		d := x[ax]
		st, en, sp := starts[i], ends[i], steps[i]
		if !d.IsKnown() {
			if sp == 1 && st >= 0 && en >= 1<<31 {
				out[ax] = addDims(d, Known(st), -1)
			} else {
				out[ax] = UnknownDim
			}
			continue
		}
		lo, hi, step := sliceBounds(st, en, sp, int(d.N))
		cnt := 0
		if step > 0 && hi > lo {
			cnt = (hi - lo + step - 1) / step
		} else if step < 0 && lo > hi {
			cnt = (lo - hi - step - 1) / -step
		}
		out[ax] = Known(int64(cnt))
	}
	t.Shape = out
	if in[0].Value != nil && len(x) == 1 && out[0].IsKnown() && x[0].IsKnown() {
		lo, _, step := sliceBounds(starts[0], ends[0], steps[0], int(x[0].N))
		for k := 0; k < int(out[0].N); k++ {
			if idx := lo + k*step; idx >= 0 && idx < len(in[0].Value) {
				t.Value = append(t.Value, in[0].Value[idx])
			}
		}
		if len(t.Value) != int(out[0].N) {
			t.Value = nil
		}
	}
	return []Type{t}, nil
}

// cancelDims infers out[infer] (Reshape's -1) when the symbolic dims of x
// and of the rest of out are the same multiset: the quotient of the known
// sizes.
func cancelDims(x, out []Dim, infer int) (Dim, bool) {
	syms := map[string]int{}
	kx, ko := int64(1), int64(1)
	for _, d := range x {
		switch {
		case d.IsKnown():
			kx *= d.N
		case d.Expr != "":
			syms[d.Expr]++
		default:
			return Dim{}, false
		}
	}
	for i, d := range out {
		switch {
		case i == infer:
		case d.IsKnown():
			ko *= d.N
		case d.Expr != "":
			syms[d.Expr]--
		default:
			return Dim{}, false
		}
	}
	for _, c := range syms {
		if c != 0 {
			return Dim{}, false
		}
	}
	if ko == 0 || kx%ko != 0 {
		return Dim{}, false
	}
	return Known(kx / ko), true
}

// sliceBounds clamps ONNX Slice bounds for a dimension of size d.
func sliceBounds(start, end, step int64, d int) (lo, hi, st int) {
	n := int64(d)
	if start < 0 {
		start += n
	}
	if end < 0 {
		end += n
	}
	if step > 0 {
		start, end = max(0, min(start, n)), max(0, min(end, n))
	} else {
		start, end = max(-1, min(start, n-1)), max(-1, min(end, n-1))
	}
	return int(start), int(end), int(step)
}

func shapeExpand(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	target := in[1].Value
	if target == nil {
		if v, ok := intsInput(in, 1); ok {
			for _, x := range v {
				target = append(target, Known(x))
			}
		}
	}
	if target == nil || in[0].Shape == nil {
		return []Type{t}, nil
	}
	s, err := broadcastDims(in[0].Shape, target)
	if err != nil {
		return nil, err
	}
	t.Shape = s
	return []Type{t}, nil
}

func shapeConstantOfShape(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: graph.Float}
	for _, a := range n.Attrs {
		if a.Name == "value" && a.T != nil {
			t.DType = a.T.DType
		}
	}
	if v := in[0].Value; v != nil {
		t.Shape = cloneDims(v)
	} else if v, ok := intsInput(in, 0); ok {
		for _, x := range v {
			t.Shape = append(t.Shape, Known(x))
		}
		if t.Shape == nil {
			t.Shape = []Dim{}
		}
	}
	return []Type{t}, nil
}

func shapeRange(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType, Shape: []Dim{UnknownDim}}
	s, ok1 := intsInput(in, 0)
	l, ok2 := intsInput(in, 1)
	d, ok3 := intsInput(in, 2)
	if ok1 && ok2 && ok3 && len(s) == 1 && len(l) == 1 && len(d) == 1 && d[0] != 0 {
		cnt := int64(0)
		if d[0] > 0 && l[0] > s[0] {
			cnt = (l[0] - s[0] + d[0] - 1) / d[0]
		} else if d[0] < 0 && l[0] < s[0] {
			cnt = (s[0] - l[0] - d[0] - 1) / -d[0]
		}
		t.Shape = []Dim{Known(cnt)}
	} else if ok1 && ok3 && len(s) == 1 && len(d) == 1 && s[0] == 0 && d[0] == 1 && len(in[1].Value) == 1 {
		t.Shape = []Dim{in[1].Value[0]} // Range(0, n, 1): n elements
	}
	return []Type{t}, nil
}

func shapeTile(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	x := in[0].Shape
	reps := in[1].Value
	if x == nil || reps == nil {
		return []Type{t}, nil
	}
	if len(reps) != len(x) {
		return nil, fmt.Errorf("repeats of length %d for rank %d", len(reps), len(x))
	}
	t.Shape = make([]Dim, len(x))
	for i := range x {
		t.Shape[i] = mulDims(x[i], reps[i])
	}
	return []Type{t}, nil
}
