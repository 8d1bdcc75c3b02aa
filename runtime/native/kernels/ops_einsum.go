package kernels

// Einsum — https://onnx.ai/onnx/operators/onnx__Einsum.html
//
//   Attribute equation (string, required; spaces ignored, "..." broadcasts,
//   implicit output when "->" is absent: the labels seen once, sorted).
//   Inputs: 1 to many tensors of one number type. Output: the contraction.
//   Opset 12.
//   Two float32/float64 operands without repeated labels become one batched
//   matrix product (transposing operands only when needed): this covers the
//   equations PyTorch emits ("bhid,bhjd->bhij", "bhij,bhjd->bhid",
//   "bhid,bjd->bhij", "i,j->ij", …). Everything else (traces, diagonals,
//   three or more operands, integer types, broadcast size-1 labels) runs a
//   general loop over every label combination in float64: slow but exact.

import (
	"fmt"
	"slices"
	"strings"

	"gorgonia.org/tensor"
)

func registerEinsum(r *Registry) {
	r.Register(spec("Einsum", 12, 1, -1, 1, convertEinsum))
	r.SetShape("", "Einsum", shapeEinsum)
}

func convertEinsum(n *Node) (Kernel, error) {
	a := attrsOf(n)
	a.Required("equation")
	eq := a.String("equation", "")
	if err := a.Err(); err != nil {
		return nil, err
	}
	terms, out, err := parseEinsum(eq, len(n.Inputs))
	if err != nil {
		return nil, err
	}
	return halfVia32(func(ec *ExecContext, in []*tensor.Dense) ([]*tensor.Dense, error) {
		return one(einsum(ec, terms, out, eq, in))
	}), nil
}

// einsumTerm is one operand's (or the output's) labels; ellipsis marks
// where "..." stands.
type einsumTerm struct {
	labels   []rune
	ellipsis int // index in labels where the ellipsis dims go, or -1
}

func parseEinsum(eq string, nIn int) ([]einsumTerm, *einsumTerm, error) {
	s := strings.ReplaceAll(eq, " ", "")
	lhs, rhs, explicit := strings.Cut(s, "->")
	parts := strings.Split(lhs, ",")
	if len(parts) != nIn {
		return nil, nil, fmt.Errorf("equation %q has %d operands, the node has %d inputs", eq, len(parts), nIn)
	}
	parse := func(t string) (einsumTerm, error) {
		et := einsumTerm{ellipsis: -1}
		for i := 0; i < len(t); i++ {
			c := rune(t[i])
			switch {
			case strings.HasPrefix(t[i:], "..."):
				if et.ellipsis >= 0 {
					return et, fmt.Errorf("equation %q: term %q has two ellipses", eq, t)
				}
				et.ellipsis = len(et.labels)
				i += 2
			case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
				et.labels = append(et.labels, c)
			default:
				return et, fmt.Errorf("equation %q: invalid character %q", eq, c)
			}
		}
		return et, nil
	}
	terms := make([]einsumTerm, len(parts))
	for i, p := range parts {
		var err error
		if terms[i], err = parse(p); err != nil {
			return nil, nil, err
		}
	}
	var out einsumTerm
	if explicit {
		var err error
		if out, err = parse(rhs); err != nil {
			return nil, nil, err
		}
	} else {
		count := map[rune]int{}
		anyEllipsis := false
		for _, t := range terms {
			for _, l := range t.labels {
				count[l]++
			}
			anyEllipsis = anyEllipsis || t.ellipsis >= 0
		}
		out.ellipsis = -1
		if anyEllipsis {
			out.ellipsis = 0
		}
		for l, c := range count {
			if c == 1 {
				out.labels = append(out.labels, l)
			}
		}
		slices.Sort(out.labels)
	}
	return terms, &out, nil
}

// expandTerm replaces the ellipsis with labels for its dims (runes from
// 0x10000 on, aligned on the right across operands).
func expandTerm(t einsumTerm, rank, ellRank int) ([]rune, error) {
	if t.ellipsis < 0 {
		if rank != len(t.labels) {
			return nil, fmt.Errorf("term with %d labels for an input of rank %d", len(t.labels), rank)
		}
		return t.labels, nil
	}
	k := rank - len(t.labels)
	if k < 0 {
		return nil, fmt.Errorf("term with %d labels for an input of rank %d", len(t.labels), rank)
	}
	out := append([]rune{}, t.labels[:t.ellipsis]...)
	for i := 0; i < k; i++ {
		out = append(out, rune(0x10000+ellRank-k+i))
	}
	return append(out, t.labels[t.ellipsis:]...), nil
}

