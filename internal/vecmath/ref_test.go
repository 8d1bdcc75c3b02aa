package vecmath

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// References and helpers shared by the tests, fuzz targets and benchmarks.

// softmaxRef is the scalar reference of SoftmaxRow, with scratch e.
func softmaxRef(dst, src []float32, e []float64) {
	m := math.Inf(-1)
	for _, v := range src {
		m = max(m, float64(v))
	}
	if math.IsInf(m, -1) {
		m = 0
	}
	sum := 0.0
	for j, v := range src {
		e[j] = math.Exp(float64(v) - m)
		sum += e[j]
	}
	inv := 1 / sum
	for j := range src {
		dst[j] = float32(e[j] * inv)
	}
}

// ulp32 is the spacing of float32 values at |w| (w finite).
func ulp32(w float64) float64 {
	w = math.Abs(w)
	if w < 0x1p-126 {
		return 0x1p-149
	}
	_, e := math.Frexp(w) // w = f·2^e, f in [0.5, 1)
	if w >= math.MaxFloat32 {
		e = 128
	}
	return math.Ldexp(1, e-24)
}

// ulpDist is the number of float32 values between a and b (0 when equal,
// NaN-equal, or both the same infinity; a large number across signs).
func ulpDist(a, b float32) int64 {
	if a == b || a != a && b != b {
		return 0
	}
	if a != a || b != b {
		return math.MaxInt64
	}
	ord := func(f float32) int64 {
		u := int64(math.Float32bits(f) &^ (1 << 31))
		if math.Signbit(float64(f)) {
			return -u
		}
		return u
	}
	d := ord(a) - ord(b)
	if d < 0 {
		d = -d
	}
	return d
}

// errStats accumulates the error of float32 results against a float64
// reference.
type errStats struct {
	n                      int
	maxAbs, maxRel, maxUlp float64
	atAbs, atRel, atUlp    float32
	maxBits                int64 // against the correctly rounded float32
	atBits                 float32
}

func (s *errStats) add(x, got float32, want float64) {
	s.n++
	g := float64(got)
	if w32 := float64(float32(want)); math.IsNaN(want) || math.IsInf(w32, 0) || math.IsInf(g, 0) {
		if !(g == w32 || math.IsNaN(g) && math.IsNaN(want)) {
			s.maxAbs, s.maxRel, s.maxUlp, s.maxBits = math.Inf(1), math.Inf(1), math.Inf(1), math.MaxInt64
			s.atAbs, s.atRel, s.atUlp, s.atBits = x, x, x, x
		}
		return
	}
	d := math.Abs(g - want)
	if d > s.maxAbs {
		s.maxAbs, s.atAbs = d, x
	}
	if math.Abs(want) >= 0x1p-126 { // relative error of normal results only
		if r := d / math.Abs(want); r > s.maxRel {
			s.maxRel, s.atRel = r, x
		}
	}
	if u := d / ulp32(want); u > s.maxUlp {
		s.maxUlp, s.atUlp = u, x
	}
	if b := ulpDist(got, float32(want)); b > s.maxBits {
		s.maxBits, s.atBits = b, x
	}
}

func (s *errStats) String() string {
	return fmt.Sprintf("n=%d maxabs=%.3g (x=%g) maxrel=%.3g (x=%g) maxulp=%.3f (x=%g) maxbits=%d (x=%g)",
		s.n, s.maxAbs, s.atAbs, s.maxRel, s.atRel, s.maxUlp, s.atUlp, s.maxBits, s.atBits)
}

// specials are values every kernel is checked on.
var specials = func() []float32 {
	v := []float64{0, 1, 0.5, 2, 3, 3.6, 3.8325, 3.875, 4, 5, 10, 100, 1e10, 1e30,
		math.MaxFloat32, math.SmallestNonzeroFloat32, 0x1p-126, 0x1p-127, 3e-39, 1e-20, 1e-7,
		0.921875, 0.9218749, 0.9218751, 0.3465736, 0.3465737,
		88.72283, 88.72284, 88.7228, 88.8, 89, 87.33654, 87.3365, 103.97208, 103.972084, 103.9721, 104, 110, 126, 150,
		math.Inf(1), math.Ln2, math.Ln2 / 2}
	var out []float32
	for _, x := range v {
		f := float32(x)
		out = append(out, f, -f, math.Nextafter32(f, 0), -math.Nextafter32(f, 0),
			math.Nextafter32(f, float32(math.Inf(1))), -math.Nextafter32(f, float32(math.Inf(1))))
	}
	return append(out, float32(math.NaN()), -float32(math.NaN()), math.Float32frombits(0x7fc01234), math.Float32frombits(0xff800001))
}()

// testInputs returns the special values, a sweep over all float32 bit
// patterns with the given stride, a dense sweep of [-6, 6] and random
// values (random bits, and uniform on [-12, 12]).
func testInputs(stride uint32, dense int, random int) []float32 {
	xs := append([]float32(nil), specials...)
	for u := uint64(12345 % stride); u < 1<<32; u += uint64(stride) {
		xs = append(xs, math.Float32frombits(uint32(u)))
	}
	for i := range dense {
		xs = append(xs, float32(-6+12*float64(i)/float64(dense)))
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for range random {
		xs = append(xs, math.Float32frombits(rng.Uint32()), float32(rng.Float64()*24-12))
	}
	return xs
}

// forEachPath runs f with each path available here forced.
func forEachPath(t *testing.T, f func(t *testing.T, name string)) {
	for _, name := range pathList() {
		t.Run(name, func(t *testing.T) {
			defer setPath(name)()
			f(t, name)
		})
	}
}

// onPath runs f with path name forced.
func onPath(name string, f func()) {
	defer setPath(name)()
	f()
}

// testLengths are the slice lengths the elementwise tests cover.
var testLengths = func() []int {
	var ls []int
	for n := 0; n <= 70; n++ {
		ls = append(ls, n)
	}
	return append(ls, 127, 128, 129, 1000, 4099, 65537)
}()

// merge folds o into s.
func (s *errStats) merge(o *errStats) {
	s.n += o.n
	if o.maxAbs > s.maxAbs {
		s.maxAbs, s.atAbs = o.maxAbs, o.atAbs
	}
	if o.maxRel > s.maxRel {
		s.maxRel, s.atRel = o.maxRel, o.atRel
	}
	if o.maxUlp > s.maxUlp {
		s.maxUlp, s.atUlp = o.maxUlp, o.atUlp
	}
	if o.maxBits > s.maxBits {
		s.maxBits, s.atBits = o.maxBits, o.atBits
	}
}
