package vecmath

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Bounds checked on every path (the doc comments state the same).
const (
	erfAbsBound = 1.5e-7 // the package's contract
	expBitBound = 1      // float32 values from the correctly rounded result
	softmaxBits = 2      // float32 values from the float64 reference
)

func inputs() []float32 {
	if raceEnabled || testing.Short() {
		return testInputs(1<<16+1, 1<<14, 1<<12)
	}
	return testInputs(1<<12+3, 1<<20, 1<<18)
}

func TestKernelName(t *testing.T) {
	t.Logf("KernelName %q, paths %v", KernelName(), pathList())
	if KernelName() != pathList()[0] {
		t.Fatalf("KernelName %q is not the best path of %v", KernelName(), pathList())
	}
}

func TestErfAccuracy(t *testing.T) {
	xs := inputs()
	forEachPath(t, func(t *testing.T, name string) {
		got := make([]float32, len(xs))
		Erf(got, xs)
		var st errStats
		for i, x := range xs {
			want := math.Erf(float64(x))
			st.add(x, got[i], want)
			if d := math.Abs(float64(got[i]) - want); !(d <= erfAbsBound) && !(math.IsNaN(want) && math.IsNaN(float64(got[i]))) {
				t.Fatalf("erf(%g) = %g, want %g (|err| %.3g)", x, got[i], want, d)
			}
			if got[i] == 0 && math.Signbit(float64(got[i])) != math.Signbit(float64(x)) {
				t.Fatalf("erf(%g) = %g: wrong sign of zero", x, got[i])
			}
		}
		t.Logf("%s", &st)
	})
}

func TestExpAccuracy(t *testing.T) {
	xs := inputs()
	forEachPath(t, func(t *testing.T, name string) {
		got := make([]float32, len(xs))
		Exp(got, xs)
		var st, sub errStats
		for i, x := range xs {
			want := math.Exp(float64(x))
			if want < 0x1p-126 {
				sub.add(x, got[i], want)
			} else {
				st.add(x, got[i], want)
			}
			if d := ulpDist(got[i], float32(want)); d > expBitBound {
				t.Fatalf("exp(%g) = %g (%#x), want %g (%d ulp off)", x, got[i], math.Float32bits(got[i]), float32(want), d)
			}
		}
		t.Logf("normal results: %s", &st)
		t.Logf("subnormal/zero results: %s", &sub)
	})
}

// TestExpSpecial pins the documented special cases.
func TestExpSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	cases := []struct{ x, want float32 }{
		{0, 1}, {float32(math.Copysign(0, -1)), 1}, {inf, inf}, {-inf, 0},
		{88.72284, inf}, {89, inf}, {1e30, inf}, {math.MaxFloat32, inf},
		{-104, 0}, {-1e30, 0}, {-math.MaxFloat32, 0}, {-103.97209, 0},
		{-103.97207, 0x1p-149}, {-87.33655, 0}, // 0: computed below
	}
	forEachPath(t, func(t *testing.T, name string) {
		for _, c := range cases {
			want := c.want
			if c.x == -87.33655 { // just below the smallest normal
				want = float32(math.Exp(float64(c.x)))
			}
			got := make([]float32, 1)
			Exp(got, []float32{c.x})
			if got[0] != want {
				t.Errorf("exp(%g) = %g, want %g", c.x, got[0], want)
			}
		}
		got := make([]float32, 1)
		Exp(got, []float32{float32(math.NaN())})
		if got[0] == got[0] {
			t.Errorf("exp(NaN) = %g", got[0])
		}
		// The largest float32 whose exp is finite.
		Exp(got, []float32{88.72283})
		if math.IsInf(float64(got[0]), 0) || got[0] < 3.4e38 {
			t.Errorf("exp(88.72283) = %g, want 3.40279e38", got[0])
		}
	})
}

func TestErfSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	cases := []struct{ x, want float32 }{{0, 0}, {negZero, negZero}, {inf, 1}, {-inf, -1},
		{math.MaxFloat32, 1}, {-math.MaxFloat32, -1}, {4, 1}, {-10, -1}, {3.95, 1}, {3.9, 0.99999994}}
	forEachPath(t, func(t *testing.T, name string) {
		got := make([]float32, 1)
		for _, c := range cases {
			Erf(got, []float32{c.x})
			if got[0] != c.want || math.Signbit(float64(got[0])) != math.Signbit(float64(c.want)) {
				t.Errorf("erf(%g) = %g, want %g", c.x, got[0], c.want)
			}
		}
		Erf(got, []float32{float32(math.NaN())})
		if got[0] == got[0] {
			t.Errorf("erf(NaN) = %g", got[0])
		}
		// Tiny arguments: erf(x) ≈ 2x/√π, to float32 precision.
		for _, x := range []float32{1e-30, 0x1p-126, 1e-40, math.SmallestNonzeroFloat32} {
			Erf(got, []float32{x})
			if d := ulpDist(got[0], float32(2/math.SqrtPi*float64(x))); d > 1 {
				t.Errorf("erf(%g) = %g, %d ulp off", x, got[0], d)
			}
		}
	})
}

// TestPathsAgree checks that the assembly paths agree bit for bit with each
// other, and counts the (documented, rare) differences from the Go path.
func TestPathsAgree(t *testing.T) {
	xs := inputs()
	run := func(name string) (e, x, g []float32) {
		e, x, g = make([]float32, len(xs)), make([]float32, len(xs)), make([]float32, len(xs))
		onPath(name, func() {
			Erf(e, xs)
			Exp(x, xs)
			Gelu(g, xs, math.Sqrt2, false)
		})
		return
	}
	ps := pathList()
	ge, gx, gg := run("go")
	for _, p := range ps {
		if p == "go" {
			continue
		}
		e, x, g := run(p)
		var de, dx, dg int
		for i := range xs {
			if ulpDist(e[i], ge[i]) > 0 {
				de++
			}
			if ulpDist(x[i], gx[i]) > 0 {
				dx++
			}
			if ulpDist(g[i], gg[i]) > 0 {
				dg++
			}
		}
		t.Logf("%s vs go: %d erf, %d exp, %d gelu results differ of %d", p, de, dx, dg, len(xs))
		if p != ps[0] {
			e0, x0, g0 := run(ps[0])
			for i := range xs {
				if ulpDist(e[i], e0[i])+ulpDist(x[i], x0[i])+ulpDist(g[i], g0[i]) != 0 {
					t.Fatalf("%s and %s differ at x=%g: erf %g/%g exp %g/%g gelu %g/%g", p, ps[0], xs[i], e[i], e0[i], x[i], x0[i], g[i], g0[i])
				}
			}
		}
	}
}

// TestLengths checks every length, in place and out of place: each element
// must equal the same path's result for that element computed alone (so
// tails and lanes do not interfere), and nothing past n may be written.
func TestLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	src := make([]float32, 65537+16)
	for i := range src {
		src[i] = float32(rng.NormFloat64() * 3)
		if i%17 == 0 {
			src[i] = specials[i/17%len(specials)]
		}
	}
	fns := []struct {
		name string
		f    func(dst, src []float32)
	}{
		{"Erf", Erf}, {"Exp", Exp},
		{"GeluDiv", func(d, s []float32) { Gelu(d, s, math.Sqrt2, false) }},
		{"GeluMul", func(d, s []float32) { Gelu(d, s, math.Sqrt2/2, true) }},
	}
	forEachPath(t, func(t *testing.T, name string) {
		for _, fn := range fns {
			one := make([]float32, len(src))
			for i := range src {
				fn.f(one[i:i+1], src[i:i+1])
			}
			for _, n := range testLengths {
				if raceEnabled && n > 5000 {
					continue
				}
				for _, off := range []int{0, 3} {
					s := src[off : off+n]
					dst := make([]float32, n+8)
					for i := range dst {
						dst[i] = 12345
					}
					fn.f(dst, s)
					for i := range n {
						if ulpDist(dst[i], one[off+i]) != 0 {
							t.Fatalf("%s n=%d off=%d: [%d] = %g, alone %g (x=%g)", fn.name, n, off, i, dst[i], one[off+i], s[i])
						}
					}
					for i := n; i < len(dst); i++ {
						if dst[i] != 12345 {
							t.Fatalf("%s n=%d: wrote dst[%d]", fn.name, n, i)
						}
					}
					in := slices.Clone(s)
					fn.f(in, in)
					for i := range n {
						if ulpDist(in[i], one[off+i]) != 0 {
							t.Fatalf("%s n=%d in place: [%d] = %g, want %g", fn.name, n, i, in[i], one[off+i])
						}
					}
				}
			}
		}
	})
}

