package kernels

import (
	"fmt"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/graph"
)

// opCase is one table entry of the operator tests: a node (op type,
// opset, attributes), its inputs (nil: omitted) and the expected outputs.
type opCase struct {
	name  string
	op    string
	opset int64
	attrs []graph.Attr
	in    []*tensor.Dense
	want  []*tensor.Dense // compared within 1e-6 relative for floats
	outs  int             // number of outputs (default len(want))
	err   string          // expected error substring instead of want
}

// f32 builds a float32 tensor; shape nil means a 1-D tensor of the data.
func f32(shape []int, v ...float32) *tensor.Dense {
	if shape == nil {
		shape = []int{len(v)}
	}
	return fromSlice(shape, v)
}

func f64(shape []int, v ...float64) *tensor.Dense {
	if shape == nil {
		shape = []int{len(v)}
	}
	return fromSlice(shape, v)
}

func i64(shape []int, v ...int64) *tensor.Dense {
	if shape == nil {
		shape = []int{len(v)}
	}
	return fromSlice(shape, v)
}

func i32(shape []int, v ...int32) *tensor.Dense {
	if shape == nil {
		shape = []int{len(v)}
	}
	return fromSlice(shape, v)
}

func bools(shape []int, v ...bool) *tensor.Dense {
	if shape == nil {
		shape = []int{len(v)}
	}
	return fromSlice(shape, v)
}

// sc is the empty shape of a scalar.
var sc = []int{}

// runOp builds the node through DefaultRegistry and runs its kernel.
func runOp(c opCase) ([]*tensor.Dense, error) {
	opset := c.opset
	if opset == 0 {
		opset = 18
	}
	s, err := DefaultRegistry().Lookup("", c.op, opset)
	if err != nil {
		return nil, err
	}
	n := &graph.Node{Name: "n", OpType: c.op, Attrs: c.attrs}
	for i, x := range c.in {
		name := fmt.Sprintf("in%d", i)
		if x == nil {
			name = ""
		}
		n.Inputs = append(n.Inputs, name)
	}
	outs := c.outs
	if outs == 0 {
		outs = max(len(c.want), 1)
	}
	for i := 0; i < outs; i++ {
		n.Outputs = append(n.Outputs, fmt.Sprintf("out%d", i))
	}
	k, err := s.NewKernel(&Node{Node: n, Opset: opset, Const: make([]*tensor.Dense, len(c.in))})
	if err != nil {
		return nil, err
	}
	return k(nil, c.in)
}

func runCases(t *testing.T, cases []opCase) {
	t.Helper()
	for _, c := range cases {
		name := c.name
		if name == "" {
			name = c.op
		}
		t.Run(name, func(t *testing.T) {
			got, err := runOp(c)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range c.want {
				if w == nil {
					continue
				}
				if i >= len(got) || got[i] == nil {
					t.Fatalf("output %d missing", i)
				}
				if err := sameValues(got[i], w, 1e-6); err != nil {
					t.Errorf("output %d: %v\ngot  %v %v\nwant %v %v", i, err, got[i].Shape(), dump(got[i]), w.Shape(), dump(w))
				}
			}
		})
	}
}

func dump(d *tensor.Dense) any {
	v, err := toFloat64s(nil, d)
	if err != nil {
		return err
	}
	return v
}

// sameValues compares type, shape and values (see Compare).
func sameValues(got, want *tensor.Dense, rel float64) error { return Compare(got, want, rel) }
