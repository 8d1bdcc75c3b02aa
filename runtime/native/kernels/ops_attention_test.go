package kernels

import (
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

func TestAttention(t *testing.T) {
	// Two keys [1 0] and [0 1], values 10 and 20, head size 2: a query
	// [1 0] scores 1/√2 and 0, so softmax gives 0.669762 and 0.330238.
	keys := f32([]int{1, 1, 2, 2}, 1, 0, 0, 1)
	vals := f32([]int{1, 1, 2, 1}, 10, 20)
	q1 := f32([]int{1, 1, 1, 2}, 1, 0)
	q2 := f32([]int{1, 1, 2, 2}, 1, 0, 0, 1)
	causal := []graph.Attr{graph.AInt("is_causal", 1)}
	runCases(t, []opCase{
		{name: "4-D", op: "Attention", opset: 23, in: []*tensor.Dense{q1, keys, vals},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 1}, 13.30238)}},
		{name: "causal", op: "Attention", opset: 23, attrs: causal, in: []*tensor.Dense{q2, keys, vals},
			want: []*tensor.Dense{f32([]int{1, 1, 2, 1}, 10, 16.69762)}},
		{name: "bool mask", op: "Attention", opset: 23, in: []*tensor.Dense{q2, keys, vals, bools([]int{1, 2}, true, false)},
			want: []*tensor.Dense{f32([]int{1, 1, 2, 1}, 10, 10)}},
		{name: "float mask padded to the keys", op: "Attention", opset: 23, in: []*tensor.Dense{q1, keys, vals, f32([]int{1, 1}, 0)},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 1}, 10)}},
		{name: "scale", op: "Attention", opset: 23, attrs: []graph.Attr{graph.AFloat("scale", 0)}, in: []*tensor.Dense{q1, keys, vals},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 1}, 13.30238)}},
		{name: "past key and value", op: "Attention", opset: 23, attrs: causal,
			in: []*tensor.Dense{q1, f32([]int{1, 1, 1, 2}, 0, 1), f32([]int{1, 1, 1, 1}, 20), nil,
				f32([]int{1, 1, 1, 2}, 1, 0), f32([]int{1, 1, 1, 1}, 10)},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 1}, 13.30238), keys, vals}},
		{name: "grouped-query heads and 3-D layout", op: "Attention", opset: 23,
			attrs: []graph.Attr{graph.AInt("q_num_heads", 2), graph.AInt("kv_num_heads", 1)},
			in:    []*tensor.Dense{f32([]int{1, 1, 4}, 1, 0, 0, 1), f32([]int{1, 2, 2}, 1, 0, 0, 1), f32([]int{1, 2, 1}, 10, 20)},
			want:  []*tensor.Dense{f32([]int{1, 1, 2}, 13.30238, 16.69762), f32([]int{1, 1, 2, 2}, 1, 0, 0, 1)}},
		{name: "softcap and qk output after softcap", op: "Attention", opset: 23,
			attrs: []graph.Attr{graph.AFloat("softcap", 0.5), graph.AInt("qk_matmul_output_mode", 1)},
			in:    []*tensor.Dense{q1, keys, vals}, outs: 4,
			want: []*tensor.Dense{nil, nil, nil, f32([]int{1, 1, 1, 2}, 0.4441928, 0)}},
		{name: "qk output with mask", op: "Attention", opset: 23, attrs: []graph.Attr{graph.AInt("qk_matmul_output_mode", 2)},
			in: []*tensor.Dense{q1, keys, vals, f32([]int{1, 2}, 1, 2)}, outs: 4,
			want: []*tensor.Dense{nil, nil, nil, f32([]int{1, 1, 1, 2}, 1.7071068, 2)}},
		{name: "3-D without head counts", op: "Attention", opset: 23, in: []*tensor.Dense{f32([]int{1, 1, 2}), f32([]int{1, 1, 2}), f32([]int{1, 1, 2})},
			err: "head count"},
		{name: "nonpad_kv_seqlen before 24", op: "Attention", opset: 23,
			in: []*tensor.Dense{q1, keys, vals, nil, nil, nil, i64(nil, 1)}, err: "takes at most 6"},
		{name: "nonpad_kv_seqlen", op: "Attention", opset: 24,
			in: []*tensor.Dense{q1, keys, vals, nil, nil, nil, i64(nil, 1)}, want: []*tensor.Dense{f32([]int{1, 1, 1, 1}, 10)}},
	})
}

