package engine

import (
	"errors"
	"fmt"

	"github.com/xt2onnx/xt2onnx/graph"
	"github.com/xt2onnx/xt2onnx/runtime/native/kernels"
)

// A ShapeError reports nodes whose inputs certainly cannot fit (their
// known dimensions disagree), found by shape inference before any run.
type ShapeError struct {
	// Errs holds one *kernels.NodeError per node at fault.
	Errs []error
}

func (e *ShapeError) Error() string {
	if len(e.Errs) == 1 {
		return "native: shape inference: " + e.Errs[0].Error()
	}
	return fmt.Sprintf("native: shape inference: %d nodes cannot run: %v", len(e.Errs), errors.Join(e.Errs...))
}

// Unwrap returns the nodes' errors.
func (e *ShapeError) Unwrap() []error { return e.Errs }

// inputType is the Type of a graph input as the model declares it:
// symbolic dims keep their names.
func inputType(v graph.ValueInfo) kernels.Type {
	t := kernels.Type{DType: v.DType}
	if v.Shape == nil {
		return t
	}
	t.Shape = make([]kernels.Dim, len(v.Shape))
	for i, d := range v.Shape {
		switch {
		case d.Param != "":
			t.Shape[i] = kernels.Symbol(d.Param)
		case d.Value > 0:
			t.Shape[i] = kernels.Known(d.Value)
		default:
			t.Shape[i] = kernels.UnknownDim
		}
	}
	return t
}

// inferTypes runs every planned node's shape rule, in order, from the
// declared inputs and the constants, and returns each value's type. Rules
// that find known dimensions disagreeing give a *ShapeError.
func (p *Plan) inferTypes() (map[string]kernels.Type, error) {
	types := make(map[string]kernels.Type, len(p.values))
	for _, v := range p.values {
		switch v.kind {
		case kindInput:
			types[v.name] = inputType(v.info)
		case kindConst:
			types[v.name] = kernels.ConstType(v.konst)
		}
	}
	var errs []error
	for _, st := range p.steps {
		spec := p.pm.specs[st.index]
		n := p.pm.Node(st.index, nil)
		in := make([]kernels.Type, len(st.node.Inputs))
		for j, name := range st.node.Inputs {
			if name != "" {
				in[j] = types[name]
			}
		}
		var outs []kernels.Type
		if spec.Shape != nil {
			var err error
			outs, err = safeShape(spec.Shape, n, in)
			if err != nil {
				errs = append(errs, p.pm.nodeErr(st.index, err))
				outs = nil
			}
		}
		for k, name := range st.node.Outputs {
			if name == "" {
				continue
			}
			if k < len(outs) {
				types[name] = outs[k]
			} else {
				types[name] = kernels.Type{}
			}
		}
	}
	if len(errs) > 0 {
		return types, &ShapeError{Errs: errs}
	}
	return types, nil
}

// safeShape runs a rule, turning a panic (a rule's bug) into "unknown".
func safeShape(fn kernels.ShapeFunc, n *kernels.Node, in []kernels.Type) (out []kernels.Type, err error) {
	defer func() {
		if recover() != nil {
			out, err = nil, nil
		}
	}()
	return fn(n, in)
}

// Types returns what shape inference knows of every value of the plan:
// its element type and its shape, symbolic where the model names its
// dimensions (a model exported by xt2onnx gives "batch", "seq",
// "past_seq+seq" …), "?" where nothing is known.
func (p *Plan) Types() map[string]kernels.Type {
	out := make(map[string]kernels.Type, len(p.types))
	for k, v := range p.types {
		v.Const = nil
		out[k] = v
	}
	return out
}