func einsum(ec *ExecContext, terms []einsumTerm, outT *einsumTerm, eq string, in []*tensor.Dense) (*tensor.Dense, error) {
	for _, x := range in {
		if x == nil {
			return nil, fmt.Errorf("inputs cannot be omitted")
		}
	}
	if err := sameType(in...); err != nil {
		return nil, err
	}
	ellRank := 0
	for i, t := range terms {
		if t.ellipsis >= 0 {
			ellRank = max(ellRank, in[i].Dims()-len(t.labels))
		}
	}
	labels := make([][]rune, len(in))
	size := map[rune]int{}
	bcast := false
	for i, t := range terms {
		var err error
		if labels[i], err = expandTerm(t, in[i].Dims(), ellRank); err != nil {
			return nil, fmt.Errorf("equation %q, input %d of shape %v: %w", eq, i, in[i].Shape(), err)
		}
		for d, l := range labels[i] {
			dim := in[i].Shape()[d]
			s, ok := size[l]
			switch {
			case !ok || s == 1:
				if ok && s != dim {
					bcast = true
				}
				size[l] = dim
			case dim == 1:
				bcast = true
			case s != dim:
				return nil, fmt.Errorf("equation %q: label %q is %d in one input and %d in input %d", eq, l, s, dim, i)
			}
		}
	}
	var outLabels []rune
	if outT.ellipsis >= 0 {
		outLabels = append(outLabels, outT.labels[:outT.ellipsis]...)
		for i := 0; i < ellRank; i++ {
			outLabels = append(outLabels, rune(0x10000+i))
		}
		outLabels = append(outLabels, outT.labels[outT.ellipsis:]...)
	} else {
		outLabels = outT.labels
	}
	for _, l := range outLabels {
		if _, ok := size[l]; !ok {
			return nil, fmt.Errorf("equation %q: output label %q appears in no input", eq, l)
		}
	}
	dt := in[0].Dtype()
	if len(in) == 2 && !bcast && (dt == tensor.Float32 || dt == tensor.Float64) {
		if res, ok, err := einsumPair(ec, in[0], in[1], labels[0], labels[1], outLabels, size); ok || err != nil {
			return res, err
		}
	}
	return einsumGeneral(ec, in, labels, outLabels, size)
}

