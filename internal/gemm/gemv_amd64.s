//go:build amd64 && !purego

#include "textflag.h"

// func sgemvRowsAVX2(k, n int, a, b *float32, ldb int, c *float32)
//
// c[0:n] += Σ_p a[p]·b[p·ldb : p·ldb+n] for p = 0 … k−1, n a positive
// multiple of 8, with one fused multiply-add per term in the order of p.
// Four rows of b are read side by side, each front to back, so the
// hardware sees four sequential streams.
TEXT ·sgemvRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ n+8(FP), BX
	SHLQ $2, BX            // row length in bytes
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R8
	SHLQ $2, R8            // row stride in bytes
	MOVQ c+40(FP), R9

rows4:
	CMPQ CX, $4
	JLT  rows1
	VBROADCASTSS (SI), Y0
	VBROADCASTSS 4(SI), Y1
	VBROADCASTSS 8(SI), Y2
	VBROADCASTSS 12(SI), Y3
	MOVQ DI, R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	XORQ AX, AX

cols4:
	VMOVUPS     (R9)(AX*1), Y4
	VFMADD231PS (R10)(AX*1), Y0, Y4
	VFMADD231PS (R11)(AX*1), Y1, Y4
	VFMADD231PS (R12)(AX*1), Y2, Y4
	VFMADD231PS (R13)(AX*1), Y3, Y4
	VMOVUPS     Y4, (R9)(AX*1)
	ADDQ        $32, AX
	CMPQ        AX, BX
	JLT         cols4

	ADDQ $16, SI
	LEAQ (R13)(R8*1), DI
	SUBQ $4, CX
	JMP  rows4

rows1:
	CMPQ CX, $0
	JLE  done
	VBROADCASTSS (SI), Y0
	XORQ AX, AX

cols1:
	VMOVUPS     (R9)(AX*1), Y4
	VFMADD231PS (DI)(AX*1), Y0, Y4
	VMOVUPS     Y4, (R9)(AX*1)
	ADDQ        $32, AX
	CMPQ        AX, BX
	JLT         cols1

	ADDQ $4, SI
	ADDQ R8, DI
	DECQ CX
	JMP  rows1

done:
	VZEROUPPER
	RET

// func sgemvCols64AVX2(k int, a, b *float32, ldb int, c *float32)
//
// c[0:64] += Σ_p a[p]·b[p·ldb : p·ldb+64] for p = 0 … k−1, c held in
// registers: for a narrow B (ldb = 64: one sequential stream).
TEXT ·sgemvCols64AVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ c+32(FP), R9
	VMOVUPS (R9), Y8
	VMOVUPS 32(R9), Y9
	VMOVUPS 64(R9), Y10
	VMOVUPS 96(R9), Y11
	VMOVUPS 128(R9), Y12
	VMOVUPS 160(R9), Y13
	VMOVUPS 192(R9), Y14
	VMOVUPS 224(R9), Y15

loop64:
	CMPQ CX, $0
	JLE  store64
	VBROADCASTSS (SI), Y0
	VFMADD231PS  (DI), Y0, Y8
	VFMADD231PS  32(DI), Y0, Y9
	VFMADD231PS  64(DI), Y0, Y10
	VFMADD231PS  96(DI), Y0, Y11
	VFMADD231PS  128(DI), Y0, Y12
	VFMADD231PS  160(DI), Y0, Y13
	VFMADD231PS  192(DI), Y0, Y14
	VFMADD231PS  224(DI), Y0, Y15
	ADDQ         $4, SI
	ADDQ         R8, DI
	DECQ         CX
	JMP          loop64

store64:
	VMOVUPS Y8, (R9)
	VMOVUPS Y9, 32(R9)
	VMOVUPS Y10, 64(R9)
	VMOVUPS Y11, 96(R9)
	VMOVUPS Y12, 128(R9)
	VMOVUPS Y13, 160(R9)
	VMOVUPS Y14, 192(R9)
	VMOVUPS Y15, 224(R9)
	VZEROUPPER
	RET
