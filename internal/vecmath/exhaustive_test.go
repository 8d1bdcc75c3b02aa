package vecmath

import (
	"math"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestExhaustive checks Erf and Exp on all 2^32 float32 inputs, on every
// path, against math.Erf and math.Exp, and logs the error figures quoted
// in the doc comments. It takes a few minutes, so it runs only when asked:
//
//	VECMATH_EXHAUSTIVE=1 go test -run Exhaustive -v -timeout 1h ./internal/vecmath/
func TestExhaustive(t *testing.T) {
	if os.Getenv("VECMATH_EXHAUSTIVE") == "" {
		t.Skip("set VECMATH_EXHAUSTIVE=1 to check all 2^32 inputs")
	}
	type fn struct {
		name  string
		ref   func(float64) float64
		kern  func(p path, dst, src []float32)
		check func(x, got float32, want float64) bool
	}
	fns := []fn{
		{"erf", math.Erf, func(p path, dst, src []float32) {
			if p == pathGo {
				erfGo(dst, src)
			} else {
				erfAsm(p, &dst[0], &src[0], len(src))
			}
		}, func(x, got float32, want float64) bool {
			return math.Abs(float64(got)-want) <= erfAbsBound || math.IsNaN(want) && got != got
		}},
		{"exp", math.Exp, func(p path, dst, src []float32) {
			if p == pathGo {
				expGo(dst, src)
			} else {
				expAsm(p, &dst[0], &src[0], len(src))
			}
		}, func(x, got float32, want float64) bool {
			return ulpDist(got, float32(want)) <= expBitBound
		}},
	}
	const chunk = 1 << 16
	var failures atomic.Int64
	for _, f := range fns {
		t.Run(f.name, func(t *testing.T) {
			np := len(paths)
			stats := make([][2]errStats, np) // [normal results, subnormal ones]
			diffs := make([]int64, np)       // results differing from paths[0]
			var mu sync.Mutex
			var wg sync.WaitGroup
			next := make(chan uint64)
			go func() {
				for c := uint64(0); c < 1<<32; c += chunk {
					next <- c
				}
				close(next)
			}()
			for range runtime.GOMAXPROCS(0) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					src := make([]float32, chunk)
					want := make([]float64, chunk)
					got := make([][]float32, np)
					for i := range got {
						got[i] = make([]float32, chunk)
					}
					local := make([][2]errStats, np)
					ldiffs := make([]int64, np)
					for c := range next {
						for i := range src {
							src[i] = math.Float32frombits(uint32(c) + uint32(i))
							want[i] = f.ref(float64(src[i]))
						}
						for pi, p := range paths {
							f.kern(p, got[pi], src)
							for i, x := range src {
								g := got[pi][i]
								if !f.check(x, g, want[i]) && failures.Add(1) <= 20 {
									t.Errorf("%s %s(%g [%#x]) = %g, want %g", pathNames[p], f.name, x, math.Float32bits(x), g, want[i])
								}
								k := 0
								if math.Abs(want[i]) < 0x1p-126 {
									k = 1
								}
								local[pi][k].add(x, g, want[i])
								if math.Float32bits(g) != math.Float32bits(got[0][i]) && !(g != g && got[0][i] != got[0][i]) {
									ldiffs[pi]++
								}
							}
						}
					}
					mu.Lock()
					defer mu.Unlock()
					for pi := range local {
						for k := range 2 {
							stats[pi][k].merge(&local[pi][k])
						}
						diffs[pi] += ldiffs[pi]
					}
				}()
			}
			wg.Wait()
			for pi, p := range paths {
				t.Logf("%s %s, normal results: %s", pathNames[p], f.name, &stats[pi][0])
				t.Logf("%s %s, subnormal results: %s", pathNames[p], f.name, &stats[pi][1])
				if pi > 0 {
					t.Logf("%s %s: %d results differ from %s", pathNames[p], f.name, diffs[pi], pathNames[paths[0]])
				}
			}
		})
	}
}
