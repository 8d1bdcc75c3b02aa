//go:build ignore

// gen_asm writes kernel_amd64.s, the Go-assembly vecmath kernels, and
// kernel_amd64_decl.go, their Go declarations.
//
// Run it with `go generate ./internal/vecmath/` (see kernel_amd64.go).
//
// Each kernel is described once and emitted twice: for AVX-512 (ZMM, tails
// through an opmask) and for AVX2+FMA (YMM, tails through VMASKMOVPS). The
// two emit the same arithmetic instructions in the same order on every
// lane, so they agree bit for bit; the only ISA-specific steps (bit
// operations, compare-and-select, the 2^n scaling, which is one VSCALEFPS
// on AVX-512 and two exact-then-rounding multiplies on AVX2) give identical
// results. generic.go is the same computation in Go. Constants are read
// from a table of 64-byte rows (one value replicated), used as memory
// operands: the addend of VFMADD213 and the second source of other
// instructions.
package main

import (
	"bytes"
	"fmt"
	"go/format"
	"math"
	"os"

	cf "github.com/xt2onnx/xt2onnx/internal/vecmath/internal/coef"
)

// ---- constant table ----

type constant struct {
	name string
	bits uint64
	f64  bool
}

var consts []constant

func c32(name string, v float32) {
	consts = append(consts, constant{name, uint64(math.Float32bits(v)), false})
}
func u32(name string, v uint32)  { consts = append(consts, constant{name, uint64(v), false}) }
func c64(name string, v float64) { consts = append(consts, constant{name, math.Float64bits(v), true}) }

func init() {
	u32("abs", 0x7fffffff)
	c32("one", 1) // also 127<<23, the exponent bias
	c32("half", 0.5)
	c32("neginf", float32(math.Inf(-1)))
	c32("log2e", cf.Log2e32)
	c32("magic", cf.Magic32) // bits: Magic32Bits
	c32("nln2hi", -cf.Ln2Hi32)
	c32("nln2lo", -cf.Ln2Lo32)
	c32("e2", cf.Exp32C2)
	c32("e3", cf.Exp32C3)
	c32("e4", cf.Exp32C4)
	c32("e5", cf.Exp32C5)
	c32("e6", cf.Exp32C6)
	c32("explo", cf.ExpLo32)
	c32("exphi", cf.ExpHi32)
	c32("split", cf.ErfSplit)
	c32("clamp", cf.ErfClamp)
	for i, v := range []float32{cf.ErfSmallC0, cf.ErfSmallC1, cf.ErfSmallC2, cf.ErfSmallC3, cf.ErfSmallC4, cf.ErfSmallC5} {
		c32(fmt.Sprintf("s%d", i), v)
	}
	for i, v := range []float32{cf.ErfBigC0, cf.ErfBigC1, cf.ErfBigC2, cf.ErfBigC3, cf.ErfBigC4, cf.ErfBigC5, cf.ErfBigC6} {
		c32(fmt.Sprintf("b%d", i), v)
	}
	c64("one64", 1)
	c64("lo64", cf.SoftmaxLo)
	c64("log2e64", cf.Log2e64)
	c64("magic64", cf.Magic64)
	c64("nln2hi64", -cf.Ln2Hi64)
	c64("nln2lo64", -cf.Ln2Lo64)
	for i, v := range []float64{cf.Exp64C2, cf.Exp64C3, cf.Exp64C4, cf.Exp64C5, cf.Exp64C6, cf.Exp64C7} {
		c64(fmt.Sprintf("d%d", i+2), v)
	}
	if math.Float32bits(cf.Magic32) != cf.Magic32Bits {
		panic("magic")
	}
}

// c returns the operand of constant name: the register it was loaded into
// by regConsts, or its memory row.
func (g *gen) c(name string) string {
	if r, ok := g.cregs[name]; ok {
		return r
	}
	return cm(name)
}

// regConsts loads the named constants into the free vector registers, as
// many as there are, for the rest of the function.
func (g *gen) regConsts(free []int, names ...string) {
	g.cregs = map[string]string{}
	for i, name := range names {
		if i == len(free) {
			break
		}
		r := g.v(free[i])
		g.p("VMOVUPS %s, %s", cm(name), r)
		g.cregs[name] = r
	}
}