func TestShortDst(t *testing.T) {
	for _, f := range []func(){
		func() { Erf(make([]float32, 3), make([]float32, 4)) },
		func() { Exp(make([]float32, 3), make([]float32, 4)) },
		func() { Gelu(make([]float32, 3), make([]float32, 4), 1, true) },
		func() { SoftmaxRow(make([]float32, 3), make([]float32, 4)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic for a short dst")
				}
			}()
			f()
		}()
	}
}

// TestGeluBitExact: Gelu equals s = x/c (x·c), Erf(s), then the float32
// tail, bit for bit, on every path.
func TestGeluBitExact(t *testing.T) {
	xs := inputs()
	forEachPath(t, func(t *testing.T, name string) {
		for _, cm := range []struct {
			c   float32
			mul bool
		}{{math.Sqrt2, false}, {math.Sqrt2 / 2, true}, {1.7, false}, {0.3, true}, {-2, false}} {
			got := make([]float32, len(xs))
			Gelu(got, xs, cm.c, cm.mul)
			s := make([]float32, len(xs))
			for i, x := range xs {
				if cm.mul {
					s[i] = x * cm.c
				} else {
					s[i] = x / cm.c
				}
			}
			e := make([]float32, len(xs))
			Erf(e, s)
			maxAbs, at := 0.0, float32(0)
			for i, x := range xs {
				want := geluTail(x, e[i])
				if math.Float32bits(got[i]) != math.Float32bits(want) && !(got[i] != got[i] && want != want) {
					t.Fatalf("c=%g mul=%v: Gelu(%g) = %g (%#x), Erf path gives %g (%#x)", cm.c, cm.mul, x, got[i], math.Float32bits(got[i]), want, math.Float32bits(want))
				}
				if cm.c == math.Sqrt2 && !math.IsInf(float64(x), 0) && math.Abs(float64(x)) < 1e30 {
					if d := math.Abs(float64(got[i]) - 0.5*float64(x)*(1+math.Erf(float64(x)/math.Sqrt2))); d > maxAbs {
						maxAbs, at = d, x
					}
				}
			}
			if cm.c == math.Sqrt2 {
				// The pattern's own roundings dominate: x·(e+1) for |x| ≫ 1.
				t.Logf("max abs error vs exact GELU (float64) for |x| < 1e30: %.3g at x=%g", maxAbs, at)
			}
		}
	})
}

func TestMaxSum64(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	forEachPath(t, func(t *testing.T, name string) {
		for _, n := range testLengths {
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(rng.NormFloat64() * 100)
			}
			wantMax, wantSum := float32(math.Inf(-1)), 0.0
			for _, v := range s {
				wantMax = max(wantMax, v)
				wantSum += float64(v)
			}
			if got := Max(s); got != wantMax {
				t.Fatalf("n=%d: Max = %g, want %g", n, got, wantMax)
			}
			if got := Sum64(s); math.Abs(got-wantSum) > 1e-12*float64(n)*100 {
				t.Fatalf("n=%d: Sum64 = %g, want %g", n, got, wantSum)
			}
			if n > 0 {
				for _, pos := range []int{0, n / 2, n - 1} {
					c := slices.Clone(s)
					c[pos] = float32(math.NaN())
					if got := Max(c); got == got {
						t.Fatalf("n=%d: Max with NaN at %d = %g", n, pos, got)
					}
					c[pos] = float32(math.Inf(1))
					if got := Max(c); !math.IsInf(float64(got), 1) {
						t.Fatalf("n=%d: Max with +Inf = %g", n, got)
					}
				}
				neg := make([]float32, n)
				for i := range neg {
					neg[i] = float32(math.Inf(-1))
				}
				if got := Max(neg); !math.IsInf(float64(got), -1) {
					t.Fatalf("n=%d: Max of -Inf = %g", n, got)
				}
			}
		}
	})
}

