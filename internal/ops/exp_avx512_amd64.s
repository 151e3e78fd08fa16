#include "textflag.h"

// The AVX-512 twins of exp_amd64.s and act_amd64.s: the same steps in the
// same order sixteen lanes wide, the last len%16 elements in one masked
// step (a masked-off lane neither faults nor is written), so that no
// scalar tail is left. expAVX512 agrees with expAVX2 bit for bit, and the
// GELU steps with the scalar loops.

// TAILMASK sets mask register k to the low n&15 lanes, using AX and CX.
#define TAILMASK(n, k) \
	MOVQ n, CX \
	ANDQ $15, CX \
	MOVL $1, AX \
	SHLL CX, AX \
	DECL AX \
	KMOVW AX, k

// func expAVX512(v []float32, c *[14][8]float32, sigmoid bool)
// v[i] = e^v[i], or 1/(1+e^-v[i]) when sigmoid, for every element, sixteen
// at a time, with expAVX2's steps (see there); c holds the constants (the
// first of each row is used). Every block is loaded and stored under the
// mask K2: all lanes, then the tail's.
TEXT ·expAVX512(SB), NOSPLIT, $0-33
	MOVQ v_base+0(FP), SI
	MOVQ v_len+8(FP), DX
	MOVQ c+24(FP), DI
	MOVBLZX sigmoid+32(FP), BX
	TAILMASK(DX, K1)
	MOVL $0xffff, AX
	KMOVW AX, K2
	VBROADCASTSS 0(DI), Z16   // expHi
	VBROADCASTSS 32(DI), Z17  // expLo
	VBROADCASTSS 64(DI), Z18  // log2(e)
	VBROADCASTSS 96(DI), Z19  // 1.5·2^23
	VBROADCASTSS 128(DI), Z20 // C1
	VBROADCASTSS 160(DI), Z21 // C2
	VBROADCASTSS 192(DI), Z22 // c5
	VBROADCASTSS 224(DI), Z23 // c4
	VBROADCASTSS 256(DI), Z24 // c3
	VBROADCASTSS 288(DI), Z25 // c2
	VBROADCASTSS 320(DI), Z26 // c1
	VBROADCASTSS 352(DI), Z27 // c0
	VBROADCASTSS 384(DI), Z28 // 1
	VBROADCASTSS 416(DI), Z30 // 0x4B400000 - 127
	VPXORD Z29, Z29, Z29      // 0
loop:
	CMPQ DX, $16
	JGE  body
	TESTQ DX, DX
	JZ    done
	KMOVW K1, K2 // the tail: its lanes only, and the last pass
	MOVQ $16, DX
body:
	VMOVUPS.Z (SI), K2, Z0
	TESTQ BX, BX
	JZ    clamp
	VSUBPS Z0, Z29, Z0      // sigmoid: x = -z
clamp:
	VMINPS Z0, Z16, Z0      // min(expHi, x), NaN kept
	VMAXPS Z0, Z17, Z0      // max(expLo, x), NaN kept
	VMOVAPS Z19, Z1
	VFMADD231PS Z18, Z0, Z1 // t = x·log2e + 1.5·2^23
	VSUBPS Z19, Z1, Z2      // n = t - 1.5·2^23
	VMOVAPS Z0, Z3
	VFNMADD231PS Z20, Z2, Z3 // r = x - n·C1
	VFNMADD231PS Z21, Z2, Z3 // r -= n·C2
	VMULPS Z3, Z3, Z4       // r2
	VMOVAPS Z23, Z5
	VFMADD231PS Z22, Z3, Z5 // a = r·c5 + c4
	VMOVAPS Z25, Z6
	VFMADD231PS Z24, Z3, Z6 // b = r·c3 + c2
	VMOVAPS Z27, Z7
	VFMADD231PS Z26, Z3, Z7 // c = r·c1 + c0
	VMULPS Z4, Z4, Z8       // r4
	VFMADD231PS Z6, Z4, Z5  // a += b·r2
	VFMADD231PS Z7, Z8, Z5  // a += c·r4
	VADDPS Z28, Z3, Z3      // r + 1
	VFMADD231PS Z5, Z4, Z3  // p = a·r2 + (r + 1)
	VPSUBD Z30, Z1, Z1      // bits(t) - 0x4B400000 + 127
	VPSLLD $23, Z1, Z1      // 2^n
	VMULPS Z1, Z3, Z0       // e^x
	TESTQ BX, BX
	JZ    store
	VADDPS Z28, Z0, Z0      // sigmoid: 1 + e^-z
	VDIVPS Z0, Z28, Z0      // 1 / (1 + e^-z)
