//go:build amd64

#include "textflag.h"

// The AVX2 row kernels. Each lane does the portable kernel's operations in
// its order (three subtractions, a multiplication, an addition or
// subtraction; no fused multiply-add), so the results are bitwise those of
// rowE and rowH. The callers check that every input holds len(e) values.

// func rowEAVX2(dt float64, e, a, am, b, bm []float64)
// e += dt*((a - am) - (b - bm))
TEXT ·rowEAVX2(SB), NOSPLIT, $0-128
	MOVQ e_base+8(FP), DI
	MOVQ e_len+16(FP), CX
	MOVQ a_base+32(FP), SI
	MOVQ am_base+56(FP), R8
	MOVQ b_base+80(FP), R9
	MOVQ bm_base+104(FP), R10
	VBROADCASTSD dt+0(FP), Y0
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX

e8:
	CMPQ AX, DX
	JAE  e1
	VMOVUPD (SI)(AX*8), Y1
	VMOVUPD 32(SI)(AX*8), Y4
	VSUBPD  (R8)(AX*8), Y1, Y1
	VSUBPD  32(R8)(AX*8), Y4, Y4
	VMOVUPD (R9)(AX*8), Y2
	VMOVUPD 32(R9)(AX*8), Y5
	VSUBPD  (R10)(AX*8), Y2, Y2
	VSUBPD  32(R10)(AX*8), Y5, Y5
	VSUBPD  Y2, Y1, Y1
	VSUBPD  Y5, Y4, Y4
	VMULPD  Y0, Y1, Y1
	VMULPD  Y0, Y4, Y4
	VADDPD  (DI)(AX*8), Y1, Y1
	VADDPD  32(DI)(AX*8), Y4, Y4
	VMOVUPD Y1, (DI)(AX*8)
	VMOVUPD Y4, 32(DI)(AX*8)
	ADDQ    $8, AX
	JMP     e8

e1:
	CMPQ   AX, CX
	JAE    edone
	VMOVSD (SI)(AX*8), X1
	VSUBSD (R8)(AX*8), X1, X1
	VMOVSD (R9)(AX*8), X2
	VSUBSD (R10)(AX*8), X2, X2
	VSUBSD X2, X1, X1
	VMULSD X0, X1, X1
	VADDSD (DI)(AX*8), X1, X1
	VMOVSD X1, (DI)(AX*8)
	INCQ   AX
	JMP    e1

edone:
	VZEROUPPER
	RET

// func rowHAVX2(dt float64, h, ap, a, bp, b []float64)
// h -= dt*((ap - a) - (bp - b))
TEXT ·rowHAVX2(SB), NOSPLIT, $0-128
	MOVQ h_base+8(FP), DI
	MOVQ h_len+16(FP), CX
	MOVQ ap_base+32(FP), SI
	MOVQ a_base+56(FP), R8
	MOVQ bp_base+80(FP), R9
	MOVQ b_base+104(FP), R10
	VBROADCASTSD dt+0(FP), Y0
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX

h8:
	CMPQ AX, DX
	JAE  h1
	VMOVUPD (SI)(AX*8), Y1
	VMOVUPD 32(SI)(AX*8), Y4
	VSUBPD  (R8)(AX*8), Y1, Y1
	VSUBPD  32(R8)(AX*8), Y4, Y4
	VMOVUPD (R9)(AX*8), Y2
	VMOVUPD 32(R9)(AX*8), Y5
	VSUBPD  (R10)(AX*8), Y2, Y2
	VSUBPD  32(R10)(AX*8), Y5, Y5
	VSUBPD  Y2, Y1, Y1
	VSUBPD  Y5, Y4, Y4
	VMULPD  Y0, Y1, Y1
	VMULPD  Y0, Y4, Y4
	VMOVUPD (DI)(AX*8), Y3
	VMOVUPD 32(DI)(AX*8), Y6
	VSUBPD  Y1, Y3, Y3
	VSUBPD  Y4, Y6, Y6
	VMOVUPD Y3, (DI)(AX*8)
	VMOVUPD Y6, 32(DI)(AX*8)
	ADDQ    $8, AX
	JMP     h8

h1:
	CMPQ   AX, CX
	JAE    hdone
	VMOVSD (SI)(AX*8), X1
	VSUBSD (R8)(AX*8), X1, X1
	VMOVSD (R9)(AX*8), X2
	VSUBSD (R10)(AX*8), X2, X2
	VSUBSD X2, X1, X1
	VMULSD X0, X1, X1
	VMOVSD (DI)(AX*8), X3
	VSUBSD X1, X3, X3
	VMOVSD X3, (DI)(AX*8)
	INCQ   AX
	JMP    h1

hdone:
	VZEROUPPER
	RET
