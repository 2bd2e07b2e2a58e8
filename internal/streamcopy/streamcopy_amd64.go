package streamcopy

import "unsafe"

// Available reports whether Copy uses non-temporal stores on this
// architecture (amd64: MOVNTDQ, part of SSE2, which every amd64 CPU has).
const Available = true

// streamLines copies lines*64 bytes with non-temporal stores; dst is
// 64-byte aligned, so each line leaves the write-combining buffer whole.
//
//go:noescape
func streamLines(dst, src unsafe.Pointer, lines uintptr)

// Fence orders every non-temporal store before it ahead of every store
// after it (SFENCE), so that the store that publishes a buffer becomes
// visible only after the buffer's bytes.
func Fence()
