package kernels

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"unsafe"

	"gorgonia.org/tensor"

	"github.com/xt2onnx/xt2onnx/internal/sysmem"
)

// ExecContext is what a kernel knows of the run it serves: the allocation
// budget, the arena its buffers come from, and the workers it may split its
// work over. Every tensor or large buffer a kernel allocates goes through
// it, so that a hostile shape is refused with an error naming the node, its
// operator, the shape and the bytes, before any memory is taken. A nil
// *ExecContext means the defaults: plain allocation, one goroutine.
type ExecContext struct {
	// MaxTensorBytes bounds the bytes of any one tensor or buffer a kernel
	// allocates. 0 means DefaultMaxTensorBytes().
	MaxTensorBytes int64
	// Arena, when set, supplies every buffer (see Arena); it belongs to one
	// run, so an ExecContext with an arena serves one run at a time.
	Arena *Arena
	// Workers, when set, runs the parallel parts of kernels; nil means the
	// calling goroutine only.
	Workers *Pool
	// Context, when set, is the run's: kernels that loop (Loop) stop
	// between iterations once it is done.
	Context context.Context
}

// DefaultMaxTensorBytes is the tensor budget used when none is set: half of
// the memory available to the process (the machine's memory, or its
// cgroup's limit when lower). A tensor larger than that cannot coexist with
// the inputs it was computed from.
func DefaultMaxTensorBytes() int64 { return sysmem.Limit() / 2 }

// limit returns the budget in bytes.
func (ec *ExecContext) limit() int64 {
	if ec == nil || ec.MaxTensorBytes <= 0 {
		return DefaultMaxTensorBytes()
	}
	return ec.MaxTensorBytes
}

// A BudgetError reports an allocation refused because it exceeds the tensor
// budget (ExecContext.MaxTensorBytes, runtime.Options.MaxTensorBytes, the
// CLI's --max-tensor-bytes). Kernels raise it before allocating; it reaches
// callers wrapped in a *NodeError that names the node and operator.
type BudgetError struct {
	// What is being allocated: "float32[100000 100000]", "index map of Pad".
	What string
	// Bytes is the size asked for; -1 when it does not fit in an int64.
	Bytes int64
	// Limit is the budget.
	Limit int64
}

func (e *BudgetError) Error() string {
	return fmt.Sprintf("%s needs %s, more than the tensor budget of %s (raise it with runtime.Options.MaxTensorBytes or --max-tensor-bytes if the machine has the memory)",
		e.What, sysmem.FormatBytes(e.Bytes), sysmem.FormatBytes(e.Limit))
}

// budgetPanic carries a *BudgetError from deep inside a kernel to the
// kernel boundary (OpSpec.NewKernel), which turns it back into an error.
type budgetPanic struct{ err *BudgetError }

// sizeOf returns elems × elemSize, or -1 when the product overflows.
func sizeOf(elems, elemSize int) int64 {
	if elems < 0 || elemSize < 0 {
		return -1
	}
	hi, lo := bits.Mul64(uint64(elems), uint64(elemSize))
	if hi != 0 || lo > math.MaxInt64 {
		return -1
	}
	return int64(lo)
}

// shapeElems returns the element count of shape, or -1 when it overflows
// (or a dim is negative).
func shapeElems(shape []int) int {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return -1
		}
		n = lo
	}
	return int(n)
}

// reserve panics with a budget error unless elems elements of elemSize
// bytes fit the budget. what describes the buffer for the message.
func (ec *ExecContext) reserve(elems, elemSize int, what func() string) {
	b := sizeOf(elems, elemSize)
	if lim := ec.limit(); b < 0 || b > lim {
		panic(budgetPanic{&BudgetError{What: what(), Bytes: b, Limit: lim}})
	}
}

// check returns a *BudgetError unless a tensor of type dt and the given
// shape fits the budget.
func (ec *ExecContext) check(dt tensor.Dtype, shape []int) error {
	n := shapeElems(shape)
	b := int64(-1)
	if n >= 0 {
		b = sizeOf(n, int(dt.Size()))
	}
	if lim := ec.limit(); b < 0 || b > lim {
		return &BudgetError{What: dtName(dt) + fmt.Sprint(shape), Bytes: b, Limit: lim}
	}
	return nil
}

// alloc returns a zero-filled tensor of type dt and the given shape (an
// empty shape is a scalar), after checking it against the budget.
func (ec *ExecContext) alloc(dt tensor.Dtype, shape []int) *tensor.Dense {
	if err := ec.check(dt, shape); err != nil {
		panic(budgetPanic{err.(*BudgetError)})
	}
	if ec != nil && ec.Arena != nil {
		return dense(dt, shape, ec.Arena.get(shapeElems(shape)*int(dt.Size()), true))
	}
	return alloc(dt, shape)
}

// allocUninit is alloc for a kernel that writes every element of the
// result: an arena buffer comes back as it was left.
func (ec *ExecContext) allocUninit(dt tensor.Dtype, shape []int) *tensor.Dense {
	if err := ec.check(dt, shape); err != nil {
		panic(budgetPanic{err.(*BudgetError)})
	}
	if ec != nil && ec.Arena != nil {
		return dense(dt, shape, ec.Arena.get(shapeElems(shape)*int(dt.Size()), false))
	}
	return alloc(dt, shape)
}

// allocSlice returns a zeroed []T of n elements after checking it against
// the budget; what names the buffer in the error.
func allocSlice[T any](ec *ExecContext, n int, what string) []T {
	var z T
	size := int(unsafe.Sizeof(z))
	ec.reserve(n, size, func() string { return fmt.Sprintf("%s of %d elements", what, n) })
	if ec != nil && ec.Arena != nil && n*size >= minArenaBytes {
		raw := ec.Arena.get(n*size, true)
		return unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(raw))), n)
	}
	return make([]T, n)
}

// mulElems multiplies element counts, giving -1 on overflow or for a
// negative count, which allocSlice and reserve refuse.
func mulElems(ds ...int) int { return shapeElems(ds) }

// Alloc returns a zero-filled tensor of type dt and the given shape (from
// the arena, when there is one), or a *BudgetError when it exceeds the
// budget; for callers outside kernels.
func (ec *ExecContext) Alloc(dt tensor.Dtype, shape []int) (*tensor.Dense, error) {
	if err := ec.check(dt, shape); err != nil {
		return nil, err
	}
	if ec != nil && ec.Arena != nil {
		return dense(dt, shape, ec.Arena.get(shapeElems(shape)*int(dt.Size()), true)), nil
	}
	return alloc(dt, shape), nil
}

// parallel runs fn(i) for i in [0, n) on the context's workers; work
// estimates the cost of one call (in multiply-adds), and small jobs run on
// the calling goroutine. A panic in fn is re-raised on the caller's
// goroutine, where the kernel boundary recovers it into an error.
func (ec *ExecContext) parallel(n int, work int, fn func(i int)) {
	var p *Pool
	if ec != nil {
		p = ec.Workers
	}
	if p.Threads() <= 1 || n <= 1 || n*work < 1<<15 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var panicked atomic.Pointer[any]
	p.Run(n, func(i int) {
		defer func() {
			if r := recover(); r != nil {
				panicked.CompareAndSwap(nil, &r)
			}
		}()
		fn(i)
	})
	if r := panicked.Load(); r != nil {
		panic(*r)
	}
}
