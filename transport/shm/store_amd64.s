//go:build amd64 && !race

#include "textflag.h"

// func storeRelease64(p *uint64, v uint64)
// A plain MOV: under x86-TSO a store is not reordered with older loads or
// stores, so it is a release store. Unlike Go's atomic Store (an XCHG, a
// full fence), it does not stall the core until it owns the cache line.
TEXT ·storeRelease64(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ v+8(FP), BX
	MOVQ BX, 0(AX)
	RET

// func spinPause()
TEXT ·spinPause(SB), NOSPLIT, $0-0
	PAUSE
	RET
