//go:build amd64

package fdtd

//go:noescape
func rowEAVX2(dt float64, e, a, am, b, bm []float64)

//go:noescape
func rowHAVX2(dt float64, h, ap, a, bp, b []float64)

//go:noescape
func rowE32AVX2(dt float32, e, a, am, b, bm []float32)

//go:noescape
func rowH32AVX2(dt float32, h, ap, a, bp, b []float32)

// The wrappers below give the assembly kernels the bounds checks they
// leave out: the assembly reads len(out) values of every input unchecked.

func rowE64Asm(dt float64, e, a, am, b, bm []float64) {
	if n := len(e); n > 0 {
		mustHold(n, a, am, b, bm)
		rowEAVX2(dt, e, a, am, b, bm)
	}
}

func rowH64Asm(dt float64, h, ap, a, bp, b []float64) {
	if n := len(h); n > 0 {
		mustHold(n, ap, a, bp, b)
		rowHAVX2(dt, h, ap, a, bp, b)
	}
}

func rowE32Asm(dt float32, e, a, am, b, bm []float32) {
	if n := len(e); n > 0 {
		mustHold(n, a, am, b, bm)
		rowE32AVX2(dt, e, a, am, b, bm)
	}
}

func rowH32Asm(dt float32, h, ap, a, bp, b []float32) {
	if n := len(h); n > 0 {
		mustHold(n, ap, a, bp, b)
		rowH32AVX2(dt, h, ap, a, bp, b)
	}
}

// mustHold is a bounds check: each input holds at least n values.
func mustHold[T Float](n int, p, q, r, s []T) {
	_, _, _, _ = p[n-1], q[n-1], r[n-1], s[n-1]
}
