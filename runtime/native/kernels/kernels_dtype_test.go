package kernels

import (
	"math"
	"math/big"
	"math/rand/v2"
	"sort"
	"testing"
)

// roundOracle rounds f to the nearest value of a binary format given by
// its positive bit patterns (monotone in value: patterns 0..inf, where inf
// is the +Inf pattern), ties to the even pattern, with exact math/big
// arithmetic. overflow is the value +Inf stands for when rounding (2^(emax+1)),
// as IEEE 754 rounds to Inf from halfway between the largest finite value and it.
func roundOracle(f float64, inf uint16, value func(uint16) float64, overflow *big.Rat) uint16 {
	sign := uint16(0)
	if math.Signbit(f) {
		sign = 0x8000
	}
	a := math.Abs(f)
	if math.IsInf(a, 1) {
		return sign | inf
	}
	ratOf := func(p uint16) *big.Rat {
		if p == inf {
			return overflow
		}
		return new(big.Rat).SetFloat64(value(p))
	}
	x := new(big.Rat).SetFloat64(a)
	// hi: the first pattern whose value is >= a.
	n := sort.Search(int(inf)+1, func(i int) bool { return ratOf(uint16(i)).Cmp(x) >= 0 })
	if n > int(inf) {
		return sign | inf
	}
	hi := uint16(n)
	if hi == 0 || ratOf(hi).Cmp(x) == 0 {
		return sign | hi
	}
	lo := hi - 1
	dlo := new(big.Rat).Sub(x, ratOf(lo))
	dhi := new(big.Rat).Sub(ratOf(hi), x)
	switch c := dlo.Cmp(dhi); {
	case c < 0:
		return sign | lo
	case c > 0:
		return sign | hi
	case lo&1 == 0:
		return sign | lo
	default:
		return sign | hi
	}
}

// roundingInputs returns edge values and random values of every magnitude,
// with values on, beside and halfway between neighbouring patterns of the
// format (value, inf), each also perturbed by a tiny amount either way so a
// second rounding would show.
func roundingInputs(inf uint16, value func(uint16) float64) []float64 {
	in := []float64{0, math.Copysign(0, -1), 1, -1, 1 + 1.0/256 + 1.0/(1<<40), 1 + 1.0/256, 1 + 3.0/256 - 1.0/(1<<40),
		math.SmallestNonzeroFloat64, math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1),
		math.SmallestNonzeroFloat32, math.MaxFloat32, 1e-40, 1e-45, 65504, 65519.99, 65520, 65536}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		in = append(in, math.Float64frombits(r.Uint64())) // every exponent, NaN included
		p := uint16(r.IntN(int(inf) - 1))
		lo, hi := value(p), value(p+1)
		mid := lo + (hi-lo)/2
		for _, v := range []float64{lo, mid, math.Nextafter(mid, 0), math.Nextafter(mid, math.Inf(1)),
			mid + (hi-lo)*0x1p-30, mid - (hi-lo)*0x1p-30, lo + (hi-lo)*r.Float64()} {
			in = append(in, v, -v)
		}
	}
	return in
}

func TestBFloat16FromRoundsOnce(t *testing.T) {
	value := func(p uint16) float64 { return float64(BFloat16(p).Float32()) }
	overflow := new(big.Rat).SetFloat64(0x1p128)
	for _, f := range roundingInputs(0x7f80, value) {
		got := uint16(BFloat16From(f))
		if math.IsNaN(f) {
			if got&0x7f80 != 0x7f80 || got&0x7f == 0 {
				t.Errorf("BFloat16From(NaN %#x) = %#04x, not a NaN", math.Float64bits(f), got)
			}
			continue
		}
		if want := roundOracle(f, 0x7f80, value, overflow); got != want {
			t.Errorf("BFloat16From(%v = %#x) = %#04x (%v), want %#04x (%v)", f, math.Float64bits(f),
				got, value(got&0x7fff), want, value(want&0x7fff))
		}
	}
	// The case: 1 + 2^-8 + 2^-40 is above the tie, so it rounds up.
	if got := BFloat16From(1 + 1.0/256 + 1.0/(1<<40)).Float32(); got != 1.0078125 {
		t.Errorf("BFloat16From(1 + 2^-8 + 2^-40) = %v, want 1.0078125", got)
	}
}

func TestFloat16FromRoundsOnce(t *testing.T) {
	value := func(p uint16) float64 { return float64(Float16(p).Float32()) }
	overflow := new(big.Rat).SetFloat64(65536)
	for _, f := range roundingInputs(0x7c00, value) {
		got := uint16(Float16From(f))
		if math.IsNaN(f) {
			if got&0x7c00 != 0x7c00 || got&0x3ff == 0 {
				t.Errorf("Float16From(NaN) = %#04x, not a NaN", got)
			}
			continue
		}
		if want := roundOracle(f, 0x7c00, value, overflow); got != want {
			t.Errorf("Float16From(%v = %#x) = %#04x, want %#04x", f, math.Float64bits(f), got, want)
		}
	}
}