// cm returns the memory operand of constant name.
func cm(name string) string {
	for i, k := range consts {
		if k.name == name {
			return fmt.Sprintf("vmc<>+%d(SB)", i*64)
		}
	}
	panic("no constant " + name)
}

// ---- emitter ----

type gen struct {
	out  *bytes.Buffer
	z    bool   // AVX-512
	sfx  string // "AVX512" or "AVX2"
	w    int    // float32 lanes per vector
	name string // current function, for labels

	cregs map[string]string // constants held in registers
}

func (g *gen) p(format string, args ...any) { fmt.Fprintf(g.out, "\t"+format+"\n", args...) }
func (g *gen) label(l string)               { fmt.Fprintf(g.out, "%s_%s:\n", g.name, l) }
func (g *gen) l(l string) string            { return g.name + "_" + l }

// v names full vector register i; h its lower half (256 bits on AVX-512,
// 128 on AVX2).
func (g *gen) v(i int) string {
	if g.z {
		return fmt.Sprintf("Z%d", i)
	}
	return fmt.Sprintf("Y%d", i)
}

func (g *gen) h(i int) string {
	if g.z {
		return fmt.Sprintf("Y%d", i)
	}
	return fmt.Sprintf("X%d", i)
}

func (g *gen) begin(name, frame, comment string) {
	g.name = name + g.sfx
	g.cregs = nil
	fmt.Fprintf(g.out, "\n// %s\nTEXT ·%s(SB), %s\n", comment, g.name, frame)
}

func (g *gen) end() {
	g.p("VZEROUPPER")
	g.p("RET")
}

// Bit operations: dst = src1 op src2 (src2 may be memory).
func (g *gen) and(src2, src1, dst string) {
	g.p("%s %s, %s, %s", g.pick("VPANDD", "VANDPS"), src2, src1, dst)
}
func (g *gen) xor(src2, src1, dst string) {
	g.p("%s %s, %s, %s", g.pick("VPXORD", "VXORPS"), src2, src1, dst)
}
func (g *gen) or(src2, src1, dst string) {
	g.p("%s %s, %s, %s", g.pick("VPORD", "VORPS"), src2, src1, dst)
}

func (g *gen) pick(z, y string) string {
	if g.z {
		return z
	}
	return y
}

// tailMask sets up the mask for the CX (< w) remaining float32 elements:
// K1 on AVX-512, Y15 on AVX2. It clobbers AX and BX.
func (g *gen) tailMask() {
	if g.z {
		g.p("MOVL $1, AX")
		g.p("SHLL CX, AX")
		g.p("DECL AX")
		g.p("KMOVW AX, K1")
		return
	}
	g.p("LEAQ vmmask<>+32(SB), AX")
	g.p("MOVQ CX, BX")
	g.p("SHLQ $2, BX")
	g.p("SUBQ BX, AX")
	g.p("VMOVDQU (AX), Y15")
}

func (g *gen) loadTail(mem, dst string) {
	if g.z {
		g.p("VMOVUPS.Z %s, K1, %s", mem, dst)
	} else {
		g.p("VMASKMOVPS %s, Y15, %s", mem, dst)
	}
}

func (g *gen) storeTail(src, mem string) {
	if g.z {
		g.p("VMOVUPS %s, K1, %s", src, mem)
	} else {
		g.p("VMASKMOVPS %s, Y15, %s", src, mem)
	}
}

// ---- float32 cores ----

// expPoly: from x (finite, |x·log2e| < 2^22) computes t (n in its low
// mantissa bits), n and r, and p ≈ e^r. Registers are vector indices.
func (g *gen) expPoly(x, t, n, r, p int) {
	X, T, N, R, P := g.v(x), g.v(t), g.v(n), g.v(r), g.v(p)
	g.p("VMULPS %s, %s, %s", g.c("log2e"), X, T)
	g.p("VADDPS %s, %s, %s", g.c("magic"), T, T)
	g.p("VSUBPS %s, %s, %s", g.c("magic"), T, N)
	g.p("VMOVAPS %s, %s", X, R)
	g.p("VFMADD231PS %s, %s, %s", g.c("nln2hi"), N, R)
	g.p("VFMADD231PS %s, %s, %s", g.c("nln2lo"), N, R)
	g.p("VMOVUPS %s, %s", g.c("e6"), P)
	for _, k := range []string{"e5", "e4", "e3", "e2", "one", "one"} {
		g.p("VFMADD213PS %s, %s, %s", g.c(k), R, P)
	}
}