store:
	VMOVUPS Z0, K2, (SI)
	ADDQ $64, SI
	SUBQ $16, DX
	JMP  loop
done:
	VZEROUPPER
	RET

// GELUARG16 sets Z1 = (k2·u)·(1 + (c·u)·u), u = Z0 + the 16 floats at
// addr: geluArgAVX2's steps.
#define GELUARG16(addr) \
	VADDPS addr, Z0, Z0 \
	VMULPS Z14, Z0, Z1 \
	VMULPS Z15, Z0, Z2 \
	VMULPS Z0, Z2, Z2 \
	VADDPS Z13, Z2, Z2 \
	VMULPS Z2, Z1, Z1

// func geluArgAVX512(a, x, b []float32, k2, c float32)
// a[j] = (k2·u)·(1 + (c·u)·u), u = x[j] + b[j], for every element, in the
// Go loop's order of operations (no fused multiply-adds), so the two agree
// bit for bit.
TEXT ·geluArgAVX512(SB), NOSPLIT, $0-80
	MOVQ a_base+0(FP), DI
	MOVQ a_len+8(FP), DX
	MOVQ x_base+24(FP), SI
	MOVQ b_base+48(FP), R8
	VBROADCASTSS k2+72(FP), Z14
	VBROADCASTSS c+76(FP), Z15
	TAILMASK(DX, K1)
	MOVL $0x3f800000, AX
	VPBROADCASTD AX, Z13 // 1
garg:
	CMPQ DX, $16
	JLT  gtail
	VMOVUPS (SI), Z0
	GELUARG16((R8))
	VMOVUPS Z1, (DI)
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  garg
gtail:
	TESTQ DX, DX
	JZ    gdone
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (R8), K1, Z3
	GELUARG16(Z3)
	VMOVUPS Z1, K1, (DI)
gdone:
	VZEROUPPER
	RET

// func biasMulAVX512(y, x, b, a []float32, s float32)
// y[j] = ((x[j] + b[j])·a[j])·s for every element, in the Go loop's order
// of operations.
TEXT ·biasMulAVX512(SB), NOSPLIT, $0-100
	MOVQ y_base+0(FP), DI
	MOVQ y_len+8(FP), DX
	MOVQ x_base+24(FP), SI
	MOVQ b_base+48(FP), R8
	MOVQ a_base+72(FP), R9
	VBROADCASTSS s+96(FP), Z15
	TAILMASK(DX, K1)
bmul:
	CMPQ DX, $16
	JLT  btail
	VMOVUPS (SI), Z0
	VADDPS (R8), Z0, Z0
	VMULPS (R9), Z0, Z0
	VMULPS Z15, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, DI
	SUBQ $16, DX
	JMP  bmul
btail:
	TESTQ DX, DX
	JZ    bdone
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS.Z (R8), K1, Z1
	VMOVUPS.Z (R9), K1, Z2
	VADDPS Z1, Z0, Z0
	VMULPS Z2, Z0, Z0
	VMULPS Z15, Z0, Z0
	VMOVUPS Z0, K1, (DI)
bdone:
	VZEROUPPER
	RET
