package vecmath

import (
	"math"

	cf "github.com/xt2onnx/xt2onnx/internal/vecmath/internal/coef"
)

// The portable kernels. They evaluate the formulas of the assembly kernels
// (gen_asm.go) with the same float32 coefficients, but in float64
// arithmetic, rounding to float32 once at the end: emulating float32 FMAs
// exactly would make every step of the polynomials a long-latency
// float64 round trip, and the code here has to be fast on CPUs without the
// assembly (arm64 in particular). Both branches of erf are computed and one
// is selected without a jump, since which one applies is unpredictable.
// The results therefore differ from the assembly's in the last bit on a
// small fraction of inputs (TestPathsAgree counts them), and are slightly
// more accurate. Every float32 operation of the GELU pattern is written
// with an explicit conversion, so that the compiler cannot fuse it (the Go
// spec allows fusing x*y + z otherwise).

// sel returns b if c, else a, without a branch.
func sel(c bool, a, b float64) float64 {
	var m uint64
	if c {
		m = 1
	}
	m = -m
	ua, ub := math.Float64bits(a), math.Float64bits(b)
	return math.Float64frombits(ua ^ (ua^ub)&m)
}

// expPoly returns e^x for |x| < 1022·ln2 − 1, from the float32 exp
// formula evaluated in float64; NaN for NaN.
func expPoly(x float64) float64 {
	t := x*float64(cf.Log2e32) + cf.Magic64
	n := t - cf.Magic64
	r := x - n*cf.Ln2Hi64 - n*cf.Ln2Lo64
	p := float64(cf.Exp32C6)*r + float64(cf.Exp32C5)
	p = p*r + float64(cf.Exp32C4)
	p = p*r + float64(cf.Exp32C3)
	p = p*r + float64(cf.Exp32C2)
	p = p*r + 1
	p = p*r + 1
	return p * math.Float64frombits(uint64(int64(n)+1023)<<52)
}

// erfChunk replaces each x[i] by erf(x[i]), using sm and h (at least as
// long as x) as scratch. Each step is a loop of its own: the iterations of
// a short loop overlap, where one long dependency chain per element would
// not.
func erfChunk(x, sm, h []float64) {
	sm, h = sm[:len(x)], h[:len(x)]
	for i, v := range x {
		a := math.Abs(v)
		s := a * a
		q := float64(cf.ErfSmallC5)*s + float64(cf.ErfSmallC4)
		q = q*s + float64(cf.ErfSmallC3)
		q = q*s + float64(cf.ErfSmallC2)
		q = q*s + float64(cf.ErfSmallC1)
		q = q*s + float64(cf.ErfSmallC0)
		sm[i] = q*a + a
	}
	for i, v := range x {
		a := math.Abs(v)
		t := sel(a < float64(cf.ErfClamp), float64(cf.ErfClamp), a) // NaN: 4, unused
		p := float64(cf.ErfBigC6)*t + float64(cf.ErfBigC5)
		p = p*t + float64(cf.ErfBigC4)
		p = p*t + float64(cf.ErfBigC3)
		p = p*t + float64(cf.ErfBigC2)
		p = p*t + float64(cf.ErfBigC1)
		h[i] = p*t + float64(cf.ErfBigC0)
	}
	for i, v := range h {
		h[i] = 1 - expPoly(v)
	}
	for i, v := range x {
		x[i] = math.Copysign(sel(math.Abs(v) > float64(cf.ErfSplit), sm[i], h[i]), v)
	}
}

// geluTail is the float32 arithmetic after the erf node of the GELU
// pattern: Add(e, 1), Mul(x, ·), Mul(·, 0.5), each rounded.
func geluTail(x, e float32) float32 {
	u := float32(e + 1)
	v := float32(x * u)
	return float32(v * 0.5)
}

// exp64 is the float64 exponential of SoftmaxRow for d ≤ 0 (not NaN).
func exp64(d float64) float64 {
	d = max(d, cf.SoftmaxLo)
	t := float64(d*cf.Log2e64) + cf.Magic64
	n := float64(t - cf.Magic64)
	r := math.FMA(n, -cf.Ln2Hi64, d)
	r = math.FMA(n, -cf.Ln2Lo64, r)
	p := math.FMA(cf.Exp64C7, r, cf.Exp64C6)
	p = math.FMA(p, r, cf.Exp64C5)
	p = math.FMA(p, r, cf.Exp64C4)
	p = math.FMA(p, r, cf.Exp64C3)
	p = math.FMA(p, r, cf.Exp64C2)
	p = math.FMA(p, r, 1)
	p = math.FMA(p, r, 1)
	return math.Float64frombits(math.Float64bits(p) + math.Float64bits(t)<<52)
}

