#include "textflag.h"

// func streamLines(dst, src unsafe.Pointer, lines uintptr)
//
// Copies lines*64 bytes from src to dst with non-temporal stores (MOVNTDQ,
// SSE2: every amd64 CPU has it). dst must be 64-byte aligned, so that every
// store of a line is one of four to the same line and the write-combining
// buffer leaves as a full line. No fence: the caller calls Fence once
// after the whole message, before it publishes it.
TEXT ·streamLines(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ lines+16(FP), CX
	TESTQ CX, CX
	JZ   done
loop:
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVNTO X0, 0(DI)
	MOVNTO X1, 16(DI)
	MOVNTO X2, 32(DI)
	MOVNTO X3, 48(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop
done:
	RET

// func Fence()
TEXT ·Fence(SB), NOSPLIT, $0-0
	SFENCE
	RET
