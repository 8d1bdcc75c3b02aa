package gemm

import "github.com/xt2onnx/xt2onnx/internal/workpool"

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

// Pool is a fixed-size Runner: workers-1 long-lived goroutines, which spin
// briefly before they park, plus the goroutine that calls Run, which takes
// part in the work (package workpool). It is safe for concurrent use; Close
// stops the goroutines.
type Pool = workpool.Pool

// NewPool returns a Pool running up to workers tasks at once (at least 1).
func NewPool(workers int) *Pool { return workpool.New(max(workers, 1)) }

func workersOf(r Runner) int {
	if r == nil {
		return 1
	}
	return max(r.Workers(), 1)
}
