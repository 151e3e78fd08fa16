#include "textflag.h"

// The AVX2/FMA kernels of the low-precision rows (lowp.go). A BF16 weight
// becomes a float32 by zero-extending it to 32 bits and shifting it into the
// upper half (VPMOVZXWD, VPSLLD); an INT8 one by sign-extending and
// converting (VPMOVSXBD, VCVTDQ2PS). The callers pass whole vectors (BF16:
// a multiple of 8 elements; INT8: of 32, whole blocks) and do the tails.

// func dotBF16AVX2(x []float32, w []uint16) float32
// 32 elements per iteration in four accumulators, then 8 at a time.
TEXT ·dotBF16AVX2(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ w_base+24(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
loop32:
	CMPQ CX, $32
	JLT  loop8
	VPMOVZXWD (DI), Y4
	VPMOVZXWD 16(DI), Y5
	VPMOVZXWD 32(DI), Y6
	VPMOVZXWD 48(DI), Y7
	VPSLLD $16, Y4, Y4
	VPSLLD $16, Y5, Y5
	VPSLLD $16, Y6, Y6
	VPSLLD $16, Y7, Y7
	VFMADD231PS (SI), Y4, Y0
	VFMADD231PS 32(SI), Y5, Y1
	VFMADD231PS 64(SI), Y6, Y2
	VFMADD231PS 96(SI), Y7, Y3
	ADDQ $128, SI
	ADDQ $64, DI
	SUBQ $32, CX
	JMP  loop32
loop8:
	CMPQ CX, $8
	JLT  reduce
	VPMOVZXWD (DI), Y4
	VPSLLD $16, Y4, Y4
	VFMADD231PS (SI), Y4, Y0
	ADDQ $32, SI
	ADDQ $16, DI
	SUBQ $8, CX
	JMP  loop8
reduce:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func axpyBF16AVX2(a float32, w []uint16, y []float32)
// y += a·w, 16 elements per iteration, then 8.
TEXT ·axpyBF16AVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS a+0(FP), Y8
	MOVQ w_base+8(FP), SI
	MOVQ w_len+16(FP), CX
	MOVQ y_base+32(FP), DI
loop16:
	CMPQ CX, $16
	JLT  loop8
	VPMOVZXWD (SI), Y4
	VPMOVZXWD 16(SI), Y5
	VPSLLD $16, Y4, Y4
	VPSLLD $16, Y5, Y5
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VFMADD231PS Y4, Y8, Y0
	VFMADD231PS Y5, Y8, Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  loop16
loop8:
	CMPQ CX, $8
	JLT  done
	VPMOVZXWD (SI), Y4
	VPSLLD $16, Y4, Y4
	VMOVUPS (DI), Y0
	VFMADD231PS Y4, Y8, Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  loop8
done:
	VZEROUPPER
	RET

// func dotQ8AVX2(x []float32, q []int8, s []float32) float32
// Two blocks of 32 per iteration (then one): each block's products summed
// in two accumulators, then scaled into one of two totals with one fused
// multiply-add.
TEXT ·dotQ8AVX2(SB), NOSPLIT, $0-76
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ q_base+24(FP), DI
	MOVQ s_base+48(FP), BX
	SHRQ $5, CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
loop2:
	CMPQ CX, $2
	JLT  loop
	VPMOVSXBD (DI), Y4
	VPMOVSXBD 8(DI), Y5
	VPMOVSXBD 16(DI), Y6
	VPMOVSXBD 24(DI), Y7
	VPMOVSXBD 32(DI), Y10
	VPMOVSXBD 40(DI), Y11
	VPMOVSXBD 48(DI), Y12
	VPMOVSXBD 56(DI), Y13
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VCVTDQ2PS Y10, Y10
	VCVTDQ2PS Y11, Y11
	VCVTDQ2PS Y12, Y12
	VCVTDQ2PS Y13, Y13
	VMULPS (SI), Y4, Y4
	VMULPS 32(SI), Y5, Y5
	VMULPS 128(SI), Y10, Y10
	VMULPS 160(SI), Y11, Y11
	VFMADD231PS 64(SI), Y6, Y4
	VFMADD231PS 96(SI), Y7, Y5
	VFMADD231PS 192(SI), Y12, Y10
	VFMADD231PS 224(SI), Y13, Y11
	VADDPS Y5, Y4, Y4
	VADDPS Y11, Y10, Y10
	VBROADCASTSS (BX), Y8
	VBROADCASTSS 4(BX), Y9
	VFMADD231PS Y8, Y4, Y0
	VFMADD231PS Y9, Y10, Y1
	ADDQ $256, SI
	ADDQ $64, DI
	ADDQ $8, BX
	SUBQ $2, CX
	JMP  loop2
loop:
	TESTQ CX, CX
	JZ    reduce
	VPMOVSXBD (DI), Y4
	VPMOVSXBD 8(DI), Y5
	VPMOVSXBD 16(DI), Y6
	VPMOVSXBD 24(DI), Y7
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VMULPS (SI), Y4, Y4
	VMULPS 32(SI), Y5, Y5
	VFMADD231PS 64(SI), Y6, Y4
	VFMADD231PS 96(SI), Y7, Y5
	VADDPS Y5, Y4, Y4
	VBROADCASTSS (BX), Y8
	VFMADD231PS Y8, Y4, Y0
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, BX
	DECQ CX
	JMP  loop
reduce:
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+72(FP)
	RET

// func axpyQ8AVX2(a float32, q []int8, s []float32, y []float32)
// y += (a·s[b])·q over each block b of 32.
TEXT ·axpyQ8AVX2(SB), NOSPLIT, $0-80
	VBROADCASTSS a+0(FP), Y9
	MOVQ q_base+8(FP), SI
	MOVQ q_len+16(FP), CX
	MOVQ s_base+32(FP), BX
	MOVQ y_base+56(FP), DI
	SHRQ $5, CX
loop:
	TESTQ CX, CX
	JZ    done
	VBROADCASTSS (BX), Y8
	VMULPS Y9, Y8, Y8
	VPMOVSXBD (SI), Y4
	VPMOVSXBD 8(SI), Y5
	VPMOVSXBD 16(SI), Y6
	VPMOVSXBD 24(SI), Y7
	VCVTDQ2PS Y4, Y4
	VCVTDQ2PS Y5, Y5
	VCVTDQ2PS Y6, Y6
	VCVTDQ2PS Y7, Y7
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	VMOVUPS 64(DI), Y2
	VMOVUPS 96(DI), Y3
	VFMADD231PS Y4, Y8, Y0
	VFMADD231PS Y5, Y8, Y1
	VFMADD231PS Y6, Y8, Y2
	VFMADD231PS Y7, Y8, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	ADDQ $4, BX
	DECQ CX
	JMP  loop
done:
	VZEROUPPER
	RET

// func widenBF16AVX2(dst []float32, h []uint16)
// dst = h widened, 8 at a time (len a multiple of 8).
TEXT ·widenBF16AVX2(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ h_base+24(FP), SI
	MOVQ h_len+32(FP), CX
	SHRQ $3, CX
loop:
	TESTQ CX, CX
	JZ    done
	VPMOVZXWD (SI), Y0
	VPSLLD $16, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $16, SI
	ADDQ $32, DI
	DECQ CX
	JMP  loop
done:
	VZEROUPPER
	RET

// func dequantQ8AVX2(dst []float32, q []int8, s []float32)
// dst = q·s block by block (whole blocks of 32): the conversion is exact
// and the product rounds once, as in the scalar loop.
TEXT ·dequantQ8AVX2(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ q_base+24(FP), SI
	MOVQ q_len+32(FP), CX
	MOVQ s_base+48(FP), BX
	SHRQ $5, CX
loop:
	TESTQ CX, CX
	JZ    done
	VBROADCASTSS (BX), Y8
	VPMOVSXBD (SI), Y0
	VPMOVSXBD 8(SI), Y1
	VPMOVSXBD 16(SI), Y2
	VPMOVSXBD 24(SI), Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS Y8, Y0, Y0
	VMULPS Y8, Y1, Y1
	VMULPS Y8, Y2, Y2
	VMULPS Y8, Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	ADDQ $4, BX
	DECQ CX
	JMP  loop
done:
	VZEROUPPER
	RET
