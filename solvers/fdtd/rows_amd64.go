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

// rowE64AVX2 is rowE for float64 in AVX2 assembly. The assembly reads
// len(e) values of every input without checking, so the lengths are
// checked here.
func rowE64AVX2(dt float64, e, a, am, b, bm []float64) {
	n := len(e)
	if n == 0 {
		return
	}
	_, _, _, _ = a[n-1], am[n-1], b[n-1], bm[n-1]
	rowEAVX2(dt, e, a, am, b, bm)
}

// rowH64AVX2 is rowH for float64 in AVX2 assembly.
func rowH64AVX2(dt float64, h, ap, a, bp, b []float64) {
	n := len(h)
	if n == 0 {
		return
	}
	_, _, _, _ = ap[n-1], a[n-1], bp[n-1], b[n-1]
	rowHAVX2(dt, h, ap, a, bp, b)
}

// rowE32AVX2Checked is rowE for float32 in AVX2 assembly.
func rowE32AVX2Checked(dt float32, e, a, am, b, bm []float32) {
	n := len(e)
	if n == 0 {
		return
	}
	_, _, _, _ = a[n-1], am[n-1], b[n-1], bm[n-1]
	rowE32AVX2(dt, e, a, am, b, bm)
}

// rowH32AVX2Checked is rowH for float32 in AVX2 assembly.
func rowH32AVX2Checked(dt float32, h, ap, a, bp, b []float32) {
	n := len(h)
	if n == 0 {
		return
	}
	_, _, _, _ = ap[n-1], a[n-1], bp[n-1], b[n-1]
	rowH32AVX2(dt, h, ap, a, bp, b)
}
