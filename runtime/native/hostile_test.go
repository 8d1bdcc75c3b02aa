package native

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/internal/hostile"
	"github.com/xt2onnx/xt2onnx/runtime"
)

// zeros returns a zero tensor for every input of s (all fixed dims).
func zeros(t *testing.T, s runtime.Session) map[string]*runtime.Tensor {
	t.Helper()
	in := map[string]*runtime.Tensor{}
	for _, info := range s.Inputs() {
		n := int64(1)
		for _, d := range info.Shape {
			n *= d
		}
		x, err := runtime.NewFloat32(info.Shape, make([]float32, n))
		if err != nil {
			t.Fatal(err)
		}
		in[info.Name] = x
	}
	return in
}

// TestShapeBombs runs every hostile model of internal/hostile: each asks
// for 40 GB to 26 TB in one tensor, and must fail with a *BudgetError
// inside a *NodeError that names the node and operator, without the
// allocation happening: at open when the tensor is a constant the plan
// folds, at run otherwise. Each runs twice: under an explicit 256 MiB
// budget and under the default (half the machine's memory; every bomb asks
// for more than any machine that runs these tests has). Afterwards the
// process still serves: a normal model runs.
func TestShapeBombs(t *testing.T) {
	for _, budget := range []int64{256 << 20, 0} {
		for _, c := range hostile.ShapeBombs() {
			t.Run(c.Name, func(t *testing.T) {
				s, err := runtime.OpenBytes(c.Bytes, runtime.Options{Backend: "native", MaxTensorBytes: budget})
				opened := err == nil
				for range 2 { // a failed run leaves the session usable
					if opened {
						_, err = s.Run(context.Background(), zeros(t, s))
					}
					var be *kernels.BudgetError
					var ne *kernels.NodeError
					if !errors.As(err, &be) || !errors.As(err, &ne) || !strings.Contains(err.Error(), c.Want) {
						t.Fatalf("Run error = %v\nwant a *BudgetError in a *NodeError, containing %q", err, c.Want)
					}
					if budget > 0 && be.Limit != budget {
						t.Errorf("budget %d reported, want %d", be.Limit, budget)
					}
					if be.Bytes >= 0 && be.Bytes <= be.Limit {
						t.Errorf("refused %d bytes under a limit of %d", be.Bytes, be.Limit)
					}
					if ne.OpType == "" || !strings.Contains(err.Error(), ne.OpType) {
						t.Errorf("error %q does not name the operator", err)
					}
				}
				if opened {
					s.Close()
				}
			})
		}
	}
	// Still serving.
	s := openNative(t, marshal(t, mlpGraph()), runtime.Options{})
	x, _ := runtime.NewFloat32([]int64{1, 2, 4}, make([]float32, 8))
	m, _ := runtime.NewBool([]int64{1, 2}, []bool{true, false})
	if _, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x, "mask": m}); err != nil {
		t.Fatalf("a normal model after the bombs: %v", err)
	}
}

// TestInlineBombRefused opens the 4^14-node inlining bomb: Open must refuse
// it at once with a *graph.NodeLimitError, without expanding anything.
func TestInlineBombRefused(t *testing.T) {
	_, err := runtime.OpenBytes(hostile.InlineBomb(14, 4), runtime.Options{Backend: "native"})
	var le *graph.NodeLimitError
	if !errors.As(err, &le) || le.Nodes != 1<<28 {
		t.Fatalf("Open error = %v, want a *graph.NodeLimitError counting 268435456 nodes", err)
	}
	// A lower limit refuses a model that is fine by default.
	if _, err := runtime.OpenBytes(hostile.InlineBomb(3, 4), runtime.Options{Backend: "native", MaxNodes: 63}); !errors.As(err, &le) {
		t.Fatalf("MaxNodes 63: error = %v, want a *graph.NodeLimitError", err)
	}
	s := openNative(t, hostile.InlineBomb(3, 4), runtime.Options{})
	x, _ := runtime.NewFloat32([]int64{1}, []float32{-2})
	out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := out["y"].Float32s(); len(v) != 1 || v[0] != 0 {
		t.Errorf("y = %v, want [0] (Relu of -2, 64 times)", v)
	}
}
