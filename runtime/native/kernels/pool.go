package kernels

import "github.com/xt2onnx/xt2onnx/internal/workpool"

// Pool is the set of worker goroutines shared by the runs of one session:
// kernels split their work into tasks with Run, and the calling goroutine
// works too, so a pool of n threads uses n goroutines at most and never
// starts one per task. Idle workers spin briefly before they park, so that
// back-to-back operators do not each pay a thread wake-up (see package
// workpool). A nil *Pool runs everything on the calling goroutine; a Pool
// is safe for concurrent use and is a gemm.Runner.
type Pool = workpool.Pool

// NewPool returns a pool for threads-way parallel work: threads-1 workers
// beside the caller. threads ≤ 0 means GOMAXPROCS; 1 means no workers (the
// caller does everything).
func NewPool(threads int) *Pool { return workpool.New(threads) }
