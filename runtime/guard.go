package runtime

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// RunGuard is the part of a backend's Session that every backend needs the
// same: runs may proceed concurrently, Close waits for runs in flight, and
// Run after Close fails with ErrClosed. Its zero value is an open session.
// A backend embeds one, calls Begin at the top of Run and Close in Close.
type RunGuard struct {
	mu     sync.RWMutex // held for reading by a run, for writing by Close
	closed bool
}

// Begin starts a run of the session named name of backend (the prefix of
// every error, "ort", "native") on inputs, which must fit infos (the model's
// inputs, see CheckInputs). It returns the context to run with (a nil ctx
// becomes context.Background()) and a function that ends the run, which the
// caller must call (defer it) when Begin returns no error. The error wraps
// the context's cause when ctx is done, ErrClosed after Close, or the
// *InputError describing every problem with the inputs.
func (g *RunGuard) Begin(ctx context.Context, backend, name string, infos []ValueInfo, inputs map[string]*Tensor) (context.Context, func(), error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("%s: run %s: %w", backend, name, context.Cause(ctx))
	}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return nil, nil, fmt.Errorf("%s: run %s: %w", backend, name, ErrClosed)
	}
	if err := CheckInputs(infos, inputs); err != nil {
		g.mu.RUnlock()
		return nil, nil, fmt.Errorf("%s: run %s: %w", backend, name, err)
	}
	return ctx, g.mu.RUnlock, nil
}

// Close marks the session closed once runs in flight have ended and calls
// release, the first time only; later calls return nil. It returns
// release's error.
func (g *RunGuard) Close(release func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	return release()
}

// DescribeInputs formats the inputs a model takes as
// `x=int64[2 17], mask=bool[2 17]`, in the model's order, for error messages.
func DescribeInputs(infos []ValueInfo, inputs map[string]*Tensor) string {
	parts := make([]string, len(infos))
	for i, info := range infos {
		parts[i] = info.Name + "=" + inputs[info.Name].String()
	}
	return strings.Join(parts, ", ")
}
