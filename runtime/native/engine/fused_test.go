package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/ops"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// fusedVsUnfused runs m with fusion and with NoFusion (every function
// inlined, every node as written) and compares every output within rel.
// It returns how many nodes the fused plan runs, for checking that fusion
// happened.
func fusedVsUnfused(t *testing.T, m *graph.Model, in map[string]*tensor.Dense, rel float64) (fused, unfused int) {
	t.Helper()
	run := func(noFusion bool) (map[string]*tensor.Dense, int) {
		pm, err := PrepareWith(m, kernels.DefaultRegistry(), PrepareOptions{NoFusion: noFusion})
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPlan(pm, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Execute(context.Background(), kernels.NewArena(), in, RunOptions{Workers: kernels.NewPool(3)})
		if err != nil {
			t.Fatal(err)
		}
		return out, len(pm.Graph().Nodes)
	}
	a, fused := run(false)
	b, unfused := run(true)
	for name, want := range b {
		if err := kernels.Compare(a[name], want, rel); err != nil {
			t.Errorf("output %s: fused differs from unfused: %v", name, err)
		}
	}
	return fused, unfused
}

func randFloats(r *rand.Rand, shape []int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return kernels.FromSlice(shape, v)
}

func randBools(r *rand.Rand, shape []int, pTrue float64) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]bool, n)
	for i := range v {
		v[i] = r.Float64() < pTrue
	}
	return kernels.FromSlice(shape, v)
}

func dims(s []int) []graph.Dim {
	out := make([]graph.Dim, len(s))
	for i, d := range s {
		out[i] = graph.Fixed(int64(d))
	}
	return out
}

// TestFusedAttention checks the fused ai.xtransformers.Attention and
// CosineSimAttention (QKNorm, L2NormGroups) kernels against their function
// bodies on random shapes: multi-query keys (one head), masks of every
// broadcast form, a fully masked row, decode (one query), and sizes that
// are not multiples of the kernel's block of 32 rows.
func TestFusedAttention(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	lib, err := ops.NewLibrary(18)
	if err != nil {
		t.Fatal(err)
	}
	for c := 0; c < 24; c++ {
		b, h, i, j, d := 1+r.IntN(3), 1+r.IntN(4), 1+r.IntN(70), 1+r.IntN(80), 8*(1+r.IntN(4))
		if c == 0 {
			i = 1 // decode
		}
		hk := h
		if c%3 == 1 {
			hk = 1
		}
		maskShapes := [][]int{{b, h, i, j}, {b, 1, 1, j}, {1, 1, i, j}, {j}, {b, 1, i, j}}
		ms := maskShapes[c%len(maskShapes)]
		cosine := c%4 == 3
		name := fmt.Sprintf("b%d_h%d_hk%d_i%d_j%d_d%d_mask%v_cos%v", b, h, hk, i, j, d, ms, cosine)
		t.Run(name, func(t *testing.T) {
			gb := graph.NewGraphBuilder(18)
			qs, ks := []int{b, h, i, d}, []int{b, hk, j, d}
			var out string
			if cosine {
				gain := make([]float32, d)
				for k := range gain {
					gain[k] = float32(1 + 0.1*r.NormFloat64())
				}
				qg := gb.ConstFloat("qg", []int64{int64(d)}, gain...)
				kg := gb.ConstFloat("kg", nil, 1.5)
				out = ops.CallCosineSimAttention(gb, lib, "attn", "q", "k", "v", "keep", qg, kg, int64(1+c%2), 10)
			} else {
				out = ops.CallAttention(gb, lib, "attn", "q", "k", "v", "keep", float32(1/math.Sqrt(float64(d))))
			}
			out = gb.Op("Identity", "y", []string{out})
			m := &graph.Model{
				Opsets: []graph.OpsetImport{{Domain: "", Version: 18}, {Domain: graph.DomainXT, Version: 1}},
				Graph: &graph.Graph{
					Inputs: []graph.ValueInfo{
						{Name: "q", DType: graph.Float, Shape: dims(qs)}, {Name: "k", DType: graph.Float, Shape: dims(ks)},
						{Name: "v", DType: graph.Float, Shape: dims(ks)}, {Name: "keep", DType: graph.Bool, Shape: dims(ms)},
					},
					Outputs:      []graph.ValueInfo{{Name: out, DType: graph.Float}},
					Initializers: gb.Initializers(),
					Nodes:        gb.Nodes(),
				},
				Functions: gb.Functions(),
			}
			keep := randBools(r, ms, 0.8)
			if c == 5 {
				keep = randBools(r, ms, 0) // every key masked: uniform weights, as masked_fill gives
			}
			in := map[string]*tensor.Dense{"q": randFloats(r, qs), "k": randFloats(r, ks), "v": randFloats(r, ks), "keep": keep}
			fused, unfused := fusedVsUnfused(t, m, in, 1e-5)
			if fused >= unfused {
				t.Errorf("fusion ran %d nodes, unfused %d: nothing was fused", fused, unfused)
			}
		})
	}
}

// TestFusedGelu checks the GELU pattern fusion on the node orders xt2onnx,
// TorchScript and dynamo write, and that a pattern whose intermediate is
// read twice is left alone.
func TestFusedGelu(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, form := range []string{"xt2onnx", "dynamo", "mul-inv-sqrt2", "shared"} {
		t.Run(form, func(t *testing.T) {
			gb := graph.NewGraphBuilder(18)
			x := "x"
			var dv string
			if form == "mul-inv-sqrt2" {
				dv = gb.Op("Mul", "d", []string{gb.ConstFloat("c", nil, float32(1/math.Sqrt2)), x})
			} else {
				dv = gb.Op("Div", "d", []string{x, gb.ConstFloat("s2", nil, float32(math.Sqrt2))})
			}
			e := gb.Op("Erf", "e", []string{dv})
			p := gb.Op("Add", "p", []string{gb.ConstFloat("one", nil, 1), e})
			var y string
			if form == "dynamo" {
				hh := gb.Op("Mul", "h", []string{gb.ConstFloat("half", nil, 0.5), p})
				y = gb.Op("Mul", "y", []string{x, hh})
			} else {
				hh := gb.Op("Mul", "h", []string{p, x})
				y = gb.Op("Mul", "y", []string{hh, gb.ConstFloat("half", nil, 0.5)})
			}
			outs := []graph.ValueInfo{{Name: y, DType: graph.Float}}
			if form == "shared" {
				outs = append(outs, graph.ValueInfo{Name: e, DType: graph.Float})
			}
			m := &graph.Model{
				Opsets: []graph.OpsetImport{{Domain: "", Version: 18}},
				Graph: &graph.Graph{
					Inputs:       []graph.ValueInfo{{Name: "x", DType: graph.Float, Shape: dims([]int{3, 257})}},
					Outputs:      outs,
					Initializers: gb.Initializers(),
					Nodes:        gb.Nodes(),
				},
			}
			xs := randFloats(r, []int{3, 257})
			view := xs.Data().([]float32)
			view[0], view[1], view[2] = 0, -9, 9 // the flat tails
			fused, unfused := fusedVsUnfused(t, m, map[string]*tensor.Dense{"x": xs}, 0)
			switch {
			case form == "shared" && fused != unfused:
				t.Errorf("a pattern whose erf is also an output was fused (%d nodes, unfused %d)", fused, unfused)
			case form != "shared" && fused != 1:
				t.Errorf("fused plan has %d nodes, want 1 Gelu", fused)
			}
		})
	}
}