// softmaxRows returns test rows: random spreads, masked entries, -Inf, and
// rows every special case of the reference.
func softmaxRows() [][]float32 {
	rng := rand.New(rand.NewPCG(9, 10))
	var rows [][]float32
	lengths := append(slices.Clone(testLengths[1:]), 511, 512, 513, 1024, 3000)
	for _, n := range lengths {
		if raceEnabled && n > 5000 {
			continue
		}
		for _, scale := range []float64{0.01, 1, 10, 100, 1e4} {
			r := make([]float32, n)
			for i := range r {
				r[i] = float32(rng.NormFloat64() * scale)
			}
			rows = append(rows, r)
		}
		r := make([]float32, n)
		for i := range r {
			r[i] = float32(rng.NormFloat64() * 4)
			switch i % 5 {
			case 1:
				r[i] = -math.MaxFloat32
			case 3:
				r[i] = float32(math.Inf(-1))
			}
		}
		rows = append(rows, r)
	}
	inf := float32(math.Inf(1))
	rows = append(rows,
		[]float32{float32(math.Inf(-1)), float32(math.Inf(-1))},
		[]float32{1, float32(math.NaN()), 2},
		[]float32{1, inf, 2},
		[]float32{-inf, inf},
		[]float32{-math.MaxFloat32, -math.MaxFloat32, 0},
		[]float32{-math.MaxFloat32, -math.MaxFloat32},
		[]float32{math.MaxFloat32, -math.MaxFloat32, 1},
		[]float32{1e-30, 100},
		[]float32{-87, 0, -104, -110, -200, -103.9, -150, -149},
	)
	return rows
}

func TestSoftmaxRow(t *testing.T) {
	rows := softmaxRows()
	forEachPath(t, func(t *testing.T, name string) {
		var st errStats
		maxBits := int64(0)
		for _, r := range rows {
			want := make([]float32, len(r))
			softmaxRef(want, r, make([]float64, len(r)))
			got := make([]float32, len(r)+4)
			got[len(r)] = 7
			SoftmaxRow(got, r)
			if got[len(r)] != 7 {
				t.Fatalf("n=%d: wrote past the row", len(r))
			}
			in := slices.Clone(r)
			SoftmaxRow(in, in)
			// The float64 reference before its final rounding, for the
			// error figures.
			m := math.Inf(-1)
			for _, v := range r {
				m = max(m, float64(v))
			}
			exact := make([]float64, len(r))
			sum := 0.0
			for j, v := range r {
				exact[j] = math.Exp(float64(v) - m)
				sum += exact[j]
			}
			for j := range r {
				if ulpDist(in[j], got[j]) != 0 {
					t.Fatalf("n=%d: in place [%d] = %g, out of place %g", len(r), j, in[j], got[j])
				}
				d := ulpDist(got[j], want[j])
				if d > softmaxBits {
					t.Fatalf("n=%d: [%d] = %g (x=%g), reference %g: %d ulp", len(r), j, got[j], r[j], want[j], d)
				}
				maxBits = max(maxBits, d)
				masked := r[j] == -math.MaxFloat32 || math.IsInf(float64(r[j]), -1)
				if masked && !math.IsNaN(float64(want[j])) && m > -1e38 && got[j] != 0 {
					t.Fatalf("n=%d: masked entry gave %g", len(r), got[j])
				}
				if !math.IsNaN(sum) && sum > 0 {
					st.add(r[j], got[j], exact[j]/sum)
				}
			}
		}
		t.Logf("vs the unrounded float64 reference: %s", &st)
		t.Logf("max ulp from the float64 reference: %d (%d rows)", maxBits, len(rows))
	})
}

func TestNoAllocs(t *testing.T) {
	src := make([]float32, 1000)
	dst := make([]float32, 1000)
	for i := range src {
		src[i] = float32(i%50) / 7
	}
	forEachPath(t, func(t *testing.T, name string) {
		for _, f := range []struct {
			name string
			f    func()
		}{
			{"Erf", func() { Erf(dst, src) }},
			{"Exp", func() { Exp(dst, src) }},
			{"Gelu", func() { Gelu(dst, src, math.Sqrt2, false) }},
			{"SoftmaxRow128", func() { SoftmaxRow(dst[:128], src[:128]) }},
			{"SoftmaxRow1000", func() { SoftmaxRow(dst, src) }},
			{"Max", func() { _ = Max(src) }},
			{"Sum64", func() { _ = Sum64(src) }},
		} {
			if a := testing.AllocsPerRun(20, f.f); a != 0 {
				t.Errorf("%s: %v allocations per call", f.name, a)
			}
		}
	})
}
