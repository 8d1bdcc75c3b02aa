package runtime_test

import (
	"context"
	"fmt"
	"sync"

	"github.com/xt2onnx/xt2onnx/runtime"
)

func ExampleCheckInputs() {
	infos := []runtime.ValueInfo{
		{Name: "x", DType: runtime.Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}},
		{Name: "mask", DType: runtime.Bool, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}},
	}
	x, _ := runtime.NewFloat32([]int64{2, 3}, make([]float32, 6))
	mask, _ := runtime.NewBool([]int64{3, 3}, make([]bool, 9))
	err := runtime.CheckInputs(infos, map[string]*runtime.Tensor{"x": x, "mask": mask})
	fmt.Println(err)
	// Output:
	// runtime: 2 input problems: input "x": got float32, model expects int64; input "mask": dim 0 ("batch") is 3, but "batch" is 2 in input "x" (dim 0)
}

func ExampleNewFloat32() {
	t, err := runtime.NewFloat32([]int64{2, 2}, []float32{1, 2, 3, 4})
	if err != nil {
		fmt.Println(err)
		return
	}
	data, _ := t.Float32s()
	fmt.Println(t, t.NumElements(), data)
	_, err = t.Int64s()
	fmt.Println(err)
	// Output:
	// float32[2 2] 4 [1 2 3 4]
	// runtime: Int64s: tensor float32[2 2] is float32, not int64
}

// doubler is a toy backend whose model doubles its float32 input "x".
type doubler struct {
	mu     sync.RWMutex
	closed bool
}

var doublerIO = []runtime.ValueInfo{{Name: "x", DType: runtime.Float32, Shape: []int64{-1}, DimNames: []string{"n"}}}

func (d *doubler) Inputs() []runtime.ValueInfo  { return runtime.CloneValueInfos(doublerIO) }
func (d *doubler) Outputs() []runtime.ValueInfo { return runtime.CloneValueInfos(doublerIO) }

func (d *doubler) Run(ctx context.Context, in map[string]*runtime.Tensor) (map[string]*runtime.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, fmt.Errorf("doubler: run: %w", runtime.ErrClosed)
	}
	if err := runtime.CheckInputs(doublerIO, in); err != nil {
		return nil, err
	}
	x, _ := in["x"].Float32s()
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = 2 * v
	}
	out, err := runtime.NewFloat32(in["x"].Shape(), y)
	return map[string]*runtime.Tensor{"x": out}, err
}

func (d *doubler) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}

// Example_backend shows how a backend plugs in: it registers an OpenFunc
// (normally from its package's init) and programs open models by backend
// name.
func Example_backend() {
	runtime.Register("doubler", func(src runtime.ModelSource, opts runtime.Options) (runtime.Session, error) {
		return &doubler{}, nil
	})
	sess, err := runtime.OpenBytes([]byte("any"), runtime.Options{Backend: "doubler"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sess.Close()
	fmt.Println(sess.Inputs()[0])
	x, _ := runtime.NewFloat32([]int64{3}, []float32{1, 2, 3})
	out, err := sess.Run(context.Background(), map[string]*runtime.Tensor{"x": x})
	if err != nil {
		fmt.Println(err)
		return
	}
	y, _ := out["x"].Float32s()
	fmt.Println(y)
	// Output:
	// x: float32[n]
	// [2 4 6]
}