// expCore: out = e^in, with clamping and full-range scaling. Uses in+1..in+5
// as temporaries besides out; the clamp bounds are in registers lo and hi.
func (g *gen) expCore(in, lo, hi, x, t, n, r, out int) {
	// max(lo, x) and min(hi, ·) return their second source when either is
	// NaN, so NaN passes through.
	g.p("VMAXPS %s, %s, %s", g.v(in), g.v(lo), g.v(x))
	g.p("VMINPS %s, %s, %s", g.v(x), g.v(hi), g.v(x))
	g.expPoly(x, t, n, r, out)
	P := g.v(out)
	if g.z {
		g.p("VSCALEFPS %s, %s, %s", g.v(n), P, P)
		return
	}
	// n1 = n>>1, n2 = n − n1; p·2^n1 is exact, ·2^n2 rounds once.
	T, N, R := g.v(t), g.v(n), g.v(r)
	g.p("VPSUBD %s, %s, %s", g.c("magic"), T, N)
	g.p("VPSRAD $1, %s, %s", N, R)
	g.p("VPSUBD %s, %s, %s", R, N, N)
	g.p("VPSLLD $23, %s, %s", R, R)
	g.p("VPADDD %s, %s, %s", g.c("one"), R, R)
	g.p("VPSLLD $23, %s, %s", N, N)
	g.p("VPADDD %s, %s, %s", g.c("one"), N, N)
	g.p("VMULPS %s, %s, %s", R, P, P)
	g.p("VMULPS %s, %s, %s", N, P, P)
}

// erfCore: res = erf(in). Temporaries: a, s, tc, h, t, n, r, p, m (m only on
// AVX2).
func (g *gen) erfCore(in, res, a, s, tc, h, t, n, r, p, m int) {
	X, RES, A, S, TC, H := g.v(in), g.v(res), g.v(a), g.v(s), g.v(tc), g.v(h)
	g.and(g.c("abs"), X, A)
	// Small branch: res = a + a·q(a²).
	g.p("VMULPS %s, %s, %s", A, A, S)
	g.p("VMOVUPS %s, %s", g.c("s5"), RES)
	for _, k := range []string{"s4", "s3", "s2", "s1", "s0"} {
		g.p("VFMADD213PS %s, %s, %s", g.c(k), S, RES)
	}
	g.p("VFMADD213PS %s, %s, %s", A, A, RES)
	// Large branch: 1 − exp(h(min(a, 4))).
	g.p("VMINPS %s, %s, %s", g.c("clamp"), A, TC)
	g.p("VMOVUPS %s, %s", g.c("b6"), H)
	for _, k := range []string{"b5", "b4", "b3", "b2", "b1", "b0"} {
		g.p("VFMADD213PS %s, %s, %s", g.c(k), TC, H)
	}
	g.expPoly(h, t, n, r, p)
	T, P := g.v(t), g.v(p)
	g.p("VPSLLD $23, %s, %s", T, T) // n<<23
	g.p("VPADDD %s, %s, %s", T, P, P)
	g.p("VMOVUPS %s, %s", g.c("one"), S)
	g.p("VSUBPS %s, %s, %s", P, S, S)
	// Select the large branch where a > split (false for NaN).
	if g.z {
		g.p("VCMPPS $0x1e, %s, %s, K2", g.c("split"), A)
		g.p("VMOVAPS %s, K2, %s", S, RES)
	} else {
		M := g.v(m)
		g.p("VCMPPS $0x1e, %s, %s, %s", g.c("split"), A, M)
		g.p("VBLENDVPS %s, %s, %s, %s", M, S, RES, RES)
	}
	// Copy the sign of x.
	g.xor(A, X, A)
	g.or(A, RES, RES)
}