func TestRotaryEmbedding(t *testing.T) {
	x := f32([]int{1, 1, 1, 4}, 1, 2, 3, 4)
	pos := i64([]int{1, 1}, 0)
	runCases(t, []opCase{
		{name: "halves", op: "RotaryEmbedding", opset: 23, in: []*tensor.Dense{x, f32([]int{1, 2}, 0, 1), f32([]int{1, 2}, 1, 0), pos},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 4}, -3, 2, 1, 4)}},
		{name: "interleaved", op: "RotaryEmbedding", opset: 23, attrs: []graph.Attr{graph.AInt("interleaved", 1)},
			in:   []*tensor.Dense{x, f32([]int{1, 2}, 0, 1), f32([]int{1, 2}, 1, 0), pos},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 4}, -2, 1, 3, 4)}},
		{name: "partial rotary dim", op: "RotaryEmbedding", opset: 23, attrs: []graph.Attr{graph.AInt("rotary_embedding_dim", 2)},
			in:   []*tensor.Dense{x, f32([]int{1, 1}, 0), f32([]int{1, 1}, 1), pos},
			want: []*tensor.Dense{f32([]int{1, 1, 1, 4}, -2, 1, 3, 4)}},
		{name: "3-D without position ids", op: "RotaryEmbedding", opset: 23, attrs: []graph.Attr{graph.AInt("num_heads", 2)},
			in:   []*tensor.Dense{f32([]int{1, 1, 4}, 1, 2, 3, 4), f32([]int{1, 1, 1}, 0), f32([]int{1, 1, 1}, 1)},
			want: []*tensor.Dense{f32([]int{1, 1, 4}, -2, 1, -4, 3)}},
		{name: "position beyond the cache", op: "RotaryEmbedding", opset: 23,
			in: []*tensor.Dense{x, f32([]int{1, 2}, 0, 1), f32([]int{1, 2}, 1, 0), i64([]int{1, 1}, 3)}, err: "outside the cache"},
	})
}

func TestEinsum(t *testing.T) {
	eq := func(s string) []graph.Attr { return []graph.Attr{graph.AString("equation", s)} }
	a := f32([]int{1, 1, 2, 2}, 1, 2, 3, 4)
	b := f32([]int{1, 1, 2, 2}, 5, 6, 7, 8)
	runCases(t, []opCase{
		{name: "q·kᵀ", op: "Einsum", attrs: eq("b h i d, b h j d -> b h i j"), in: []*tensor.Dense{a, b},
			want: []*tensor.Dense{f32([]int{1, 1, 2, 2}, 17, 23, 39, 53)}},
		{name: "p·v", op: "Einsum", attrs: eq("bhij,bhjd->bhid"), in: []*tensor.Dense{a, b},
			want: []*tensor.Dense{f32([]int{1, 1, 2, 2}, 19, 22, 43, 50)}},
		{name: "shared keys", op: "Einsum", attrs: eq("bhid,bjd->bhij"), in: []*tensor.Dense{a, f32([]int{1, 2, 2}, 5, 6, 7, 8)},
			want: []*tensor.Dense{f32([]int{1, 1, 2, 2}, 17, 23, 39, 53)}},
		{name: "outer product", op: "Einsum", attrs: eq("i,j->ij"), in: []*tensor.Dense{f32(nil, 1, 2), f32(nil, 3, 4, 5)},
			want: []*tensor.Dense{f32([]int{2, 3}, 3, 4, 5, 6, 8, 10)}},
		{name: "transposed output", op: "Einsum", attrs: eq("ij,jk->ki"), in: []*tensor.Dense{f32([]int{2, 2}, 1, 2, 3, 4), f32([]int{2, 2}, 5, 6, 7, 8)},
			want: []*tensor.Dense{f32([]int{2, 2}, 19, 43, 22, 50)}},
		{name: "implicit output", op: "Einsum", attrs: eq("ij,jk"), in: []*tensor.Dense{f32([]int{2, 2}, 1, 2, 3, 4), f32([]int{2, 2}, 5, 6, 7, 8)},
			want: []*tensor.Dense{f32([]int{2, 2}, 19, 22, 43, 50)}},
		{name: "ellipsis batch", op: "Einsum", attrs: eq("...ij,...jk->...ik"), in: []*tensor.Dense{a, b},
			want: []*tensor.Dense{f32([]int{1, 1, 2, 2}, 19, 22, 43, 50)}},
		{name: "diagonal (general path)", op: "Einsum", attrs: eq("ii->i"), in: []*tensor.Dense{f32([]int{2, 2}, 1, 2, 3, 4)},
			want: []*tensor.Dense{f32(nil, 1, 4)}},
		{name: "trace", op: "Einsum", attrs: eq("ii"), in: []*tensor.Dense{i64([]int{2, 2}, 1, 2, 3, 4)}, want: []*tensor.Dense{i64(sc, 5)}},
		{name: "sum", op: "Einsum", attrs: eq("ij->"), in: []*tensor.Dense{f64([]int{2, 2}, 1, 2, 3, 4)}, want: []*tensor.Dense{f64(sc, 10)}},
		{name: "three operands", op: "Einsum", attrs: eq("i,i,i->"), in: []*tensor.Dense{f32(nil, 1, 2), f32(nil, 3, 4), f32(nil, 5, 6)},
			want: []*tensor.Dense{f32(sc, 63)}},
		{name: "int64 and float", op: "Einsum", attrs: eq("i,j->ij"), in: []*tensor.Dense{i64(nil, 1), f32(nil, 1)}, err: "different element types"},
		{name: "label size mismatch", op: "Einsum", attrs: eq("ij,jk->ik"), in: []*tensor.Dense{f32([]int{2, 3}), f32([]int{2, 2})}, err: "label 'j'"},
		{name: "operand count", op: "Einsum", attrs: eq("ij->ij"), in: []*tensor.Dense{a, b}, err: "1 operands"},
	})
}