// einsumPair computes a two-operand contraction as a batched matrix
// product; ok is false when the equation does not have that form.
func einsumPair(ec *ExecContext, a, b *tensor.Dense, la, lb, lo []rune, size map[rune]int) (*tensor.Dense, bool, error) {
	if hasRepeat(la) || hasRepeat(lb) || hasRepeat(lo) {
		return nil, false, nil
	}
	in := func(ls []rune, l rune) bool { return slices.Contains(ls, l) }
	var batch, aOnly, bOnly, contract []rune
	for _, l := range la {
		switch {
		case in(lb, l) && in(lo, l):
			batch = append(batch, l)
		case in(lb, l):
			contract = append(contract, l)
		case in(lo, l):
			aOnly = append(aOnly, l)
		default:
			return nil, false, nil // summed over in A alone
		}
	}
	for _, l := range lb {
		switch {
		case in(la, l):
		case in(lo, l):
			bOnly = append(bOnly, l)
		default:
			return nil, false, nil
		}
	}
	prod := func(ls []rune) int {
		p := 1
		for _, l := range ls {
			p *= size[l]
		}
		return p
	}
	cat := func(parts ...[]rune) []rune {
		var out []rune
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	// Arrange each operand as [batch, rows, cols], transposing only when
	// neither its order nor the transposed-matrix order fits.
	arrange := func(x *tensor.Dense, ls, first, second []rune) (*tensor.Dense, bool) {
		switch {
		case slices.Equal(ls, cat(batch, first, second)):
			return x, false
		case slices.Equal(ls, cat(batch, second, first)):
			return x, true
		}
		want := cat(batch, first, second)
		perm := make([]int, len(want))
		for i, l := range want {
			perm[i] = slices.Index(ls, l)
		}
		return transpose(ec, x, perm), false
	}
	ax, transA := arrange(a, la, aOnly, contract)
	bx, transB := arrange(b, lb, contract, bOnly)
	nb, m, k, nn := prod(batch), prod(aOnly), prod(contract), prod(bOnly)
	jobs := allocSlice[gemmJob](ec, nb, "Einsum batch")
	for i := range jobs {
		jobs[i] = gemmJob{a: i * m * k, b: i * k * nn, c: i * m * nn}
	}
	resLabels := cat(batch, aOnly, bOnly)
	resShape := make([]int, len(resLabels))
	for i, l := range resLabels {
		resShape[i] = size[l]
	}
	res := ec.alloc(a.Dtype(), resShape)
	if err := batchGemm(ec, transA, transB, m, nn, k, ax, bx, res, jobs); err != nil {
		return nil, true, err
	}
	if slices.Equal(resLabels, lo) {
		return res, true, nil
	}
	perm := make([]int, len(lo))
	for i, l := range lo {
		perm[i] = slices.Index(resLabels, l)
	}
	return transpose(ec, res, perm), true, nil
}

func hasRepeat(ls []rune) bool {
	for i, l := range ls {
		if slices.Contains(ls[i+1:], l) {
			return true
		}
	}
	return false
}

// einsumGeneral sums the product of the operands over every combination
// of the labels not in the output, in float64.
func einsumGeneral(ec *ExecContext, in []*tensor.Dense, labels [][]rune, outLabels []rune, size map[rune]int) (*tensor.Dense, error) {
	var all []rune
	all = append(all, outLabels...)
	for _, ls := range labels {
		for _, l := range ls {
			if !slices.Contains(all, l) {
				all = append(all, l)
			}
		}
	}
	dims := make([]int, len(all))
	for i, l := range all {
		dims[i] = size[l]
	}
	// Per operand, its stride for each label (summed over repeated labels,
	// which walks diagonals; 0 where the operand broadcasts).
	vals := make([][]float64, len(in))
	strs := make([][]int, len(in))
	for i, x := range in {
		v, err := toFloat64s(ec, x)
		if err != nil {
			return nil, err
		}
		vals[i] = v
		xstr := stridesOf(x.Shape())
		strs[i] = make([]int, len(all))
		for d, l := range labels[i] {
			if x.Shape()[d] != 1 {
				strs[i][slices.Index(all, l)] += xstr[d]
			}
		}
	}
	outShape := dims[:len(outLabels)]
	nSum := numel(dims[len(outLabels):])
	res := allocSlice[float64](ec, shapeElems(outShape), "Einsum result")
	// Walk every label combination row-major: output labels lead, so each
	// output position takes nSum consecutive steps.
	total := numel(dims)
	idx := make([]int, len(all))
	offs := make([]int, len(in))
	for t := 0; t < total; t++ {
		p := 1.0
		for i := range in {
			p *= vals[i][offs[i]]
		}
		res[t/nSum] += p
		for d := len(all) - 1; d >= 0; d-- {
			idx[d]++
			for i := range in {
				offs[i] += strs[i][d]
			}
			if idx[d] < dims[d] {
				break
			}
			for i := range in {
				offs[i] -= strs[i][d] * dims[d]
			}
			idx[d] = 0
		}
	}
	return fromFloat64s(ec, in[0].Dtype(), append([]int{}, outShape...), res)
}

// shapeEinsum handles explicit equations without ellipsis: each output
// label takes the size of its first appearance in an input.
func shapeEinsum(n *Node, in []Type) ([]Type, error) {
	t := Type{DType: in[0].DType}
	eq := strings.ReplaceAll(attrStringOf(n, "equation", ""), " ", "")
	lhs, rhs, ok := strings.Cut(eq, "->")
	if !ok || strings.Contains(eq, "...") {
		return []Type{t}, nil
	}
	terms := strings.Split(lhs, ",")
	if len(terms) != len(in)-n.Implicit {
		return []Type{t}, nil
	}
	size := map[rune]Dim{}
	for k, term := range terms {
		s := in[k].Shape
		if s == nil || len([]rune(term)) != len(s) {
			return []Type{t}, nil
		}
		for i, l := range []rune(term) {
			if d, seen := size[l]; seen && conflict(d, s[i]) && !(s[i].IsKnown() && s[i].N == 1) && !(d.IsKnown() && d.N == 1) {
				return nil, fmt.Errorf("label %c is %s in one operand and %s in another", l, d, s[i])
			} else if !seen || (d.IsKnown() && d.N == 1) {
				size[l] = s[i]
			}
		}
	}
	t.Shape = []Dim{}
	for _, l := range rhs {
		d, ok := size[l]
		if !ok {
			return []Type{{DType: in[0].DType}}, nil
		}
		t.Shape = append(t.Shape, d)
	}
	return []Type{t}, nil
}
