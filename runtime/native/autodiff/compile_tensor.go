package autodiff

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// denseBox is the Gorgonia value of an intermediate ONNX value that only
// this package's ops read. Its tensor is dropped once every reader has run
// (see runState.release), so that a run holds only the live values rather
// than every activation until the end. Gorgonia's own ops never see a box:
// graph outputs, inputs and params are plain values.
type denseBox struct {
	d     *tensor.Dense
	shape tensor.Shape
	dt    tensor.Dtype
}

func (b *denseBox) Shape() tensor.Shape { return b.shape.Clone() }
func (b *denseBox) Size() int           { return b.shape.TotalSize() }
func (b *denseBox) Dtype() tensor.Dtype { return b.dt }
func (b *denseBox) Data() interface{} {
	if b.d == nil {
		return nil
	}
	return b.d.Data()
}
func (b *denseBox) Uintptr() uintptr {
	if b.d == nil {
		return 0
	}
	return b.d.Uintptr()
}
func (b *denseBox) MemSize() uintptr {
	if b.d == nil {
		return 0
	}
	return b.d.MemSize()
}

// Format prints the boxed tensor, as Gorgonia's debug logging does.
func (b *denseBox) Format(s fmt.State, c rune) {
	if b.d == nil {
		fmt.Fprintf(s, "released %v%v", b.dt, b.shape)
		return
	}
	b.d.Format(s, c)
}

// fromValue returns the tensor a Gorgonia value holds: a box's tensor, a
// *tensor.Dense, or a scalar as a shape () tensor.
func fromValue(v gorgonia.Value) (*tensor.Dense, error) {
	switch x := v.(type) {
	case *denseBox:
		if x.d == nil {
			return nil, fmt.Errorf("internal error: value %v%v read after its last reader", x.dt, x.shape)
		}
		return x.d, nil
	case *tensor.Dense:
		return x, nil
	case gorgonia.Scalar:
		return tensor.New(tensor.FromScalar(x.Data())), nil
	case nil:
		return nil, fmt.Errorf("internal error: missing value")
	}
	return nil, fmt.Errorf("unsupported Gorgonia value %T", v)
}

// toValue returns the Gorgonia value for a kernel result: a shape ()
// tensor becomes a Gorgonia scalar where one exists for its type (the
// form Gorgonia's own ops expect), anything else a fresh *tensor.Dense
// header (Gorgonia sets the engine of the values it stores, and the
// kernel's result may be a shared constant or an input).
func toValue(d *tensor.Dense) gorgonia.Value {
	if len(d.Shape()) == 0 {
		switch x := d.Data().(type) {
		case float32:
			return gorgonia.NewF32(x)
		case float64:
			return gorgonia.NewF64(x)
		case int64:
			return gorgonia.NewI64(x)
		case int32:
			return gorgonia.NewI32(x)
		case int:
			return gorgonia.NewI(x)
		case uint8:
			return gorgonia.NewU8(x)
		case bool:
			return gorgonia.NewB(x)
		}
	}
	return d.ShallowClone()
}

// gorgoniaType returns the Gorgonia type of a value: its dtype for a
// scalar, a tensor type of its rank otherwise.
func gorgoniaType(dt tensor.Dtype, shape []int) hm.Type {
	if len(shape) == 0 {
		return dt
	}
	return gorgonia.TensorType{Dims: len(shape), Of: dt}
}
