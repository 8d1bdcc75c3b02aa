// Package workpool runs the parallel parts of kernels on a fixed set of
// goroutines that spin briefly before they sleep.
//
// Why spin: handing work to a parked goroutine costs a wake-up of an idle
// OS thread, and on virtual machines (where an idle vCPU halts) that
// wake-up takes tens of microseconds, as long as a whole GEMM task of a
// small transformer. Measured on a 2-vCPU VM, two 57 µs tasks took 123 µs
// through a channel-woken goroutine (no overlap at all) and 58 µs through a
// spinning one. ONNX Runtime's thread pool spins for the same reason. A
// worker spins for Spin after its last task, so back-to-back operators of
// one forward pass find it awake, and then parks, so an idle pool costs no
// CPU.
package workpool

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Spin is how long an idle worker polls for new work before it parks.
// The gap between two parallel operators of a forward pass is usually a few
// microseconds; between decode steps of a generation, some tens.
const Spin = 200 * time.Microsecond

// Pool is a set of threads-1 worker goroutines; the goroutine that calls
// Run works too. It is safe for concurrent use: concurrent Run calls share
// the workers, and each caller always makes progress on its own job, so a
// Run never waits for another caller's work. A nil *Pool runs everything on
// the calling goroutine.
type Pool struct {
	n       int
	pending atomic.Int32 // len(queue), read without the lock by spinners
	closed  atomic.Bool

	mu       sync.Mutex
	queue    []*job // jobs with unclaimed tasks, oldest first
	free     []*job // finished jobs for reuse: a Run allocates nothing
	sleepers int    // workers parked on wake
	wake     chan struct{}
	done     sync.WaitGroup // the workers, for Close
}

// A job is one Run call. Its caller and every worker that took it from the
// queue hold a reference; the last to let go puts it on the free list, so
// no goroutine ever sees a job reused under it.
type job struct {
	fn    func(task int)
	tasks int64
	next  atomic.Int64  // next unclaimed task
	left  atomic.Int64  // tasks not yet finished
	refs  atomic.Int32  // goroutines holding the job
	fin   chan struct{} // capacity 1: a worker that finishes the last task sends
}

// New returns a pool for threads-way parallel work: threads-1 workers
// beside the caller. threads ≤ 0 means GOMAXPROCS; 1 means no workers.
func New(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{n: threads, wake: make(chan struct{}, threads)}
	p.done.Add(threads - 1)
	for i := 1; i < threads; i++ {
		go p.worker()
	}
	return p
}

// Threads returns how many goroutines a Run may use, the caller included.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.n
}

// Workers returns Threads, so that a Pool is a gemm.Runner.
func (p *Pool) Workers() int { return p.Threads() }

// Run calls fn(0) … fn(tasks-1), spread over the pool's workers and the
// calling goroutine, and returns when all have returned. Which goroutine
// runs which task is unspecified; results must not depend on it. After
// Close, Run runs everything on the caller.
func (p *Pool) Run(tasks int, fn func(task int)) {
	if tasks <= 0 {
		return
	}
	if p == nil || p.n == 1 || tasks == 1 || p.closed.Load() {
		for t := 0; t < tasks; t++ {
			fn(t)
		}
		return
	}
	p.mu.Lock()
	var j *job
	if n := len(p.free); n > 0 {
		j, p.free = p.free[n-1], p.free[:n-1]
	} else {
		j = &job{fin: make(chan struct{}, 1)}
	}
	j.fn, j.tasks = fn, int64(tasks)
	j.next.Store(0)
	j.left.Store(int64(tasks))
	j.refs.Store(1)
	p.queue = append(p.queue, j)
	p.pending.Store(int32(len(p.queue)))
	wake := min(p.sleepers, tasks-1)
	p.sleepers -= wake
	p.mu.Unlock()
	for ; wake > 0; wake-- {
		p.wake <- struct{}{} // buffered for every worker: never blocks
	}
	j.run(p, false)
	// Workers may still run tasks they claimed: wait for the last one,
	// spinning first (parking would cost this goroutine a wake-up too).
	start := time.Now()
	for i := 1; j.left.Load() > 0; i++ {
		if i%64 == 0 {
			if time.Since(start) > Spin {
				<-j.fin
				break
			}
			runtime.Gosched()
		}
	}
	p.release(j)
}

// run claims and runs tasks of j until none is left unclaimed. A worker
// that finishes the job's last task tells the caller through fin.
func (j *job) run(p *Pool, worker bool) {
	for {
		t := j.next.Add(1) - 1
		if t >= j.tasks {
			return
		}
		if t == j.tasks-1 {
			p.remove(j) // the last task is claimed: nothing left to take
		}
		j.fn(int(t))
		if j.left.Add(-1) == 0 && worker {
			j.fin <- struct{}{} // one finisher per use of the job: never blocks
			return
		}
	}
}

// remove drops j, whose tasks are all claimed, from the queue.
func (p *Pool) remove(j *job) {
	p.mu.Lock()
	if i := slices.Index(p.queue, j); i >= 0 {
		p.queue = slices.Delete(p.queue, i, i+1)
	}
	p.pending.Store(int32(len(p.queue)))
	p.mu.Unlock()
}

// release drops one reference to j; the last one recycles it.
func (p *Pool) release(j *job) {
	if j.refs.Add(-1) != 0 {
		return
	}
	select {
	case <-j.fin: // a worker finished last while the caller spun
	default:
	}
	j.fn = nil
	p.mu.Lock()
	p.free = append(p.free, j)
	p.mu.Unlock()
}

// take returns a queued job with unclaimed tasks, holding a reference to
// it, or nil.
func (p *Pool) take() *job {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range p.queue {
		if j.next.Load() < j.tasks {
			j.refs.Add(1)
			return j
		}
	}
	return nil
}

func (p *Pool) worker() {
	defer p.done.Done()
	for !p.closed.Load() {
		if j := p.take(); j != nil {
			j.run(p, true)
			p.release(j)
			continue
		}
		if p.spin() {
			continue
		}
		p.mu.Lock()
		if len(p.queue) > 0 || p.closed.Load() {
			p.mu.Unlock()
			continue
		}
		p.sleepers++
		p.mu.Unlock()
		<-p.wake
	}
}

// spin polls for queued work for up to Spin and reports whether some
// arrived.
func (p *Pool) spin() bool {
	start := time.Now()
	for i := 1; ; i++ {
		if p.pending.Load() > 0 {
			return true
		}
		if p.closed.Load() {
			return false
		}
		if i%64 == 0 {
			if time.Since(start) > Spin {
				return false
			}
			// Let other goroutines of this P run: spinning must not
			// starve them when threads exceed GOMAXPROCS.
			runtime.Gosched()
		}
	}
}

// Close stops the workers once they are idle; Run keeps working after it,
// on the caller alone. Close waits for the workers to exit.
func (p *Pool) Close() {
	if p == nil || p.closed.Swap(true) {
		return
	}
	p.mu.Lock()
	for ; p.sleepers > 0; p.sleepers-- {
		p.wake <- struct{}{}
	}
	p.mu.Unlock()
	p.done.Wait()
}
