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

// The float32 kernels: the same, 8 lanes per vector, 16 per iteration.

// func rowE32AVX2(dt float32, e, a, am, b, bm []float32)
// e += dt*((a - am) - (b - bm))
TEXT ·rowE32AVX2(SB), NOSPLIT, $0-128
	MOVQ e_base+8(FP), DI
	MOVQ e_len+16(FP), CX
	MOVQ a_base+32(FP), SI
	MOVQ am_base+56(FP), R8
	MOVQ b_base+80(FP), R9
	MOVQ bm_base+104(FP), R10
	VBROADCASTSS dt+0(FP), Y0
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-16, DX

f16e:
	CMPQ AX, DX
	JAE  f1e
	VMOVUPS (SI)(AX*4), Y1
	VMOVUPS 32(SI)(AX*4), Y4
	VSUBPS  (R8)(AX*4), Y1, Y1
	VSUBPS  32(R8)(AX*4), Y4, Y4
	VMOVUPS (R9)(AX*4), Y2
	VMOVUPS 32(R9)(AX*4), Y5
	VSUBPS  (R10)(AX*4), Y2, Y2
	VSUBPS  32(R10)(AX*4), Y5, Y5
	VSUBPS  Y2, Y1, Y1
	VSUBPS  Y5, Y4, Y4
	VMULPS  Y0, Y1, Y1
	VMULPS  Y0, Y4, Y4
	VADDPS  (DI)(AX*4), Y1, Y1
	VADDPS  32(DI)(AX*4), Y4, Y4
	VMOVUPS Y1, (DI)(AX*4)
	VMOVUPS Y4, 32(DI)(AX*4)
	ADDQ    $16, AX
	JMP     f16e

f1e:
	CMPQ   AX, CX
	JAE    fdonee
	VMOVSS (SI)(AX*4), X1
	VSUBSS (R8)(AX*4), X1, X1
	VMOVSS (R9)(AX*4), X2
	VSUBSS (R10)(AX*4), X2, X2
	VSUBSS X2, X1, X1
	VMULSS X0, X1, X1
	VADDSS (DI)(AX*4), X1, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ   AX
	JMP    f1e

fdonee:
	VZEROUPPER
	RET

// func rowH32AVX2(dt float32, h, ap, a, bp, b []float32)
// h -= dt*((ap - a) - (bp - b))
TEXT ·rowH32AVX2(SB), NOSPLIT, $0-128
	MOVQ h_base+8(FP), DI
	MOVQ h_len+16(FP), CX
	MOVQ ap_base+32(FP), SI
	MOVQ a_base+56(FP), R8
	MOVQ bp_base+80(FP), R9
	MOVQ b_base+104(FP), R10
	VBROADCASTSS dt+0(FP), Y0
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-16, DX

f16h:
	CMPQ AX, DX
	JAE  f1h
	VMOVUPS (SI)(AX*4), Y1
	VMOVUPS 32(SI)(AX*4), Y4
	VSUBPS  (R8)(AX*4), Y1, Y1
	VSUBPS  32(R8)(AX*4), Y4, Y4
	VMOVUPS (R9)(AX*4), Y2
	VMOVUPS 32(R9)(AX*4), Y5
	VSUBPS  (R10)(AX*4), Y2, Y2
	VSUBPS  32(R10)(AX*4), Y5, Y5
	VSUBPS  Y2, Y1, Y1
	VSUBPS  Y5, Y4, Y4
	VMULPS  Y0, Y1, Y1
	VMULPS  Y0, Y4, Y4
	VMOVUPS (DI)(AX*4), Y3
	VMOVUPS 32(DI)(AX*4), Y6
	VSUBPS  Y1, Y3, Y3
	VSUBPS  Y4, Y6, Y6
	VMOVUPS Y3, (DI)(AX*4)
	VMOVUPS Y6, 32(DI)(AX*4)
	ADDQ    $16, AX
	JMP     f16h

f1h:
	CMPQ   AX, CX
	JAE    fdoneh
	VMOVSS (SI)(AX*4), X1
	VSUBSS (R8)(AX*4), X1, X1
	VMOVSS (R9)(AX*4), X2
	VSUBSS (R10)(AX*4), X2, X2
	VSUBSS X2, X1, X1
	VMULSS X0, X1, X1
	VMOVSS (DI)(AX*4), X3
	VSUBSS X1, X3, X3
	VMOVSS X3, (DI)(AX*4)
	INCQ   AX
	JMP    f1h

fdoneh:
	VZEROUPPER
	RET
