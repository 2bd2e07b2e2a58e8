//go:build !amd64

package fdtd

// kernels returns the row kernels: the portable ones.
func kernels[T Float]() (rowEFn func(T, []T, []T, []T, []T, []T), rowHFn func(T, []T, []T, []T, []T, []T)) {
	return rowE[T], rowH[T]
}
