#include "textflag.h"

// The AVX-512 kernels: the AVX2 ones sixteen lanes wide, their tails done
// with masked loads and stores (a masked-off lane neither faults nor is
// written), so that no scalar loop is left. Each needs AVX512F (and the
// callers check AVX512VL with it, see Supported).

// TAILMASK sets mask register k to the low n&15 lanes, using AX and CX.
#define TAILMASK(n, k) \
	MOVQ n, CX \
	ANDQ $15, CX \
	MOVL $1, AX \
	SHLL CX, AX \
	DECL AX \
	KMOVW AX, k

// func dotAVX512(x, y []float32) float32
// 64 elements per iteration in four 16-wide FMA accumulators, then 16 at
// a time, then one masked step; len(y) == len(x) is the caller's duty.
TEXT ·dotAVX512(SB), NOSPLIT, $0-52
	MOVQ x_base+0(FP), SI
	MOVQ x_len+8(FP), DX
	MOVQ y_base+24(FP), DI
	TAILMASK(DX, K1)
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
loop64:
	CMPQ DX, $64
	JLT  loop16
	VMOVUPS (SI), Z4
	VMOVUPS 64(SI), Z5
	VMOVUPS 128(SI), Z6
	VMOVUPS 192(SI), Z7
	VFMADD231PS (DI), Z4, Z0
	VFMADD231PS 64(DI), Z5, Z1
	VFMADD231PS 128(DI), Z6, Z2
	VFMADD231PS 192(DI), Z7, Z3
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, DX
	JMP  loop64
loop16:
	CMPQ DX, $16
	JLT  tail
	VMOVUPS (SI), Z4
	VFMADD231PS (DI), Z4, Z0
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  loop16
tail:
	TESTQ DX, DX
	JZ    reduce
	VMOVUPS.Z (SI), K1, Z4
	VFMADD231PS (DI), Z4, K1, Z1
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

// func axpyAVX512(a float32, x, y []float32)
TEXT ·axpyAVX512(SB), NOSPLIT, $0-56
	VBROADCASTSS a+0(FP), Z8
	MOVQ x_base+8(FP), SI
	MOVQ x_len+16(FP), DX
	MOVQ y_base+32(FP), DI
	TAILMASK(DX, K1)
loop64:
	CMPQ DX, $64
	JLT  loop16
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VFMADD231PS (SI), Z8, Z0
	VFMADD231PS 64(SI), Z8, Z1
	VFMADD231PS 128(SI), Z8, Z2
	VFMADD231PS 192(SI), Z8, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, DX
	JMP  loop64
loop16:
	CMPQ DX, $16
	JLT  tail
	VMOVUPS (DI), Z0
	VFMADD231PS (SI), Z8, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  loop16
tail:
	TESTQ DX, DX
	JZ    done
	VMOVUPS.Z (DI), K1, Z0
	VFMADD231PS (SI), Z8, K1, Z0
	VMOVUPS Z0, K1, (DI)
done:
	VZEROUPPER
	RET

// func gemvNAVX512(w, x *float32, d, k int, y *float32)
// y[j] = x·w[j·d:(j+1)·d] for j < k: one input row against four weight rows
// at a time, 32 columns per step in eight accumulators, then 16, then a
// masked step; k is a multiple of 4.
TEXT ·gemvNAVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ d+16(FP), BX
	MOVQ y+32(FP), DX
	TAILMASK(BX, K1)
	MOVQ BX, R9
	ANDQ $-16, R9
	SHLQ $2, R9 // bytes of whole 16-column blocks
	SHLQ $2, BX // row stride
	MOVQ k+24(FP), CX
nrows4:
	CMPQ CX, $4
	JLT  ndone
	LEAQ (DI)(BX*1), R10
	LEAQ (R10)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z2, Z2, Z2
	VXORPS Z3, Z3, Z3
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7
	XORQ AX, AX
n32:
	LEAQ 128(AX), R8
	CMPQ R8, R9
	JGT  n16
	VMOVUPS (SI)(AX*1), Z8
	VMOVUPS 64(SI)(AX*1), Z9
	VFMADD231PS (DI)(AX*1), Z8, Z0
	VFMADD231PS 64(DI)(AX*1), Z9, Z4
	VFMADD231PS (R10)(AX*1), Z8, Z1
	VFMADD231PS 64(R10)(AX*1), Z9, Z5
	VFMADD231PS (R11)(AX*1), Z8, Z2
	VFMADD231PS 64(R11)(AX*1), Z9, Z6
	VFMADD231PS (R12)(AX*1), Z8, Z3
	VFMADD231PS 64(R12)(AX*1), Z9, Z7
	MOVQ R8, AX
	JMP  n32
