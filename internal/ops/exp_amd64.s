#include "textflag.h"

// func expAVX2(v []float32, c *[14][8]float32, sigmoid bool)
// v[i] = e^v[i], or 1/(1+e^-v[i]) when sigmoid, for the first len(v)&^7
// elements, eight at a time, with exp32s's and sigmoid32s's algorithm
// (their Go loops are the twins); c holds the constants, each repeated
// eight times (expConst).
TEXT ·expAVX2(SB), NOSPLIT, $0-33
	MOVQ v_base+0(FP), SI
	MOVQ v_len+8(FP), CX
	MOVQ c+24(FP), DX
	MOVBLZX sigmoid+32(FP), BX
	VMOVUPS 0(DX), Y15   // expHi
	VMOVUPS 32(DX), Y14  // expLo
	VMOVUPS 64(DX), Y13  // log2(e)
	VMOVUPS 96(DX), Y12  // 1.5·2^23
	VMOVUPS 384(DX), Y11 // 1
	VMOVUPS 416(DX), Y10 // 0x4B400000 - 127
	VXORPS Y9, Y9, Y9    // 0
loop:
	CMPQ CX, $8
	JLT  done
	VMOVUPS (SI), Y0
	TESTQ BX, BX
	JZ   clamp
	VSUBPS Y0, Y9, Y0       // sigmoid: x = -z
clamp:
	VMINPS Y0, Y15, Y0      // min(expHi, x), NaN kept
	VMAXPS Y0, Y14, Y0      // max(expLo, x), NaN kept
	VMOVAPS Y12, Y1
	VFMADD231PS Y13, Y0, Y1 // t = x·log2e + 1.5·2^23
	VSUBPS Y12, Y1, Y2      // n = t - 1.5·2^23
	VMOVAPS Y0, Y3
	VFNMADD231PS 128(DX), Y2, Y3 // r = x - n·C1
	VFNMADD231PS 160(DX), Y2, Y3 // r -= n·C2
	VMULPS Y3, Y3, Y4       // r2
	VMOVUPS 224(DX), Y5
	VFMADD231PS 192(DX), Y3, Y5 // a = r·c5 + c4
	VMOVUPS 288(DX), Y6
	VFMADD231PS 256(DX), Y3, Y6 // b = r·c3 + c2
	VMOVUPS 352(DX), Y7
	VFMADD231PS 320(DX), Y3, Y7 // c = r·c1 + c0
	VMULPS Y4, Y4, Y8       // r4
	VFMADD231PS Y6, Y4, Y5  // a += b·r2
	VFMADD231PS Y7, Y8, Y5  // a += c·r4
	VADDPS Y11, Y3, Y3      // r + 1
	VFMADD231PS Y5, Y4, Y3  // p = a·r2 + (r + 1)
	VPSUBD Y10, Y1, Y1      // bits(t) - 0x4B400000 + 127
	VPSLLD $23, Y1, Y1      // 2^n
	VMULPS Y1, Y3, Y3       // e^x
	TESTQ BX, BX
	JZ   store
	VADDPS Y11, Y3, Y3      // sigmoid: 1 + e^-z
	VDIVPS Y3, Y11, Y3      // 1 / (1 + e^-z)
store:
	VMOVUPS Y3, (SI)
	ADDQ $32, SI
	SUBQ $8, CX
	JMP  loop
done:
	VZEROUPPER
	RET