// goChunk is the block of elements the Go kernels convert to float64 at a
// time. Converting in loops of their own also matters on amd64: CVTSS2SD
// and CVTSD2SS write only the low lane of their destination register, and
// in a loop that converts and computes, the register the compiler picks
// often still holds the previous element's result, which chains every
// element to the previous one (3× slower).
const goChunk = 64

func erfGo(dst, src []float32) {
	dst = dst[:len(src)]
	var xb, sb, hb [goChunk]float64
	for len(src) > 0 {
		n := min(len(src), goChunk)
		x := xb[:n]
		for i, v := range src[:n] {
			x[i] = float64(v)
		}
		erfChunk(x, sb[:], hb[:])
		for i, v := range x {
			dst[i] = float32(v)
		}
		src, dst = src[n:], dst[n:]
	}
}

func geluGo(dst, src []float32, c float32, mul bool) {
	dst = dst[:len(src)]
	var xb, sb, hb [goChunk]float64
	for len(src) > 0 {
		n := min(len(src), goChunk)
		x := xb[:n]
		for i, v := range src[:n] {
			if mul {
				x[i] = float64(float32(v * c))
			} else {
				x[i] = float64(float32(v / c))
			}
		}
		erfChunk(x, sb[:], hb[:])
		for i, v := range x {
			dst[i] = geluTail(src[i], float32(v))
		}
		src, dst = src[n:], dst[n:]
	}
}

func expGo(dst, src []float32) {
	dst = dst[:len(src)]
	var xb [goChunk]float64
	for len(src) > 0 {
		n := min(len(src), goChunk)
		x := xb[:n]
		for i, v := range src[:n] {
			x[i] = float64(min(max(v, cf.ExpLo32), cf.ExpHi32)) // NaN stays NaN
		}
		for i, v := range x {
			x[i] = expPoly(v)
		}
		// Rounding to float32 rounds once: to a subnormal, to zero or to
		// infinity where that is the answer.
		for i, v := range x {
			dst[i] = float32(v)
		}
		src, dst = src[n:], dst[n:]
	}
}

// maxGo returns the largest element (-Inf when empty) and whether any
// element is NaN.
func maxGo(src []float32) (m float32, nan bool) {
	m = float32(math.Inf(-1))
	for _, x := range src {
		if x != x {
			nan = true
		}
		m = max(m, x)
	}
	return m, nan
}

func sum64Go(src []float32) float64 {
	s := 0.0
	for _, x := range src {
		s += float64(x)
	}
	return s
}

// expSumGo stores e_j = exp64(x_j − m) in e (when e is not nil) and returns
// their sum.
func expSumGo(e []float64, src []float32, m float64) float64 {
	var buf [goChunk]float64
	s := 0.0
	for j := 0; j < len(src); j += goChunk {
		n := min(len(src)-j, goChunk)
		b := buf[:n]
		if e != nil {
			b = e[j : j+n]
		}
		for i, x := range src[j : j+n] {
			b[i] = float64(x)
		}
		for i, v := range b {
			b[i] = exp64(v - m)
			s += b[i]
		}
	}
	return s
}

// expScaleGo writes float32(exp64(x_j − m)·inv).
func expScaleGo(dst, src []float32, m, inv float64) {
	dst = dst[:len(src)]
	var buf [goChunk]float64
	for j := 0; j < len(src); j += goChunk {
		n := min(len(src)-j, goChunk)
		b := buf[:n]
		for i, x := range src[j : j+n] {
			b[i] = float64(x)
		}
		for i, v := range b {
			b[i] = exp64(v-m) * inv
		}
		for i, v := range b {
			dst[j+i] = float32(v)
		}
	}
}

// scaleGo writes float32(e_j·inv).
func scaleGo(dst []float32, e []float64, inv float64) {
	dst = dst[:len(e)]
	for j, v := range e {
		e[j] = v * inv
	}
	for j, v := range e {
		dst[j] = float32(v)
	}
}
