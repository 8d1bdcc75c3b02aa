package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunGuard(t *testing.T) {
	infos := []ValueInfo{{Name: "x", DType: Int64, Shape: []int64{-1, -1}, DimNames: []string{"batch", "seq"}}}
	x, err := NewInt64([]int64{1, 2}, []int64{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	ok := map[string]*Tensor{"x": x}
	var g RunGuard

	//lint:ignore SA1012 Begin accepts a nil context, as Run does
	ctx, end, err := g.Begin(nil, "test", "m.onnx", infos, ok)
	if err != nil || ctx == nil {
		t.Fatalf("Begin(nil ctx) = %v, %v", ctx, err)
	}
	// Close waits for the run in flight.
	closed := make(chan error)
	released := false
	go func() { closed <- g.Close(func() error { released = true; return errors.New("released") }) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a run was in flight")
	case <-time.After(20 * time.Millisecond):
	}
	end()
	if err := <-closed; err == nil || err.Error() != "released" || !released {
		t.Errorf("Close = %v (released %v), want release's error", err, released)
	}
	if err := g.Close(func() error { t.Error("release called twice"); return nil }); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, _, err := g.Begin(context.Background(), "test", "m.onnx", infos, ok); !errors.Is(err, ErrClosed) || !strings.HasPrefix(err.Error(), "test: run m.onnx: ") {
		t.Errorf("Begin after Close = %v, want test: run m.onnx: … ErrClosed", err)
	}

	var open RunGuard
	cause := errors.New("stopped by the user")
	cctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if _, _, err := open.Begin(cctx, "test", "m.onnx", infos, ok); !errors.Is(err, cause) {
		t.Errorf("Begin on a done context = %v, want its cause", err)
	}
	var ie *InputError
	if _, _, err := open.Begin(context.Background(), "test", "m.onnx", infos, map[string]*Tensor{"y": x}); !errors.As(err, &ie) {
		t.Errorf("Begin with a wrong input = %v, want an *InputError", err)
	}
	// A failed Begin holds no lock: Close does not block.
	if err := open.Close(func() error { return nil }); err != nil {
		t.Errorf("Close after failed Begins = %v", err)
	}
	if got := DescribeInputs(infos, ok); got != "x=int64[1 2]" {
		t.Errorf("DescribeInputs = %q", got)
	}
}
