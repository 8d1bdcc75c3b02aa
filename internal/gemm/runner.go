package gemm

import (
	"sync"
	"sync/atomic"
)

// Runner supplies the workers a GEMM call runs on. The package never starts
// goroutines of its own: with a nil Runner (or one reporting a single worker)
// all the work runs on the calling goroutine.
type Runner interface {
	// Workers is the number of tasks the runner can execute at once; the
	// package sizes its partition of C by it. Values < 1 mean 1.
	Workers() int
	// Run calls fn(i) exactly once for every i in [0, tasks), on any
	// goroutines and in any order, and returns when all calls have returned.
	Run(tasks int, fn func(task int))
}

// Serial is a Runner that executes every task on the calling goroutine.
// It behaves exactly like a nil Runner.
type Serial struct{}

// Workers returns 1.
func (Serial) Workers() int { return 1 }

// Run calls fn(0), fn(1), … fn(tasks-1) in order.
func (Serial) Run(tasks int, fn func(int)) {
	for i := 0; i < tasks; i++ {
		fn(i)
	}
}

// Pool is a minimal fixed-size Runner: workers-1 long-lived goroutines plus
// the goroutine that calls Run, which takes part in the work. Run calls are
// serialized; Run must not be called from inside a task. A Pool makes no
// allocations per Run. Close stops the goroutines.
type Pool struct {
	workers int
	mu      sync.Mutex // serializes Run
	wake    chan struct{}
	wg      sync.WaitGroup
	next    atomic.Int64
	tasks   int64
	fn      func(int)
	closed  bool
}

// NewPool returns a Pool running up to workers tasks at once (at least 1).
func NewPool(workers int) *Pool {
	workers = max(workers, 1)
	p := &Pool{workers: workers, wake: make(chan struct{})}
	for i := 1; i < workers; i++ {
		go p.loop()
	}
	return p
}

func (p *Pool) loop() {
	for range p.wake {
		p.drain()
		p.wg.Done()
	}
}

func (p *Pool) drain() {
	for {
		t := p.next.Add(1) - 1
		if t >= p.tasks {
			return
		}
		p.fn(int(t))
	}
}

// Workers returns the size of the pool.
func (p *Pool) Workers() int { return p.workers }

// Run executes fn(0..tasks-1) on the pool and waits for them.
func (p *Pool) Run(tasks int, fn func(int)) {
	if tasks <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		panic("gemm: Run on a closed Pool")
	}
	if tasks == 1 || p.workers == 1 {
		for i := 0; i < tasks; i++ {
			fn(i)
		}
		return
	}
	p.fn, p.tasks = fn, int64(tasks)
	p.next.Store(0)
	helpers := min(tasks, p.workers) - 1
	p.wg.Add(helpers)
	for i := 0; i < helpers; i++ {
		p.wake <- struct{}{}
	}
	p.drain()
	p.wg.Wait()
	p.fn = nil
}

// Close stops the pool's goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.wake)
	}
}

func workersOf(r Runner) int {
	if r == nil {
		return 1
	}
	return max(r.Workers(), 1)
}