// elementwise emits func name(dst, src *float32, n int[, extra]) applying
// body to each vector: body reads register in and leaves its result in out.
func (g *gen) elementwise(name, frame, comment string, setup func(), in, out int, body func()) {
	g.begin(name, "NOSPLIT, "+frame, comment)
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ src+8(FP), SI")
	g.p("MOVQ n+16(FP), CX")
	if setup != nil {
		setup()
	}
	g.p("CMPQ CX, $%d", g.w)
	g.p("JLT %s", g.l("tail"))
	g.label("loop")
	g.p("VMOVUPS (SI), %s", g.v(in))
	body()
	g.p("VMOVUPS %s, (DI)", g.v(out))
	g.p("ADDQ $%d, SI", g.w*4)
	g.p("ADDQ $%d, DI", g.w*4)
	g.p("SUBQ $%d, CX", g.w)
	g.p("CMPQ CX, $%d", g.w)
	g.p("JGE %s", g.l("loop"))
	g.label("tail")
	g.p("TESTQ CX, CX")
	g.p("JEQ %s", g.l("done"))
	g.tailMask()
	g.loadTail("(SI)", g.v(in))
	body()
	g.storeTail(g.v(out), "(DI)")
	g.label("done")
	g.end()
}

// Constants worth a register, most used first.
var (
	erfConsts = []string{"s4", "s3", "s2", "s1", "s0", "b5", "b4", "b3", "b2", "b1", "b0",
		"e5", "e4", "e3", "e2", "one", "s5", "b6", "e6", "nln2hi", "nln2lo", "log2e", "magic", "abs", "clamp", "split"}
	expConsts     = []string{"e5", "e4", "e3", "e2", "one", "e6", "nln2hi", "nln2lo", "log2e", "magic"}
	softmaxConsts = []string{"d6", "d5", "d4", "d3", "d2", "one64", "d7", "nln2hi64", "nln2lo64", "log2e64", "magic64", "lo64"}
)

// free lists the vector registers a kernel leaves unused: the given ones,
// and on AVX-512 also 16–31.
func (g *gen) free(regs ...int) []int {
	if g.z {
		for r := 16; r < 32; r++ {
			regs = append(regs, r)
		}
	}
	return regs
}

