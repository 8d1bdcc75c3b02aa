package ops

import (
	"github.com/xt2onnx/xt2onnx/graph"
)

// Names of the model-local functions in graph.DomainXT.
const (
	FnL2NormGroups       = "L2NormGroups"
	FnQKNorm             = "QKNorm"
	FnAttention          = "Attention"
	FnCosineSimAttention = "CosineSimAttention"
)

// Library holds xt2onnx's model-local functions, built for one ONNX opset.
// It is immutable and safe for concurrent use.
type Library struct {
	opset                       int64
	l2norm, qknorm, attn, cosim *graph.Function
}

// NewLibrary builds the function library for the given ONNX opset.
func NewLibrary(opset int64) (*Library, error) {
	l := &Library{opset: opset}
	var err error
	if l.l2norm, err = buildL2NormGroups(opset); err != nil {
		return nil, err
	}
	if l.qknorm, err = buildQKNorm(opset, l.l2norm); err != nil {
		return nil, err
	}
	if l.attn, err = buildAttention(opset); err != nil {
		return nil, err
	}
	if l.cosim, err = buildCosineSimAttention(opset, l.qknorm, l.attn); err != nil {
		return nil, err
	}
	return l, nil
}

// Opset returns the ONNX opset the library's functions import.
func (l *Library) Opset() int64 { return l.opset }

// Functions returns every function of the library.
func (l *Library) Functions() []*graph.Function {
	return []*graph.Function{l.l2norm, l.qknorm, l.attn, l.cosim}
}

// L2NormGroups returns the function y = L2NormGroups(x) with int attribute
// groups: the last axis of x is split into groups equal chunks and each chunk
// is divided by max(‖chunk‖₂, 1e-12), as torch.nn.functional.normalize does
// (x-transformers' l2norm helper).
func (l *Library) L2NormGroups() *graph.Function { return l.l2norm }

func buildL2NormGroups(opset int64) (*graph.Function, error) {
	return graph.BuildFunction(opset, graph.FunctionSpec{
		Domain: graph.DomainXT, Name: FnL2NormGroups,
		Doc:        "L2-normalises the last axis of x in `groups` equal chunks (F.normalize, eps 1e-12).",
		Inputs:     []string{"x"},
		Outputs:    []string{"y"},
		Attributes: []string{"groups"},
	}, func(b *graph.Builder, in []string) ([]string, error) {
		x := in[0]
		lead := b.Op("Shape", "lead", []string{x}, graph.AInt("end", -1))
		g := b.Op("Constant", "groups", nil, graph.ARef("value_int", graph.AttrInt, "groups"))
		g1 := Unsqueeze(b, "groups_1d", g, 0)
		shape := b.Op("Concat", "grouped_shape", []string{lead, g1, b.Ints1D("minus_one", -1)}, graph.AInt("axis", 0))
		xg := b.Op("Reshape", "grouped", []string{x, shape})
		n := ReduceL2(b, "norm", xg, true, -1)
		n = b.Op("Max", "norm_clamped", []string{n, b.ConstFloat("eps", nil, 1e-12)})
		y := b.Op("Div", "normalized", []string{xg, n})
		full := b.Op("Shape", "shape", []string{x})
		return []string{b.Op("Reshape", "y", []string{y, full})}, nil
	})
}

// QKNorm returns the function y = QKNorm(x, gain) with int attribute groups:
// L2NormGroups(x) times the per-dimension gain (x-transformers 1.9.2 qk-norm;
// with qk_norm_dim_scale the gain is learned, without it the gain is 1).
func (l *Library) QKNorm() *graph.Function { return l.qknorm }

func buildQKNorm(opset int64, l2 *graph.Function) (*graph.Function, error) {
	return graph.BuildFunction(opset, graph.FunctionSpec{
		Domain: graph.DomainXT, Name: FnQKNorm,
		Doc:        "qk-norm: grouped L2 normalisation of the last axis, times a per-dimension gain.",
		Inputs:     []string{"x", "gain"},
		Outputs:    []string{"y"},
		Attributes: []string{"groups"},
	}, func(b *graph.Builder, in []string) ([]string, error) {
		n := b.Call(l2, "l2norm", []string{in[0]}, graph.ARef("groups", graph.AttrInt, "groups"))[0]
		return []string{b.Op("Mul", "y", []string{n, in[1]})}, nil
	})
}