n16:
	CMPQ AX, R9
	JGE  ntail
	VMOVUPS (SI)(AX*1), Z8
	VFMADD231PS (DI)(AX*1), Z8, Z0
	VFMADD231PS (R10)(AX*1), Z8, Z1
	VFMADD231PS (R11)(AX*1), Z8, Z2
	VFMADD231PS (R12)(AX*1), Z8, Z3
	ADDQ $64, AX
ntail:
	KORTESTW K1, K1
	JZ       nreduce
	VMOVUPS.Z (SI)(AX*1), K1, Z8
	VFMADD231PS (DI)(AX*1), Z8, K1, Z4
	VFMADD231PS (R10)(AX*1), Z8, K1, Z5
	VFMADD231PS (R11)(AX*1), Z8, K1, Z6
	VFMADD231PS (R12)(AX*1), Z8, K1, Z7
nreduce:
	VADDPS Z4, Z0, Z0
	VADDPS Z5, Z1, Z1
	VADDPS Z6, Z2, Z2
	VADDPS Z7, Z3, Z3
	VEXTRACTF64X4 $1, Z0, Y4
	VEXTRACTF64X4 $1, Z1, Y5
	VEXTRACTF64X4 $1, Z2, Y6
	VEXTRACTF64X4 $1, Z3, Y7
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMOVUPS X0, (DX)
	ADDQ $16, DX
	LEAQ (R12)(BX*1), DI
	SUBQ $4, CX
	JMP  nrows4
ndone:
	VZEROUPPER
	RET

// func gemvTAVX512(w, h *float32, k, n int, y *float32)
// y[c] += h[r]·w[r·n+c] for r < k and c < n, four rows at a time, added to
// each element in row order with fused multiply-adds (the sums Axpy row by
// row makes, bit for bit), 32 columns per step, then 16, then a masked
// step; k is a multiple of 4.
TEXT ·gemvTAVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), DI
	MOVQ h+8(FP), R13
	MOVQ n+24(FP), BX
	MOVQ y+32(FP), DX
	TAILMASK(BX, K1)
	MOVQ BX, R9
	ANDQ $-16, R9
	SHLQ $2, R9 // bytes of whole 16-column blocks
	SHLQ $2, BX // row stride
	MOVQ k+16(FP), CX
trows4:
	CMPQ CX, $4
	JLT  tdone
	LEAQ (DI)(BX*1), R10
	LEAQ (R10)(BX*1), R11
	LEAQ (R11)(BX*1), R12
	VBROADCASTSS 0(R13), Z12
	VBROADCASTSS 4(R13), Z13
	VBROADCASTSS 8(R13), Z14
	VBROADCASTSS 12(R13), Z15
	XORQ AX, AX
t32:
	LEAQ 128(AX), R8
	CMPQ R8, R9
	JGT  t16
	VMOVUPS (DX)(AX*1), Z0
	VMOVUPS 64(DX)(AX*1), Z1
	VFMADD231PS (DI)(AX*1), Z12, Z0
	VFMADD231PS 64(DI)(AX*1), Z12, Z1
	VFMADD231PS (R10)(AX*1), Z13, Z0
	VFMADD231PS 64(R10)(AX*1), Z13, Z1
	VFMADD231PS (R11)(AX*1), Z14, Z0
	VFMADD231PS 64(R11)(AX*1), Z14, Z1
	VFMADD231PS (R12)(AX*1), Z15, Z0
	VFMADD231PS 64(R12)(AX*1), Z15, Z1
	VMOVUPS Z0, (DX)(AX*1)
	VMOVUPS Z1, 64(DX)(AX*1)
	MOVQ R8, AX
	JMP  t32
t16:
	CMPQ AX, R9
	JGE  ttail
	VMOVUPS (DX)(AX*1), Z0
	VFMADD231PS (DI)(AX*1), Z12, Z0
	VFMADD231PS (R10)(AX*1), Z13, Z0
	VFMADD231PS (R11)(AX*1), Z14, Z0
	VFMADD231PS (R12)(AX*1), Z15, Z0
	VMOVUPS Z0, (DX)(AX*1)
	ADDQ $64, AX
ttail:
	KORTESTW K1, K1
	JZ       tnext
	VMOVUPS.Z (DX)(AX*1), K1, Z0
	VFMADD231PS (DI)(AX*1), Z12, K1, Z0
	VFMADD231PS (R10)(AX*1), Z13, K1, Z0
	VFMADD231PS (R11)(AX*1), Z14, K1, Z0
	VFMADD231PS (R12)(AX*1), Z15, K1, Z0
	VMOVUPS Z0, K1, (DX)(AX*1)
tnext:
	LEAQ (R12)(BX*1), DI
	ADDQ $16, R13
	SUBQ $4, CX
	JMP  trows4
tdone:
	VZEROUPPER
	RET
