package graph

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// bomb returns a model of depth nested functions, each calling the next
// fanout times: fanout^depth nodes once inlined, from a few KB.
func bomb(depth, fanout int) *Model {
	m := &Model{
		Opsets: []OpsetImport{{Domain: "", Version: 18}, {Domain: DomainXT, Version: 1}},
		Graph: &Graph{
			Inputs:  []ValueInfo{{Name: "x", DType: Float}},
			Outputs: []ValueInfo{{Name: "y", DType: Float}},
			Nodes:   []*Node{{Name: "call", OpType: "F0", Domain: DomainXT, Inputs: []string{"x"}, Outputs: []string{"y"}}},
		},
	}
	for d := 0; d < depth; d++ {
		f := &Function{Domain: DomainXT, Name: fmt.Sprintf("F%d", d), Inputs: []string{"a"}, Outputs: []string{"b"},
			Opsets: []OpsetImport{{Domain: "", Version: 18}, {Domain: DomainXT, Version: 1}}}
		prev := "a"
		for k := 0; k < fanout; k++ {
			out := fmt.Sprintf("v%d", k)
			if k == fanout-1 {
				out = "b"
			}
			n := &Node{Name: fmt.Sprintf("n%d", k), OpType: fmt.Sprintf("F%d", d+1), Domain: DomainXT, Inputs: []string{prev}, Outputs: []string{out}}
			if d == depth-1 {
				n.OpType, n.Domain = "Relu", ""
			}
			f.Nodes = append(f.Nodes, n)
			prev = out
		}
		m.Functions = append(m.Functions, f)
	}
	return m
}

func TestInlineNodeLimit(t *testing.T) {
	tests := []struct {
		name          string
		depth, fanout int
		limit         int64
		wantNodes     int64 // 0: refused
		refusedAt     int64
	}{
		{name: "small expands", depth: 3, fanout: 4, wantNodes: 64},
		{name: "at the limit", depth: 3, fanout: 4, limit: 64, wantNodes: 64},
		{name: "over the limit", depth: 3, fanout: 4, limit: 63, refusedAt: 64},
		{name: "4^14 bomb", depth: 14, fanout: 4, refusedAt: 1 << 28},
		{name: "saturating bomb", depth: 31, fanout: 8, refusedAt: math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := bomb(tt.depth, tt.fanout)
			err := InlineFunctionsLimit(m, tt.limit)
			if tt.wantNodes > 0 {
				if err != nil {
					t.Fatal(err)
				}
				if int64(len(m.Graph.Nodes)) != tt.wantNodes {
					t.Errorf("%d nodes, want %d", len(m.Graph.Nodes), tt.wantNodes)
				}
				return
			}
			var le *NodeLimitError
			if !errors.As(err, &le) || le.Nodes != tt.refusedAt {
				t.Fatalf("error %v, want a *NodeLimitError counting %d nodes", err, tt.refusedAt)
			}
			if len(m.Graph.Nodes) != 1 || len(m.Functions) != tt.depth {
				t.Errorf("a refused model was changed: %d nodes, %d functions", len(m.Graph.Nodes), len(m.Functions))
			}
		})
	}
}
