package kernels

import (
	"math/bits"
	"sync"
	"unsafe"

	"gorgonia.org/tensor"
)

// Arena recycles the memory of one run. Kernels allocate their outputs and
// scratch buffers from it (through ExecContext); the executor retains each
// value's buffer while the value is live and releases it after its last
// reader, and the buffer goes back to a free list sized for reuse by the
// next allocation of a similar size. Between runs Reset returns everything,
// so a session serving the same shapes allocates nothing in steady state.
//
// Views (Reshape, Squeeze, Flatten …) share their input's buffer: a buffer
// is freed only when every value that starts at it has been released. An
// Arena is used by one run at a time.
type Arena struct {
	mu    sync.Mutex        // kernels allocate from parallel tasks
	free  map[int][][]byte  // by size class: buffers ready for reuse
	owned map[*byte]*buffer // by first byte: buffers handed out
	// Allocs counts the buffers made (not reused) since the arena was
	// created, for tests and reports.
	Allocs int
	// Bytes is the total size of the buffers the arena holds.
	Bytes int64
}

type buffer struct {
	data []byte // full capacity of the size class
	refs int
}

// NewArena returns an empty arena.
func NewArena() *Arena {
	return &Arena{free: map[int][][]byte{}, owned: map[*byte]*buffer{}}
}

// minArenaBytes is the smallest buffer the arena recycles; smaller ones are
// left to the garbage collector.
const minArenaBytes = 256

// sizeClass rounds n up to one of 8 steps per power of two, so that a
// reused buffer wastes at most 12.5%.
func sizeClass(n int) int {
	if n <= minArenaBytes {
		return minArenaBytes
	}
	shift := bits.Len(uint(n-1)) - 3 // 8 steps per doubling
	step := 1 << shift
	return (n + step - 1) &^ (step - 1)
}

// get returns n bytes, zeroed when zero is set.
func (a *Arena) get(n int, zero bool) []byte {
	if n < minArenaBytes {
		return make([]byte, n)
	}
	c := sizeClass(n)
	a.mu.Lock()
	defer a.mu.Unlock()
	var buf []byte
	if list := a.free[c]; len(list) > 0 {
		buf = list[len(list)-1]
		a.free[c] = list[:len(list)-1]
		if zero {
			clear(buf[:n])
		}
	} else {
		buf = make([]byte, c)
		a.Allocs++
		a.Bytes += int64(c)
	}
	a.owned[&buf[0]] = &buffer{data: buf}
	return buf[:n]
}

// owner returns the arena buffer d's data starts at, or nil.
func (a *Arena) owner(d *tensor.Dense) *buffer {
	if a == nil || d == nil || len(d.Header.Raw) == 0 {
		return nil
	}
	return a.owned[&d.Header.Raw[0]]
}

// Retain records one more live value whose data is d's (for the executor:
// a step's output).
func (a *Arena) Retain(d *tensor.Dense) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if b := a.owner(d); b != nil {
		b.refs++
	}
}

// Release records that a value holding d is no longer live; the buffer is
// freed for reuse once no live value holds it.
func (a *Arena) Release(d *tensor.Dense) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.owner(d)
	if b == nil {
		return
	}
	if b.refs--; b.refs <= 0 {
		a.put(b)
	}
}

func (a *Arena) put(b *buffer) {
	delete(a.owned, &b.data[0])
	c := len(b.data)
	a.free[c] = append(a.free[c], b.data)
}

// Sweep frees every buffer that no live value holds: scratch buffers a
// kernel did not return, and outputs nothing read.
func (a *Arena) Sweep() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.owned {
		if b.refs <= 0 {
			a.put(b)
		}
	}
}

// Reset frees every buffer, live or not: the run is over and its outputs
// have been copied out.
func (a *Arena) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, b := range a.owned {
		a.put(b)
	}
}

// Forget detaches d's buffer from the arena: it is never reused, and
// belongs to whoever holds d (an output handed to a caller).
func (a *Arena) Forget(d *tensor.Dense) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if b := a.owner(d); b != nil {
		delete(a.owned, &b.data[0])
		a.Bytes -= int64(len(b.data))
	}
}

// typed returns raw as a slice of dt's element type, aliasing it.
func typed(dt tensor.Dtype, raw []byte) any {
	p := unsafe.Pointer(unsafe.SliceData(raw))
	n := len(raw) / int(dt.Size())
	switch dt {
	case tensor.Float32:
		return unsafe.Slice((*float32)(p), n)
	case tensor.Float64:
		return unsafe.Slice((*float64)(p), n)
	case tensor.Int64:
		return unsafe.Slice((*int64)(p), n)
	case tensor.Int32:
		return unsafe.Slice((*int32)(p), n)
	case tensor.Int16:
		return unsafe.Slice((*int16)(p), n)
	case tensor.Int8:
		return unsafe.Slice((*int8)(p), n)
	case tensor.Uint64:
		return unsafe.Slice((*uint64)(p), n)
	case tensor.Uint32:
		return unsafe.Slice((*uint32)(p), n)
	case tensor.Uint16:
		return unsafe.Slice((*uint16)(p), n)
	case tensor.Uint8:
		return unsafe.Slice((*uint8)(p), n)
	case tensor.Bool:
		return unsafe.Slice((*bool)(p), n)
	case Float16Dtype:
		return unsafe.Slice((*Float16)(p), n)
	case BFloat16Dtype:
		return unsafe.Slice((*BFloat16)(p), n)
	}
	return nil
}

// dense wraps raw (of dt elements) as a tensor of the given shape.
func dense(dt tensor.Dtype, shape []int, raw []byte) *tensor.Dense {
	if len(shape) == 0 {
		return tensor.New(tensor.WithShape(), tensor.WithBacking(typed(dt, raw)))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(typed(dt, raw)))
}
