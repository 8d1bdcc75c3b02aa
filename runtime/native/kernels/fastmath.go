package kernels

import "math"

// expFast is e^x for float32 work, in float64: 2^k·P(r) with x = k·ln2 + r,
// |r| ≤ ln2/2, P a degree-11 Taylor polynomial (relative error below 1e-15,
// far below a float32 rounding). It is written for loops that evaluate it
// on several independent values at once: no branches on the common path,
// no function call.
func expFast(x float64) float64 {
	switch {
	case x != x:
		return x
	case x > 709.78:
		return math.Inf(1)
	case x < -745.13:
		return 0
	}
	const (
		log2e = 1.4426950408889634
		ln2hi = 6.93147180369123816490e-01
		ln2lo = 1.90821492927058770002e-10
	)
	k := math.Floor(x*log2e + 0.5)
	r := (x - k*ln2hi) - k*ln2lo
	p := 1.0/39916800 + r*(1.0/479001600)
	p = 1.0/3628800 + r*p
	p = 1.0/362880 + r*p
	p = 1.0/40320 + r*p
	p = 1.0/5040 + r*p
	p = 1.0/720 + r*p
	p = 1.0/120 + r*p
	p = 1.0/24 + r*p
	p = 1.0/6 + r*p
	p = 0.5 + r*p
	p = 1 + r*p
	p = 1 + r*p
	ki := int64(k)
	if ki < -1022 {
		// Subnormal result: scale in two steps.
		return p * math.Float64frombits(uint64(ki+1022+1023)<<52) * 0x1p-1022
	}
	return p * math.Float64frombits(uint64(ki+1023)<<52)
}
