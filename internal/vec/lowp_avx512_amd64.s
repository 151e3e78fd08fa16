#include "textflag.h"

// The AVX-512 kernels of the low-precision rows (lowp.go): the AVX2 ones
// (lowp_amd64.s) sixteen lanes wide. The callers pass whole vectors (BF16:
// a multiple of 16 elements; INT8: of 32, whole blocks) and do the tails.

// func dotBF16AVX512(x []float32, w []uint16) float32
// 64 elements per iteration in four accumulators, then 16 at a time.
TEXT ·dotBF16AVX512(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ w_base+24(FP), DI
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
loop64:
	CMPQ CX, $64
	JLT  loop16
	VPMOVZXWD (DI), Z4
	VPMOVZXWD 32(DI), Z5
	VPMOVZXWD 64(DI), Z6
	VPMOVZXWD 96(DI), Z7
	VPSLLD $16, Z4, Z4
	VPSLLD $16, Z5, Z5
	VPSLLD $16, Z6, Z6
	VPSLLD $16, Z7, Z7
	VFMADD231PS (SI), Z4, Z0
	VFMADD231PS 64(SI), Z5, Z1
	VFMADD231PS 128(SI), Z6, Z2
	VFMADD231PS 192(SI), Z7, Z3
	ADDQ $256, SI
	ADDQ $128, DI
	SUBQ $64, CX
	JMP  loop64
loop16:
	CMPQ CX, $16
	JLT  reduce
	VPMOVZXWD (DI), Z4
	VPSLLD $16, Z4, Z4
	VFMADD231PS (SI), Z4, Z0
	ADDQ $64, SI
	ADDQ $32, DI
	SUBQ $16, CX
	JMP  loop16
reduce:
	VADDPS Z1, Z0, Z0
	VADDPS Z3, Z2, Z2
	VADDPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+48(FP)
	RET

// func axpyBF16AVX512(a float32, w []uint16, y []float32)
// y += a·w, 32 elements per iteration, then 16.
TEXT ·axpyBF16AVX512(SB), NOSPLIT, $0-56
	VBROADCASTSS a+0(FP), Z8
	MOVQ w_base+8(FP), SI
	MOVQ w_len+16(FP), CX
	MOVQ y_base+32(FP), DI
loop32:
	CMPQ CX, $32
	JLT  loop16
	VPMOVZXWD (SI), Z4
	VPMOVZXWD 32(SI), Z5
	VPSLLD $16, Z4, Z4
	VPSLLD $16, Z5, Z5
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VFMADD231PS Z4, Z8, Z0
	VFMADD231PS Z5, Z8, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $64, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  loop32
loop16:
	CMPQ CX, $16
	JLT  done
	VPMOVZXWD (SI), Z4
	VPSLLD $16, Z4, Z4
	VMOVUPS (DI), Z0
	VFMADD231PS Z4, Z8, Z0
	VMOVUPS Z0, (DI)
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  loop16
done:
	VZEROUPPER
	RET

// func dotQ8AVX512(x []float32, q []int8, s []float32) float32
// Two blocks of 32 per iteration (then one), each in two halves of 16,
// scaled into one of two totals with one fused multiply-add.
TEXT ·dotQ8AVX512(SB), NOSPLIT, $0-76
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), CX
	MOVQ q_base+24(FP), DI
	MOVQ s_base+48(FP), BX
	SHRQ $5, CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
loop2:
	CMPQ CX, $2
	JLT  loop
	VPMOVSXBD (DI), Z4
	VPMOVSXBD 16(DI), Z5
	VPMOVSXBD 32(DI), Z6
	VPMOVSXBD 48(DI), Z7
	VCVTDQ2PS Z4, Z4
	VCVTDQ2PS Z5, Z5
	VCVTDQ2PS Z6, Z6
	VCVTDQ2PS Z7, Z7
	VMULPS (SI), Z4, Z4
	VMULPS 128(SI), Z6, Z6
	VFMADD231PS 64(SI), Z5, Z4
	VFMADD231PS 192(SI), Z7, Z6
	VBROADCASTSS (BX), Z8
	VBROADCASTSS 4(BX), Z9
	VFMADD231PS Z8, Z4, Z0
	VFMADD231PS Z9, Z6, Z1
	ADDQ $256, SI
	ADDQ $64, DI
	ADDQ $8, BX
	SUBQ $2, CX
	JMP  loop2
loop:
	TESTQ CX, CX
	JZ    reduce
	VPMOVSXBD (DI), Z4
	VPMOVSXBD 16(DI), Z5
	VCVTDQ2PS Z4, Z4
	VCVTDQ2PS Z5, Z5
	VMULPS (SI), Z4, Z4
	VFMADD231PS 64(SI), Z5, Z4
	VBROADCASTSS (BX), Z8
	VFMADD231PS Z8, Z4, Z0
	ADDQ $128, SI
	ADDQ $32, DI
	ADDQ $4, BX
	DECQ CX
	JMP  loop
reduce:
	VADDPS Z1, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPS Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	VZEROUPPER
	MOVSS X0, ret+72(FP)
	RET

// func axpyQ8AVX512(a float32, q []int8, s []float32, y []float32)
// y += (a·s[b])·q over each block b of 32.
TEXT ·axpyQ8AVX512(SB), NOSPLIT, $0-80
	VBROADCASTSS a+0(FP), Z9
	MOVQ q_base+8(FP), SI
	MOVQ q_len+16(FP), CX
	MOVQ s_base+32(FP), BX
	MOVQ y_base+56(FP), DI
	SHRQ $5, CX
loop:
	TESTQ CX, CX
	JZ    done
	VBROADCASTSS (BX), Z8
	VMULPS Z9, Z8, Z8
	VPMOVSXBD (SI), Z4
	VPMOVSXBD 16(SI), Z5
	VCVTDQ2PS Z4, Z4
	VCVTDQ2PS Z5, Z5
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VFMADD231PS Z4, Z8, Z0
	VFMADD231PS Z5, Z8, Z1
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	ADDQ $4, BX
	DECQ CX
	JMP  loop
done:
	VZEROUPPER
	RET
