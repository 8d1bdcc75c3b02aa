//go:build ignore

// gen_coef fits the polynomial coefficients used by the kernels and prints
// them as Go constants (pasted into coef.go, from which gen_asm.go and the Go
// kernels both read them).
//
//	go run gen_coef.go
//
// Each fit is a weighted minimax approximation computed with Lawson's
// algorithm (iteratively reweighted least squares on a dense Chebyshev-spaced
// grid). Float32 coefficients are rounded one at a time from the highest
// degree down, refitting the remaining ones after each rounding so that the
// lower coefficients absorb the rounding of the higher ones.
package main

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// problem: approximate f(x) by Σ c_k x^(k+first) for k < n on [lo, hi],
// minimizing max |w(x)·(p(x) − f(x))|.
type problem struct {
	name   string
	lo, hi float64
	first  int // lowest power
	n      int // number of coefficients
	f, w   func(x float64) float64
	f32    bool // round the coefficients to float32
}

func grid(lo, hi float64, m int) []float64 {
	xs := make([]float64, m)
	for i := range xs {
		xs[i] = (lo+hi)/2 - (hi-lo)/2*math.Cos(math.Pi*(float64(i)+0.5)/float64(m))
	}
	xs[0], xs[m-1] = lo, hi
	return xs
}

// lawson fits the free coefficients (fixed[k] is NaN where free), returning
// all coefficients and the weighted max error on the grid.
func lawson(p problem, xs []float64, fixed []float64) ([]float64, float64) {
	var free []int
	for k := range p.n {
		if math.IsNaN(fixed[k]) {
			free = append(free, k)
		}
	}
	m := len(xs)
	lw := make([]float64, m)
	for i := range lw {
		lw[i] = 1 / float64(m)
	}
	c := append([]float64(nil), fixed...)
	best, bestErr := []float64(nil), math.Inf(1)
	for it := 0; it < 400; it++ {
		a := mat.NewDense(m, len(free), nil)
		b := mat.NewVecDense(m, nil)
		for i, x := range xs {
			sw := math.Sqrt(lw[i]) * p.w(x)
			rhs := p.f(x)
			for k := range p.n {
				if !math.IsNaN(fixed[k]) {
					rhs -= fixed[k] * math.Pow(x, float64(k+p.first))
				}
			}
			b.SetVec(i, sw*rhs)
			for j, k := range free {
				a.Set(i, j, sw*math.Pow(x, float64(k+p.first)))
			}
		}
		var sol mat.VecDense
		if err := sol.SolveVec(a, b); err != nil {
			panic(err)
		}
		for j, k := range free {
			c[k] = sol.AtVec(j)
		}
		errs := make([]float64, m)
		maxErr, sum := 0.0, 0.0
		for i, x := range xs {
			errs[i] = math.Abs(p.w(x) * (eval(p, c, x) - p.f(x)))
			maxErr = max(maxErr, errs[i])
		}
		if maxErr < bestErr {
			best, bestErr = append([]float64(nil), c...), maxErr
		}
		for i := range lw {
			lw[i] *= errs[i] + 1e-300
			sum += lw[i]
		}
		for i := range lw {
			lw[i] /= sum
		}
	}
	return best, bestErr
}

func eval(p problem, c []float64, x float64) float64 {
	s := 0.0
	for k := p.n - 1; k >= 0; k-- {
		s = s*x + c[k]
	}
	return s * math.Pow(x, float64(p.first))
}

func fit(p problem) {
	xs := grid(p.lo, p.hi, 3000)
	fixed := make([]float64, p.n)
	for k := range fixed {
		fixed[k] = math.NaN()
	}
	c, e := lawson(p, xs, fixed)
	fmt.Printf("// %s: weighted max error %.3g (float64 coefficients)\n", p.name, e)
	if p.f32 {
		for k := p.n - 1; k >= 0; k-- {
			fixed[k] = float64(float32(c[k]))
			if k > 0 {
				c, e = lawson(p, xs, fixed)
			}
		}
		c = fixed
		e = 0
		for _, x := range grid(p.lo, p.hi, 20000) {
			e = max(e, math.Abs(p.w(x)*(eval(p, c, x)-p.f(x))))
		}
		fmt.Printf("// %s: weighted max error %.3g (float32 coefficients)\n", p.name, e)
	}
	for k, v := range c {
		if p.f32 {
			fmt.Printf("%s%d = %v // %#x\n", p.name, k+p.first, float32(v), math.Float32bits(float32(v)))
		} else {
			fmt.Printf("%s%d = %v\n", p.name, k+p.first, v)
		}
	}
	fmt.Println()
}

const erfSplit = 0.921875

func main() {
	half := math.Ln2 / 2 * 1.0005
	// e^r = 1 + r + r²·q(r): fit e^r − 1 − r, relative to e^r.
	fit(problem{name: "exp32C", lo: -half, hi: half, first: 2, n: 5, f32: true,
		f: func(r float64) float64 { return math.Expm1(r) - r },
		w: func(r float64) float64 { return 1 / math.Exp(r) }})
	fit(problem{name: "exp64C", lo: -half, hi: half, first: 2, n: 6,
		f: func(r float64) float64 { return math.Expm1(r) - r },
		w: func(r float64) float64 { return 1 / math.Exp(r) }})
	// erf(x) = x + x·q(x²) for |x| ≤ split: fit erf(√s)/√s − 1 in s,
	// relative to erf.
	fit(problem{name: "erfSmallC", lo: 0, hi: erfSplit * erfSplit, first: 0, n: 6, f32: true,
		f: func(s float64) float64 {
			if s == 0 {
				return 2/math.SqrtPi - 1
			}
			x := math.Sqrt(s)
			return math.Erf(x)/x - 1
		},
		w: func(s float64) float64 {
			if s == 0 {
				return math.SqrtPi / 2
			}
			x := math.Sqrt(s)
			return x / math.Erf(x)
		}})
	// erf(t) = 1 − exp(h(t)) for split < t ≤ 4: fit h = ln erfc, weighted by
	// erfc (the absolute error of erf).
	fit(problem{name: "erfBigC", lo: erfSplit, hi: 4, first: 0, n: 7, f32: true,
		f: func(t float64) float64 { return math.Log(math.Erfc(t)) },
		w: func(t float64) float64 { return math.Erfc(t) }})
}
