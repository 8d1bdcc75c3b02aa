package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

func scalarInfo(name string, dt graph.DType) graph.ValueInfo {
	return graph.ValueInfo{Name: name, DType: dt, Shape: []graph.Dim{}}
}

// loopModel: acc_final, squares = Loop(M, cond, acc0) with body
// acc += i·step (step an outer value), squares stacks i·i, and cond stays
// true while acc < limit (limit outer too).
func loopModel(withCond bool) *graph.Model {
	body := &graph.Graph{
		Name:    "body",
		Inputs:  []graph.ValueInfo{scalarInfo("i", graph.Int64), scalarInfo("c", graph.Bool), scalarInfo("acc", graph.Int64)},
		Outputs: []graph.ValueInfo{scalarInfo("c_out", graph.Bool), scalarInfo("acc_out", graph.Int64), scalarInfo("sq", graph.Int64)},
		Nodes: []*graph.Node{
			{Name: "mul", OpType: "Mul", Inputs: []string{"i", "step"}, Outputs: []string{"inc"}},
			{Name: "add", OpType: "Add", Inputs: []string{"acc", "inc"}, Outputs: []string{"acc_out"}},
			{Name: "sq", OpType: "Mul", Inputs: []string{"i", "i"}, Outputs: []string{"sq"}},
			{Name: "lt", OpType: "Less", Inputs: []string{"acc_out", "limit"}, Outputs: []string{"c_out"}},
		},
	}
	cond := ""
	if withCond {
		cond = "cond"
	}
	return &graph.Model{
		Opsets: []graph.OpsetImport{{Domain: "", Version: 18}},
		Graph: &graph.Graph{
			Inputs: []graph.ValueInfo{scalarInfo("M", graph.Int64), scalarInfo("cond", graph.Bool), scalarInfo("acc0", graph.Int64),
				scalarInfo("step", graph.Int64), scalarInfo("limit", graph.Int64)},
			Outputs: []graph.ValueInfo{{Name: "acc", DType: graph.Int64}, {Name: "squares", DType: graph.Int64}},
			Nodes: []*graph.Node{{Name: "loop", OpType: "Loop", Inputs: []string{"M", cond, "acc0"}, Outputs: []string{"acc", "squares"},
				Attrs: []graph.Attr{{Name: "body", Type: graph.AttrGraph, G: body}}}},
		},
	}
}

func i64s(v ...int64) *tensor.Dense {
	if len(v) == 1 {
		return kernels.FromSlice([]int{}, v)
	}
	return kernels.FromSlice([]int{len(v)}, v)
}

func TestLoopAndIf(t *testing.T) {
	run := func(t *testing.T, m *graph.Model, in map[string]*tensor.Dense) map[string]*tensor.Dense {
		t.Helper()
		pm, err := Prepare(m, kernels.DefaultRegistry())
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPlan(pm, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		// The reference interpreter agrees.
		ev, err := Eval(m, in, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k := range out {
			if err := kernels.Compare(out[k], ev[k], 0); err != nil {
				t.Errorf("%s: plan and Eval differ: %v", k, err)
			}
		}
		return out
	}
	b := func(v bool) *tensor.Dense { return kernels.FromSlice([]int{}, []bool{v}) }
	t.Run("trip count", func(t *testing.T) {
		out := run(t, loopModel(false), map[string]*tensor.Dense{"M": i64s(5), "cond": b(true), "acc0": i64s(100), "step": i64s(2), "limit": i64s(1 << 40)})
		// acc = 100 + 2·(0+1+2+3+4)
		if err := kernels.Compare(out["acc"], i64s(120), 0); err != nil {
			t.Error(err)
		}
		if err := kernels.Compare(out["squares"], i64s(0, 1, 4, 9, 16), 0); err != nil {
			t.Error(err)
		}
	})
	t.Run("condition ends it", func(t *testing.T) {
		out := run(t, loopModel(true), map[string]*tensor.Dense{"M": i64s(1000), "cond": b(true), "acc0": i64s(0), "step": i64s(1), "limit": i64s(10)})
		// acc after i = 0..4 is 0,1,3,6,10: the body at i = 4 makes 10, not < 10.
		if err := kernels.Compare(out["acc"], i64s(10), 0); err != nil {
			t.Error(err)
		}
		if err := kernels.Compare(out["squares"], i64s(0, 1, 4, 9, 16), 0); err != nil {
			t.Error(err)
		}
	})
	t.Run("zero iterations", func(t *testing.T) {
		out := run(t, loopModel(true), map[string]*tensor.Dense{"M": i64s(3), "cond": b(false), "acc0": i64s(7), "step": i64s(1), "limit": i64s(10)})
		if err := kernels.Compare(out["acc"], i64s(7), 0); err != nil {
			t.Error(err)
		}
		if s := out["squares"].Shape(); len(s) != 1 || s[0] != 0 {
			t.Errorf("squares has shape %v, want (0)", s)
		}
	})
	t.Run("endless loop stops", func(t *testing.T) {
		m := loopModel(true)
		m.Graph.Nodes[0].Inputs[0] = "" // no trip count; the condition never turns false
		pm, err := Prepare(m, kernels.DefaultRegistry())
		if err != nil {
			t.Fatal(err)
		}
		p, err := NewPlan(pm, PlanOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err = p.Run(ctx, map[string]*tensor.Dense{"M": i64s(0), "cond": b(true), "acc0": i64s(0), "step": i64s(0), "limit": i64s(1)})
		if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
			t.Fatalf("endless loop: error %v, want the context's deadline", err)
		}
	})
	t.Run("if", func(t *testing.T) {
		branch := func(name string, v int64) *graph.Graph {
			return &graph.Graph{Name: name, Outputs: []graph.ValueInfo{scalarInfo(name+"_y", graph.Int64)},
				Initializers: []*graph.Tensor{graph.Int64Tensor(name+"_c", nil, []int64{v})},
				Nodes:        []*graph.Node{{OpType: "Add", Inputs: []string{"x", name + "_c"}, Outputs: []string{name + "_y"}}}}
		}
		m := &graph.Model{
			Opsets: []graph.OpsetImport{{Domain: "", Version: 18}},
			Graph: &graph.Graph{
				Inputs:  []graph.ValueInfo{scalarInfo("c", graph.Bool), scalarInfo("x", graph.Int64)},
				Outputs: []graph.ValueInfo{{Name: "y", DType: graph.Int64}},
				Nodes: []*graph.Node{{Name: "if", OpType: "If", Inputs: []string{"c"}, Outputs: []string{"y"},
					Attrs: []graph.Attr{{Name: "then_branch", Type: graph.AttrGraph, G: branch("then", 10)}, {Name: "else_branch", Type: graph.AttrGraph, G: branch("else", -10)}}}},
			},
		}
		for _, c := range []struct {
			cond bool
			want int64
		}{{true, 15}, {false, -5}} {
			out := run(t, m, map[string]*tensor.Dense{"c": b(c.cond), "x": i64s(5)})
			if err := kernels.Compare(out["y"], i64s(c.want), 0); err != nil {
				t.Errorf("cond %v: %v", c.cond, err)
			}
		}
	})
}
