package ops

import (
	"math"

	"github.com/xt2onnx/xt2onnx/graph"
)

// MaxNegFloat32 is the fill value x-transformers uses for masked attention
// logits: -torch.finfo(torch.float32).max.
const MaxNegFloat32 = -math.MaxFloat32

// Linear emits x·W (+ bias). wT is the weight already laid out [in, out]
// (PyTorch stores nn.Linear weights [out, in]); bias may be "".
func Linear(b *graph.Builder, name, x, wT, bias string) string {
	if bias == "" {
		return b.Op("MatMul", name, []string{x, wT})
	}
	y := b.Op("MatMul", name+".matmul", []string{x, wT})
	return b.Op("Add", name, []string{y, bias})
}

// LayerNorm emits LayerNormalization over the last axis (opset ≥ 17).
func LayerNorm(b *graph.Builder, name, x, scale, bias string, eps float32) string {
	in := []string{x, scale}
	if bias != "" {
		in = append(in, bias)
	}
	return b.Op("LayerNormalization", name, in, graph.AInt("axis", -1), graph.AFloat("epsilon", eps))
}

// Gelu emits the exact (erf) GELU that torch.nn.GELU computes by default:
// x · ½ · (1 + erf(x/√2)).
func Gelu(b *graph.Builder, name, x string) string {
	if b.Opset() >= 20 {
		return b.Op("Gelu", name, []string{x})
	}
	d := b.Op("Div", name+".div", []string{x, b.ConstFloat("const.sqrt2", nil, float32(math.Sqrt2))})
	e := b.Op("Erf", name+".erf", []string{d})
	p := b.Op("Add", name+".add", []string{e, b.ConstFloat("const.one", nil, 1)})
	h := b.Op("Mul", name+".mul", []string{x, p})
	return b.Op("Mul", name, []string{h, b.ConstFloat("const.half", nil, 0.5)})
}

// reduce emits a Reduce* operator whose axes moved from attribute to input at
// opset 18 (ReduceL2, ReduceMean, ReduceMax, …; not ReduceSum, which moved at 13).
func reduce(b *graph.Builder, op, name, x string, keepdims bool, axes ...int64) string {
	kd := int64(0)
	if keepdims {
		kd = 1
	}
	if b.Opset() >= 18 {
		return b.Op(op, name, []string{x, b.Ints1D("const.axes", axes...)}, graph.AInt("keepdims", kd))
	}
	return b.Op(op, name, []string{x}, graph.AInts("axes", axes...), graph.AInt("keepdims", kd))
}

// ReduceL2 emits the L2 norm over axes.
func ReduceL2(b *graph.Builder, name, x string, keepdims bool, axes ...int64) string {
	return reduce(b, "ReduceL2", name, x, keepdims, axes...)
}

// ReduceMean emits the mean over axes.
func ReduceMean(b *graph.Builder, name, x string, keepdims bool, axes ...int64) string {
	return reduce(b, "ReduceMean", name, x, keepdims, axes...)
}

// Unsqueeze inserts unit axes (axes as an input, opset ≥ 13).
func Unsqueeze(b *graph.Builder, name, x string, axes ...int64) string {
	return b.Op("Unsqueeze", name, []string{x, b.Ints1D("const.axes", axes...)})
}

// Reshape emits a Reshape to a constant shape (0 copies a dim, -1 infers one).
func Reshape(b *graph.Builder, name, x string, shape ...int64) string {
	return b.Op("Reshape", name, []string{x, b.Ints1D("const.shape", shape...)})
}

// Transpose permutes axes.
func Transpose(b *graph.Builder, name, x string, perm ...int64) string {
	return b.Op("Transpose", name, []string{x}, graph.AInts("perm", perm...))
}

// MaskFill emits Where(keep, x, fill): x where keep is true, fill elsewhere,
// as torch's masked_fill(~keep, fill).
func MaskFill(b *graph.Builder, name, keep, x string, fill float32) string {
	return b.Op("Where", name, []string{keep, x, b.ConstFloat("const.fill", nil, fill)})
}

// SplitHeads reshapes [b, n, h·d] to [b, h, n, d].
func SplitHeads(b *graph.Builder, name, x string, heads int64) string {
	r := Reshape(b, name+".reshape", x, 0, 0, heads, -1)
	return Transpose(b, name, r, 0, 2, 1, 3)
}

// MergeHeads reshapes [b, h, n, d] to [b, n, h·d].
func MergeHeads(b *graph.Builder, name, x string) string {
	t := Transpose(b, name+".transpose", x, 0, 2, 1, 3)
	return Reshape(b, name, t, 0, 0, -1)
}

// Attend emits softmax(q·kᵀ·scale)·v without a mask, in primitive operators
// (the unmasked form of the Attention function).
func Attend(b *graph.Builder, name, q, k, v string, scale float32) string {
	kt := Transpose(b, name+".k_t", k, 0, 1, 3, 2)
	dots := b.Op("MatMul", name+".qk", []string{q, kt})
	dots = b.Op("Mul", name+".dots", []string{dots, b.ConstFloat("const.scale", nil, scale)})
	attn := b.Op("Softmax", name+".attn", []string{dots}, graph.AInt("axis", -1))
	return b.Op("MatMul", name, []string{attn, v})
}