func (g *gen) erf() {
	g.elementwise("erf", "$0-24", "func erf(dst, src *float32, n int)", func() {
		g.regConsts(g.free(11, 12, 13, 14), erfConsts...)
	}, 0, 1, func() {
		g.erfCore(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	})
}

func (g *gen) gelu(mul bool) {
	name, op := "geluDiv", "VDIVPS"
	if mul {
		name, op = "geluMul", "VMULPS"
	}
	g.elementwise(name, "$0-28", "func "+name+"(dst, src *float32, n int, c float32)", func() {
		g.p("VBROADCASTSS c+24(FP), %s", g.v(13))
		g.regConsts(g.free(11, 14), erfConsts...)
	}, 12, 1, func() {
		g.p("%s %s, %s, %s", op, g.v(13), g.v(12), g.v(0)) // s = x/c or x·c
		g.erfCore(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
		g.p("VADDPS %s, %s, %s", g.c("one"), g.v(1), g.v(1))
		g.p("VMULPS %s, %s, %s", g.v(1), g.v(12), g.v(1))
		g.p("VMULPS %s, %s, %s", g.c("half"), g.v(1), g.v(1))
	})
}

func (g *gen) exp() {
	g.elementwise("exp", "$0-24", "func exp(dst, src *float32, n int)", func() {
		g.p("VMOVUPS %s, %s", cm("explo"), g.v(10))
		g.p("VMOVUPS %s, %s", cm("exphi"), g.v(11))
		g.regConsts(g.free(5, 7, 8, 9, 12, 13, 14), expConsts...)
	}, 0, 6, func() {
		g.expCore(0, 10, 11, 1, 2, 3, 4, 6)
	})
}

// ---- reductions ----

// hmaxps reduces vector 0 to its maximum in X0 (uses 1).
func (g *gen) hmaxps() {
	if g.z {
		g.p("VEXTRACTF64X4 $1, Z0, Y1")
		g.p("VMAXPS Y1, Y0, Y0")
	}
	g.p("VEXTRACTF128 $1, Y0, X1")
	g.p("VMAXPS X1, X0, X0")
	g.p("VPERMILPS $0x4e, X0, X1")
	g.p("VMAXPS X1, X0, X0")
	g.p("VPERMILPS $0xb1, X0, X1")
	g.p("VMAXPS X1, X0, X0")
}

// haddpd reduces vector a (float64 lanes) to its sum in Xa (uses 1 and a).
func (g *gen) haddpd(a int) {
	if g.z {
		g.p("VEXTRACTF64X4 $1, Z%d, Y1", a)
		g.p("VADDPD Y1, Y%d, Y%d", a, a)
	}
	g.p("VEXTRACTF128 $1, Y%d, X1", a)
	g.p("VADDPD X1, X%d, X%d", a, a)
	g.p("VPERMILPD $1, X%d, X1", a)
	g.p("VADDSD X1, X%d, X%d", a, a)
}

func (g *gen) max() {
	g.begin("max", "NOSPLIT, $0-24", "func max(src *float32, n int) (m float32, nan int32)")
	g.p("MOVQ src+0(FP), SI")
	g.p("MOVQ n+8(FP), CX")
	g.p("VMOVUPS %s, %s", g.c("neginf"), g.v(0))
	g.p("VMOVUPS %s, %s", g.c("neginf"), g.v(4))
	g.p("VMOVUPS %s, %s", g.v(0), g.v(3))
	if g.z {
		g.p("KXORW K2, K2, K2")
	} else {
		g.p("VXORPS Y2, Y2, Y2")
	}
	step := func() {
		g.p("VMAXPS %s, %s, %s", g.v(1), g.v(0), g.v(0))
		if g.z {
			g.p("VCMPPS $3, Z1, Z1, K3")
			g.p("KORW K3, K2, K2")
		} else {
			g.p("VCMPPS $3, Y1, Y1, Y5")
			g.p("VORPS Y5, Y2, Y2")
		}
	}
	g.p("CMPQ CX, $%d", g.w)
	g.p("JLT %s", g.l("tail"))
	g.label("loop")
	g.p("VMOVUPS (SI), %s", g.v(1))
	step()
	g.p("ADDQ $%d, SI", g.w*4)
	g.p("SUBQ $%d, CX", g.w)
	g.p("CMPQ CX, $%d", g.w)
	g.p("JGE %s", g.l("loop"))
	g.label("tail")
	g.p("TESTQ CX, CX")
	g.p("JEQ %s", g.l("done"))
	g.tailMask()
	if g.z {
		g.p("VMOVAPS Z4, Z1")
		g.p("VMOVUPS (SI), K1, Z1") // merge: other lanes stay -Inf
	} else {
		g.p("VMASKMOVPS (SI), Y15, Y1")
		g.p("VBLENDVPS Y15, Y1, Y4, Y1")
	}
	step()
	g.label("done")
	g.hmaxps()
	g.p("VMOVSS X0, m+16(FP)")
	if g.z {
		g.p("KMOVW K2, AX")
	} else {
		g.p("VMOVMSKPS Y2, AX")
	}
	g.p("MOVL AX, nan+20(FP)")
	g.end()
}

// cvtHalves converts the float32 vector src into float64 vectors lo and hi.
func (g *gen) cvtHalves(src, lo, hi int) {
	g.p("VCVTPS2PD %s, %s", g.h(src), g.v(lo))
	if g.z {
		g.p("VEXTRACTF64X4 $1, Z%d, Y%d", src, hi)
	} else {
		g.p("VEXTRACTF128 $1, Y%d, X%d", src, hi)
	}
	g.p("VCVTPS2PD %s, %s", g.h(hi), g.v(hi))
}

// mask64 sets up the float64-lane masks of the tail: K1 (low) and K2
// (high) on AVX-512, Y13 and Y14 on AVX2 (from Y15).
func (g *gen) mask64() {
	if g.z {
		g.p("KSHIFTRW $8, K1, K2")
		return
	}
	g.p("VPMOVSXDQ X15, Y13")
	g.p("VEXTRACTI128 $1, Y15, X14")
	g.p("VPMOVSXDQ X14, Y14")
}

// addMasked adds float64 vector src into acc on the lanes of tail mask
// half (0 low, 1 high).
func (g *gen) addMasked(src, acc, half int) {
	if g.z {
		g.p("VADDPD %s, %s, K%d, %s", g.v(src), g.v(acc), half+1, g.v(acc))
		return
	}
	g.p("VANDPD Y%d, %s, %s", 13+half, g.v(src), g.v(src))
	g.p("VADDPD %s, %s, %s", g.v(src), g.v(acc), g.v(acc))
}

func (g *gen) sum64() {
	g.begin("sum64", "NOSPLIT, $0-24", "func sum64(src *float32, n int) float64")
	g.p("MOVQ src+0(FP), SI")
	g.p("MOVQ n+8(FP), CX")
	g.p("VXORPD %s, %s, %s", g.v(2), g.v(2), g.v(2))
	g.p("VXORPD %s, %s, %s", g.v(3), g.v(3), g.v(3))
	g.p("CMPQ CX, $%d", g.w)
	g.p("JLT %s", g.l("tail"))
	g.label("loop")
	g.p("VMOVUPS (SI), %s", g.v(0))
	g.cvtHalves(0, 4, 5)
	g.p("VADDPD %s, %s, %s", g.v(4), g.v(2), g.v(2))
	g.p("VADDPD %s, %s, %s", g.v(5), g.v(3), g.v(3))
	g.p("ADDQ $%d, SI", g.w*4)
	g.p("SUBQ $%d, CX", g.w)
	g.p("CMPQ CX, $%d", g.w)
	g.p("JGE %s", g.l("loop"))
	g.label("tail")
	g.p("TESTQ CX, CX")
	g.p("JEQ %s", g.l("done"))
	g.tailMask()
	g.loadTail("(SI)", g.v(0)) // masked lanes are +0
	g.cvtHalves(0, 4, 5)
	g.p("VADDPD %s, %s, %s", g.v(4), g.v(2), g.v(2))
	g.p("VADDPD %s, %s, %s", g.v(5), g.v(3), g.v(3))
	g.label("done")
	g.p("VADDPD %s, %s, %s", g.v(3), g.v(2), g.v(2))
	g.haddpd(2)
	g.p("VMOVSD X2, ret+16(FP)")
	g.end()
}

// ---- softmax ----

// exp64Core: d (float64 lanes, x − m ≤ 0) is replaced by e^d's reduction
// temporaries; the result is left in p. Uses t and n.
func (g *gen) exp64Core(d, t, n, p int) {
	D, T, N, P := g.v(d), g.v(t), g.v(n), g.v(p)
	g.p("VMAXPD %s, %s, %s", g.c("lo64"), D, D)
	g.p("VMULPD %s, %s, %s", g.c("log2e64"), D, T)
	g.p("VADDPD %s, %s, %s", g.c("magic64"), T, T)
	g.p("VSUBPD %s, %s, %s", g.c("magic64"), T, N)
	g.p("VFMADD231PD %s, %s, %s", g.c("nln2hi64"), N, D) // d becomes r
	g.p("VFMADD231PD %s, %s, %s", g.c("nln2lo64"), N, D)
	g.p("VMOVUPD %s, %s", g.c("d7"), P)
	for _, k := range []string{"d6", "d5", "d4", "d3", "d2", "one64", "one64"} {
		g.p("VFMADD213PD %s, %s, %s", g.c(k), D, P)
	}
	g.p("VPSLLQ $52, %s, %s", T, T)
	g.p("VPADDQ %s, %s, %s", T, P, P)
}

const softmaxBuf = 512 // float64 elements of the frame buffer (vecmath.go)

// Registers of the softmax passes: 0 raw x, 1/2 the float64 halves (then
// r), 3 t, 4 n, 6/7 the exponentials, 8/9 the sums, 10 m, 11 1/sum.
const (
	rM, rInv = 10, 11
)

// expHalves loads w float32 from SI (masked when tail), converts, and
// leaves e^(x−m) in 6 (low half) and 7 (high half).
func (g *gen) expHalves(tail bool) {
	if tail {
		g.loadTail("(SI)", g.v(0))
	} else {
		g.p("VMOVUPS (SI), %s", g.v(0))
	}
	g.cvtHalves(0, 1, 2)
	g.p("VSUBPD %s, %s, %s", g.v(rM), g.v(1), g.v(1))
	g.p("VSUBPD %s, %s, %s", g.v(rM), g.v(2), g.v(2))
	g.exp64Core(1, 3, 4, 6)
	g.exp64Core(2, 3, 4, 7)
}

// pack converts float64 vectors 6 and 7 to float32 and joins them in 6.
func (g *gen) pack() {
	if g.z {
		g.p("VCVTPD2PS Z6, Y6")
		g.p("VCVTPD2PS Z7, Y7")
		g.p("VINSERTF64X4 $1, Y7, Z6, Z6")
	} else {
		g.p("VCVTPD2PSY Y6, X6")
		g.p("VCVTPD2PSY Y7, X7")
		g.p("VINSERTF128 $1, X7, Y6, Y6")
	}
}

// loop emits a w-per-iteration loop over CX elements with a masked tail;
// body(tail) emits one step and the pointer advances are listed in adv.
func (g *gen) loop(tag string, body func(tail bool), adv ...string) {
	g.p("CMPQ CX, $%d", g.w)
	g.p("JLT %s", g.l(tag+"_tail"))
	g.label(tag)
	body(false)
	for _, a := range adv {
		g.p("%s", a)
	}
	g.p("SUBQ $%d, CX", g.w)
	g.p("CMPQ CX, $%d", g.w)
	g.p("JGE %s", g.l(tag))
	g.label(tag + "_tail")
	g.p("TESTQ CX, CX")
	g.p("JEQ %s", g.l(tag+"_done"))
	g.tailMask()
	g.mask64()
	body(true)
	g.label(tag + "_done")
}

// softmax emits func softmax(dst, src *float32, n int, m float64): the
// exponentials, their sum and the normalization of one row whose maximum m
// is finite. Rows of at most softmaxBuf keep the exponentials in the frame;
// longer ones compute them again in the normalization pass.
func (g *gen) softmax() {
	g.begin("softmax", fmt.Sprintf("$%d-32", softmaxBuf*8), "func softmax(dst, src *float32, n int, m float64)")
	g.p("NO_LOCAL_POINTERS")
	g.p("MOVQ dst+0(FP), DI")
	g.p("MOVQ src+8(FP), SI")
	g.p("MOVQ n+16(FP), DX")
	g.p("VBROADCASTSD m+24(FP), %s", g.v(rM))
	g.regConsts(g.free(5, 12), softmaxConsts...)
	g.p("VXORPD %s, %s, %s", g.v(8), g.v(8), g.v(8))
	g.p("VXORPD %s, %s, %s", g.v(9), g.v(9), g.v(9))
	g.p("MOVQ DX, CX")
	hb := g.w * 4 // bytes of one half of float64s
	sum := func(tail bool) {
		if tail {
			g.addMasked(6, 8, 0)
			g.addMasked(7, 9, 1)
		} else {
			g.p("VADDPD %s, %s, %s", g.v(6), g.v(8), g.v(8))
			g.p("VADDPD %s, %s, %s", g.v(7), g.v(9), g.v(9))
		}
	}
	inv := func() {
		g.p("VADDPD %s, %s, %s", g.v(9), g.v(8), g.v(8))
		g.haddpd(8)
		g.p("VMOVSD %s, X11", cm("one64"))
		g.p("VDIVSD X8, X11, X11")
		g.p("VBROADCASTSD X11, %s", g.v(rInv))
		g.p("MOVQ DX, CX")
		g.p("MOVQ src+8(FP), SI")
	}
	g.p("CMPQ DX, $%d", softmaxBuf)
	g.p("JGT %s", g.l("long"))

	// Short row: e to the frame buffer (R8), then dst = float32(e·inv).
	g.p("LEAQ buf-%d(SP), R8", softmaxBuf*8)
	g.loop("exps", func(tail bool) {
		g.expHalves(tail)
		if tail {
			if g.z {
				g.p("VMOVUPD Z6, K1, (R8)")
				g.p("VMOVUPD Z7, K2, %d(R8)", hb)
			} else {
				g.p("VMASKMOVPD Y6, Y13, (R8)")
				g.p("VMASKMOVPD Y7, Y14, %d(R8)", hb)
			}
		} else {
			g.p("VMOVUPD %s, (R8)", g.v(6))
			g.p("VMOVUPD %s, %d(R8)", g.v(7), hb)
		}
		sum(tail)
	}, fmt.Sprintf("ADDQ $%d, SI", g.w*4), fmt.Sprintf("ADDQ $%d, R8", g.w*8))
	inv()
	g.p("LEAQ buf-%d(SP), R8", softmaxBuf*8)
	g.loop("scale", func(tail bool) {
		if tail {
			if g.z {
				g.p("VMOVUPD.Z (R8), K1, Z6")
				g.p("VMOVUPD.Z %d(R8), K2, Z7", hb)
			} else {
				g.p("VMASKMOVPD (R8), Y13, Y6")
				g.p("VMASKMOVPD %d(R8), Y14, Y7", hb)
			}
		} else {
			g.p("VMOVUPD (R8), %s", g.v(6))
			g.p("VMOVUPD %d(R8), %s", hb, g.v(7))
		}
		g.p("VMULPD %s, %s, %s", g.v(rInv), g.v(6), g.v(6))
		g.p("VMULPD %s, %s, %s", g.v(rInv), g.v(7), g.v(7))
		g.pack()
		if tail {
			g.storeTail(g.v(6), "(DI)")
		} else {
			g.p("VMOVUPS %s, (DI)", g.v(6))
		}
	}, fmt.Sprintf("ADDQ $%d, R8", g.w*8), fmt.Sprintf("ADDQ $%d, DI", g.w*4))
	g.end()

	// Long row: sum, then recompute each e for the normalization.
	g.label("long")
	g.loop("sum", func(tail bool) {
		g.expHalves(tail)
		sum(tail)
	}, fmt.Sprintf("ADDQ $%d, SI", g.w*4))
	inv()
	g.loop("norm", func(tail bool) {
		g.expHalves(tail)
		g.p("VMULPD %s, %s, %s", g.v(rInv), g.v(6), g.v(6))
		g.p("VMULPD %s, %s, %s", g.v(rInv), g.v(7), g.v(7))
		g.pack()
		if tail {
			g.storeTail(g.v(6), "(DI)")
		} else {
			g.p("VMOVUPS %s, (DI)", g.v(6))
		}
	}, fmt.Sprintf("ADDQ $%d, SI", g.w*4), fmt.Sprintf("ADDQ $%d, DI", g.w*4))
	g.end()
}

func main() {
	var asm bytes.Buffer
	asm.WriteString("// Code generated by gen_asm.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\n#include \"textflag.h\"\n#include \"funcdata.h\"\n")
	decl := "// Code generated by gen_asm.go; DO NOT EDIT.\n\n//go:build amd64 && !purego\n\npackage vecmath\n"
	sigs := []struct{ name, sig string }{
		{"erf", "(dst, src *float32, n int)"},
		{"exp", "(dst, src *float32, n int)"},
		{"geluDiv", "(dst, src *float32, n int, c float32)"},
		{"geluMul", "(dst, src *float32, n int, c float32)"},
		{"max", "(src *float32, n int) (m float32, nan int32)"},
		{"sum64", "(src *float32, n int) float64"},
		{"softmax", "(dst, src *float32, n int, m float64)"},
	}
	for _, z := range []bool{true, false} {
		g := &gen{out: &asm, z: z, sfx: "AVX2", w: 8}
		if z {
			g.sfx, g.w = "AVX512", 16
		}
		g.erf()
		g.exp()
		g.gelu(false)
		g.gelu(true)
		g.max()
		g.sum64()
		g.softmax()
		for _, s := range sigs {
			decl += fmt.Sprintf("\n//go:noescape\nfunc %s%s%s\n", s.name, g.sfx, s.sig)
		}
	}
	// Constant rows and the AVX2 tail-mask table.
	asm.WriteString("\n")
	for i, k := range consts {
		for j := 0; j < 64; {
			if k.f64 {
				fmt.Fprintf(&asm, "DATA vmc<>+%d(SB)/8, $%#016x\n", i*64+j, k.bits)
				j += 8
			} else {
				fmt.Fprintf(&asm, "DATA vmc<>+%d(SB)/4, $%#08x\n", i*64+j, k.bits)
				j += 4
			}
		}
	}
	fmt.Fprintf(&asm, "GLOBL vmc<>(SB), RODATA|NOPTR, $%d\n\n", len(consts)*64)
	for j := 0; j < 16; j++ {
		v := uint32(0)
		if j < 8 {
			v = 0xffffffff
		}
		fmt.Fprintf(&asm, "DATA vmmask<>+%d(SB)/4, $%#08x\n", j*4, v)
	}
	asm.WriteString("GLOBL vmmask<>(SB), RODATA|NOPTR, $64\n")
	src, err := format.Source([]byte(decl))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	write("kernel_amd64.s", asm.Bytes())
	write("kernel_amd64_decl.go", src)
}

func write(name string, b []byte) {
	if err := os.WriteFile(name, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
