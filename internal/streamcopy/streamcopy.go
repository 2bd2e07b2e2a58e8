package streamcopy

import "unsafe"

// MinBytes is the length from which Copy uses non-temporal stores. Below
// it the partial lines at both ends, which take ordinary stores, are most
// of the copy.
const MinBytes = 256

// Copy copies src into dst (up to the shorter length, like copy) and returns
// the number of bytes copied. The whole cache lines of dst in a copy of at
// least MinBytes are written with non-temporal stores (where the CPU has
// them: see Available); the bytes before dst's first line boundary and after
// its last are copied with ordinary stores. Call Fence before publishing.
func Copy(dst, src []byte) int {
	n := min(len(dst), len(src))
	if !Available || n < MinBytes {
		return copy(dst, src)
	}
	head := int(-uintptr(unsafe.Pointer(unsafe.SliceData(dst))) & 63)
	copy(dst[:head], src[:head])
	lines := (n - head) / 64
	streamLines(unsafe.Pointer(unsafe.SliceData(dst[head:])), unsafe.Pointer(unsafe.SliceData(src[head:])), uintptr(lines))
	tail := head + lines*64
	copy(dst[tail:n], src[tail:n])
	return n
}