// Attention returns the function out = Attention(q, k, v, keep) with float
// attribute scale: softmax(masked(q·kᵀ·scale)) · v over the last axis, where
// positions with keep false get the logit -max(float32) (x-transformers'
// masked_fill). q is [b, h, i, d], k [b, h|1, j, d], v [b, h|1, j, dv], keep
// broadcasts to [b, h, i, j].
func (l *Library) Attention() *graph.Function { return l.attn }

func buildAttention(opset int64) (*graph.Function, error) {
	return graph.BuildFunction(opset, graph.FunctionSpec{
		Domain: graph.DomainXT, Name: FnAttention,
		Doc:        "Scaled dot-product attention with a boolean keep mask (masked logits set to -FLT_MAX).",
		Inputs:     []string{"q", "k", "v", "keep"},
		Outputs:    []string{"out"},
		Attributes: []string{"scale"},
	}, func(b *graph.Builder, in []string) ([]string, error) {
		q, k, v, keep := in[0], in[1], in[2], in[3]
		kt := Transpose(b, "k_t", k, 0, 1, 3, 2)
		dots := b.Op("MatMul", "qk", []string{q, kt})
		s := b.Op("Constant", "scale", nil, graph.ARef("value_float", graph.AttrFloat, "scale"))
		dots = b.Op("Mul", "dots", []string{dots, s})
		dots = MaskFill(b, "masked", keep, dots, MaxNegFloat32)
		attn := b.Op("Softmax", "attn", []string{dots}, graph.AInt("axis", -1))
		return []string{b.Op("MatMul", "out", []string{attn, v})}, nil
	})
}

// CosineSimAttention returns the function out = CosineSimAttention(q, k, v,
// keep, q_gain, k_gain) with attributes groups (int) and scale (float):
// Attention(QKNorm(q, q_gain), QKNorm(k, k_gain), v, keep) — x-transformers'
// qk-norm attention, whose logits are scaled by qk_norm_scale.
func (l *Library) CosineSimAttention() *graph.Function { return l.cosim }

func buildCosineSimAttention(opset int64, qk, att *graph.Function) (*graph.Function, error) {
	return graph.BuildFunction(opset, graph.FunctionSpec{
		Domain: graph.DomainXT, Name: FnCosineSimAttention,
		Doc:        "Cosine-similarity attention: qk-norm on q and k, then Attention with logits scaled by `scale`.",
		Inputs:     []string{"q", "k", "v", "keep", "q_gain", "k_gain"},
		Outputs:    []string{"out"},
		Attributes: []string{"groups", "scale"},
	}, func(b *graph.Builder, in []string) ([]string, error) {
		groups := graph.ARef("groups", graph.AttrInt, "groups")
		qn := b.Call(qk, "q_norm", []string{in[0], in[4]}, groups)[0]
		kn := b.Call(qk, "k_norm", []string{in[1], in[5]}, groups)[0]
		out := b.Call(att, "attend", []string{qn, kn, in[2], in[3]}, graph.ARef("scale", graph.AttrFloat, "scale"))[0]
		return []string{out}, nil
	})
}

// CallQKNorm emits QKNorm(x, gain) with the given groups.
func CallQKNorm(b *graph.Builder, lib *Library, name, x, gain string, groups int64) string {
	return b.Call(lib.QKNorm(), name, []string{x, gain}, graph.AInt("groups", groups))[0]
}

// CallAttention emits Attention(q, k, v, keep) with the given logit scale.
func CallAttention(b *graph.Builder, lib *Library, name, q, k, v, keep string, scale float32) string {
	return b.Call(lib.Attention(), name, []string{q, k, v, keep}, graph.AFloat("scale", scale))[0]
}

// CallCosineSimAttention emits CosineSimAttention(q, k, v, keep, qGain,
// kGain) with the given groups and logit scale.
func CallCosineSimAttention(b *graph.Builder, lib *Library, name, q, k, v, keep, qGain, kGain string, groups int64, scale float32) string {
	return b.Call(lib.CosineSimAttention(), name, []string{q, k, v, keep, qGain, kGain},
		graph.AInt("groups", groups), graph.AFloat("scale", scale))[0]
}
