//go:build amd64 && !goexperiment.simd

package fdtd

import "golang.org/x/sys/cpu"

// kernels returns the row kernels: on a CPU with AVX2 the assembly ones
// (bitwise equal to the portable ones, 4 float64 or 8 float32 lanes at a
// time), else the portable ones.
func kernels[T Float]() (rowEFn func(T, []T, []T, []T, []T, []T), rowHFn func(T, []T, []T, []T, []T, []T)) {
	if cpu.X86.HasAVX2 {
		e, okE := any(rowE64Asm).(func(T, []T, []T, []T, []T, []T))
		h, okH := any(rowH64Asm).(func(T, []T, []T, []T, []T, []T))
		if okE && okH {
			return e, h
		}
		e, okE = any(rowE32Asm).(func(T, []T, []T, []T, []T, []T))
		h, okH = any(rowH32Asm).(func(T, []T, []T, []T, []T, []T))
		if okE && okH {
			return e, h
		}
	}
	return rowE[T], rowH[T]
}
