//go:build !amd64

package streamcopy

import "unsafe"

// Available reports whether Copy uses non-temporal stores: not on this
// architecture, where Copy is copy.
const Available = false

func streamLines(dst, src unsafe.Pointer, lines uintptr) {
	copy(unsafe.Slice((*byte)(dst), lines*64), unsafe.Slice((*byte)(src), lines*64))
}

// Fence is a no-op where Copy uses ordinary stores.
func Fence() {}
