package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Pool is a fixed set of worker goroutines shared by the runs of one
// session: kernels split their work into tasks with Run, and the calling
// goroutine works too, so a pool of n workers uses n+1 goroutines at most
// and never starts one per task. A nil *Pool runs everything on the
// calling goroutine. It is safe for concurrent use: concurrent Run calls
// share the workers.
type Pool struct {
	n    int
	jobs chan *job
	stop chan struct{}
	once sync.Once
}

type job struct {
	fn    func(task int)
	tasks int
	next  atomic.Int64
	wg    sync.WaitGroup
}

// NewPool returns a pool for threads-way parallel work: threads-1 workers
// beside the caller. threads ≤ 0 means GOMAXPROCS; 1 means no workers (the
// caller does everything).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{n: threads, jobs: make(chan *job), stop: make(chan struct{})}
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

func (p *Pool) worker() {
	for {
		select {
		case j := <-p.jobs:
			j.work()
		case <-p.stop:
			return
		}
	}
}

func (j *job) work() {
	for {
		t := int(j.next.Add(1) - 1)
		if t >= j.tasks {
			return
		}
		j.fn(t)
		j.wg.Done()
	}
}

// Run calls fn(0) … fn(tasks-1), spread over the pool's workers and the
// calling goroutine, and returns when all have returned. Which goroutine
// runs which task is unspecified; results must not depend on it.
func (p *Pool) Run(tasks int, fn func(task int)) {
	if tasks <= 0 {
		return
	}
	if p == nil || p.n == 1 || tasks == 1 {
		for t := 0; t < tasks; t++ {
			fn(t)
		}
		return
	}
	j := &job{fn: fn, tasks: tasks}
	j.wg.Add(tasks)
	// Offer the job to idle workers; those busy with other runs' jobs are
	// not waited for.
	for i := 1; i < p.n && i < tasks; i++ {
		select {
		case p.jobs <- j:
		default:
		}
	}
	j.work()
	j.wg.Wait()
}

// Close stops the workers; Run keeps working after it, on the caller alone.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.once.Do(func() { close(p.stop) })
}

// Workers returns Threads, so that a Pool is a gemm.Runner.
func (p *Pool) Workers() int { return p.Threads() }
