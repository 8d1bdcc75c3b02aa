package workpool

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCallsEveryTaskOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 8} {
		p := New(threads)
		for _, tasks := range []int{0, 1, 2, 3, 7, 64, 1000} {
			counts := make([]atomic.Int32, max(tasks, 1))
			p.Run(tasks, func(i int) { counts[i].Add(1) })
			for i := 0; i < tasks; i++ {
				if c := counts[i].Load(); c != 1 {
					t.Fatalf("threads %d, tasks %d: task %d ran %d times, want 1", threads, tasks, i, c)
				}
			}
		}
		p.Close()
	}
}

func TestConcurrentRuns(t *testing.T) {
	p := New(4)
	defer p.Close()
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 200; r++ {
				var sum atomic.Int64
				p.Run(17, func(i int) { sum.Add(int64(i)) })
				if s := sum.Load(); s != 17*16/2 {
					t.Errorf("a run summed %d, want %d", s, 17*16/2)
					return
				}
				total.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := total.Load(); n != 8*200 {
		t.Fatalf("%d runs finished, want %d", n, 8*200)
	}
}

// TestWorkersShareTheWork checks that tasks really run on more than one
// goroutine at once: each of two tasks waits for the other to start.
func TestWorkersShareTheWork(t *testing.T) {
	p := New(2)
	defer p.Close()
	for _, idle := range []time.Duration{0, 2 * Spin} { // spinning and parked workers
		time.Sleep(idle)
		var started atomic.Int32
		ok := make(chan bool, 2)
		p.Run(2, func(int) {
			started.Add(1)
			deadline := time.Now().Add(5 * time.Second)
			for started.Load() < 2 && time.Now().Before(deadline) {
				runtime.Gosched()
			}
			ok <- started.Load() == 2
		})
		first, second := <-ok, <-ok
		if !first || !second {
			t.Fatalf("after %v idle: the two tasks never ran at the same time", idle)
		}
	}
}

func TestRunAfterClose(t *testing.T) {
	p := New(3)
	p.Close()
	p.Close() // idempotent
	n := 0
	p.Run(5, func(int) { n++ }) // on the caller alone: no data race
	if n != 5 {
		t.Fatalf("ran %d tasks after Close, want 5", n)
	}
	var nilPool *Pool
	nilPool.Run(3, func(int) { n++ })
	if n != 8 || nilPool.Threads() != 1 {
		t.Fatalf("nil pool: n=%d threads=%d", n, nilPool.Threads())
	}
}

func TestCloseStopsWorkers(t *testing.T) {
	before := runtime.NumGoroutine()
	p := New(6)
	p.Run(10, func(int) {})
	p.Close()
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("%d goroutines before New, %d after Close", before, after)
	}
}

var sink float64

func spinWork(n int) {
	x := 1.0
	for i := 0; i < n; i++ {
		x = x*1.0000001 + 1e-9
	}
	sink += x
}

// BenchmarkRun2x50us runs two tasks of about 50 µs each on two threads:
// near 50 µs per op when the workers overlap, 100 µs when they do not.
func BenchmarkRun2x50us(b *testing.B) {
	p := New(2)
	defer p.Close()
	for i := 0; i < b.N; i++ {
		p.Run(2, func(int) { spinWork(35000) })
	}
}

// BenchmarkSerial2x50us is the same work on one goroutine.
func BenchmarkSerial2x50us(b *testing.B) {
	for i := 0; i < b.N; i++ {
		spinWork(35000)
		spinWork(35000)
	}
}
