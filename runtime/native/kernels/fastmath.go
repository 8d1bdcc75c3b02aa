package kernels

import "math"

// expFast is e^x for float32 work, in float64: 2^k·P(r) with x = k·ln2 + r,
// |r| ≤ ln2/2, P the degree-9 Taylor polynomial (relative error below
// 3e-11, far below a float32 rounding). k is rounded with the 1.5·2^52
// shifter instead of a call to math.Floor, and the common path has one
// branch, so that loops evaluating it on several values at once overlap
// them.
func expFast(x float64) float64 {
	if !(x >= -708.39 && x <= 709.78) {
		switch {
		case x != x:
			return x
		case x > 0:
			return math.Inf(1)
		case x < -745.14:
			return 0
		}
		return math.Exp(x) // subnormal results
	}
	const (
		log2e   = 1.4426950408889634
		ln2hi   = 6.93147180369123816490e-01
		ln2lo   = 1.90821492927058770002e-10
		shifter = 0x1.8p52
	)
	kf := x*log2e + shifter
	k := kf - shifter
	r := (x - k*ln2hi) - k*ln2lo
	p := 1.0/40320 + r*(1.0/362880)
	p = 1.0/5040 + r*p
	p = 1.0/720 + r*p
	p = 1.0/120 + r*p
	p = 1.0/24 + r*p
	p = 1.0/6 + r*p
	p = 0.5 + r*p
	p = 1 + r*p
	p = 1 + r*p
	ki := int64(math.Float64bits(kf) - math.Float64bits(shifter))
	return p * math.Float64frombits(uint64(ki+1023)<<52)
}
