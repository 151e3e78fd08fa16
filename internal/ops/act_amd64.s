#include "textflag.h"

// func geluArgAVX2(a, x, b []float32, k2, c float32)
// a[j] = (k2·u)·(1 + (c·u)·u), u = x[j] + b[j], for the first len(a)&^7
// elements: the tanh GELU's sigmoid argument, in the Go loop's order of
// operations (no fused multiply-adds), so the two agree bit for bit.
TEXT ·geluArgAVX2(SB), NOSPLIT, $0-80
	MOVQ a_base+0(FP), DI
	MOVQ a_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	VBROADCASTSS k2+72(FP), Y14
	VBROADCASTSS c+76(FP), Y15
	MOVL $0x3f800000, AX
	MOVL AX, X13
	VBROADCASTSS X13, Y13 // 1
garg:
	CMPQ CX, $8
	JLT  gdone
	VMOVUPS (SI), Y0
	VADDPS (DX), Y0, Y0   // u
	VMULPS Y14, Y0, Y1    // k2·u
	VMULPS Y15, Y0, Y2    // c·u
	VMULPS Y0, Y2, Y2     // (c·u)·u
	VADDPS Y13, Y2, Y2    // 1 + …
	VMULPS Y2, Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  garg
gdone:
	VZEROUPPER
	RET

// func biasMulAVX2(y, x, b, a []float32, s float32)
// y[j] = ((x[j] + b[j])·a[j])·s for the first len(y)&^7 elements, in the
// Go loop's order of operations.
TEXT ·biasMulAVX2(SB), NOSPLIT, $0-100
	MOVQ y_base+0(FP), DI
	MOVQ y_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ b_base+48(FP), DX
	MOVQ a_base+72(FP), R8
	VBROADCASTSS s+96(FP), Y15
bmul:
	CMPQ CX, $8
	JLT  bdone
	VMOVUPS (SI), Y0
	VADDPS (DX), Y0, Y0
	VMULPS (R8), Y0, Y0
	VMULPS Y15, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  bmul
bdone:
	VZEROUPPER
	RET
