// Package coef holds the constants shared by the vecmath Go kernels and the
// assembly generator (gen_asm.go), so that every path evaluates the same
// polynomials with the same coefficients.
//
// The polynomial coefficients were fitted by ../../gen_coef.go (weighted
// minimax, coefficients rounded to float32 one at a time with refits); its
// output is pasted here.
package coef

import "math"

// Range reduction for exp: x = n·ln2 + r, n = round(x·log2e), with ln2 split
// so that n·Ln2Hi is exact and the reduction in two FMAs loses nothing that
// matters.
const (
	Log2e32 float32 = math.Log2E
	Ln2Hi32 float32 = 0.693145751953125     // 0x3f317200, 15 significant bits
	Ln2Lo32 float32 = 1.428606765330187e-06 // ln2 − Ln2Hi32, rounded

	// Magic32 = 1.5·2^23: adding it to |y| < 2^22 rounds y to an integer
	// (ties to even) held in the low mantissa bits.
	Magic32     float32 = 12582912
	Magic32Bits uint32  = 0x4b400000

	Log2e64 float64 = math.Log2E
	Ln2Hi64 float64 = 6.93147180369123816490e-01 // 0x3fe62e42fee00000
	Ln2Lo64 float64 = 1.90821492927058770002e-10 // ln2 − Ln2Hi64
	Magic64 float64 = 6755399441055744           // 1.5·2^52
)

// Exp clamps: below ExpLo32 e^x < 2^-150 rounds to 0, above ExpHi32 it
// overflows; inside, n stays within [-150, 129], so 2^n splits into two
// normal halves.
const (
	ExpLo32 float32 = -104
	ExpHi32 float32 = 89
	// SoftmaxLo: exponents below this give e^d < 2^-158, which rounds to 0 in
	// float32 after division by a sum ≥ 1 and is negligible in that sum.
	SoftmaxLo float64 = -110
)

// e^r ≈ 1 + r + r²·(C2 + r·(C3 + r·(C4 + r·(C5 + r·C6)))) on |r| ≤ ln2/2:
// relative error 3.6e-9 (0.03 ulp) with these float32 coefficients.
const (
	Exp32C2 float32 = 0.49999994  // 0x3efffffe
	Exp32C3 float32 = 0.16666521  // 0x3e2aaa49
	Exp32C4 float32 = 0.04166839  // 0x3d2aac79
	Exp32C5 float32 = 0.008368745 // 0x3c091d10
	Exp32C6 float32 = 0.001381454 // 0x3ab511e8
)

// The float64 exp used by SoftmaxRow: degree 7, relative error 5.2e-11.
const (
	Exp64C2 float64 = 0.5000000067839763
	Exp64C3 float64 = 0.16666665867007488
	Exp64C4 float64 = 0.0416662943643383
	Exp64C5 float64 = 0.008333497341014691
	Exp64C6 float64 = 0.0013944703589272552
	Exp64C7 float64 = 0.00019790298094258952
)

// ErfSplit separates the two erf approximations (on |x|).
const ErfSplit float32 = 0.921875

// erf(x) ≈ x + x·q(x²) for |x| ≤ ErfSplit, q(s) = Σ ErfSmallCk·s^k:
// relative error 2.7e-8 with these float32 coefficients.
const (
	ErfSmallC0 float32 = 0.12837915     // 0x3e0375d3
	ErfSmallC1 float32 = -0.37612495    // 0xbec09373
	ErfSmallC2 float32 = 0.11281816     // 0x3de70d35
	ErfSmallC3 float32 = -0.026766617   // 0xbcdb45aa
	ErfSmallC4 float32 = 0.0049931803   // 0x3ba39dd5
	ErfSmallC5 float32 = -0.00059908535 // 0xba1d0bf0
)

// erf(t) ≈ 1 − exp(h(t)) for ErfSplit < t ≤ ErfClamp, h(t) = Σ ErfBigCk·t^k
// ≈ ln erfc(t): absolute error of erf 2.1e-9 with these coefficients. Above
// ErfClamp, erf rounds to 1 in float32 (that starts at 3.8325).
const (
	ErfClamp float32 = 4
	ErfBigC0 float32 = -0.00020988433 // 0xb95c1465
	ErfBigC1 float32 = -1.1276155     // 0xbf9055b4
	ErfBigC2 float32 = -0.6372858     // 0xbf23252a
	ErfBigC3 float32 = -0.103838846   // 0xbdd4a976
	ErfBigC4 float32 = 0.022181368    // 0x3cb5b5b3
	ErfBigC5 float32 = -0.0030315926  // 0xbb46adaf
	ErfBigC6 float32 = 0.00019473363  // 0x394c3169
)
