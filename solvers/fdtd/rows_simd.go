//go:build goexperiment.simd && amd64

package fdtd

import "simd/archsimd"

// With GOEXPERIMENT=simd the row kernels use 8-wide AVX-512 vectors (else
// 4-wide AVX2) where the CPU has them. Each lane
// does the scalar kernel's operations in the same order (sub, sub, sub, mul,
// add; no fused multiply-add), so the results are bitwise those of the
// scalar tail, whatever part of a row is vectorised: a decomposition that
// moves a cell from a vector into a tail cannot change it.

var (
	haveAVX2   = archsimd.X86.AVX2()
	haveAVX512 = archsimd.X86.AVX512()
)

// rowE64 is rowE for float64: e += dt*((a - am) - (b - bm)) along one row (the inputs are at
// least as long as e).
func rowE64(dt float64, e, a, am, b, bm []float64) {
	n := len(e)
	a, am, b, bm = a[:n], am[:n], b[:n], bm[:n]
	x := 0
	if haveAVX512 {
		d := archsimd.BroadcastFloat64x8(dt)
		for ; x+8 <= n; x += 8 {
			va := archsimd.LoadFloat64x8Slice(a[x:])
			vam := archsimd.LoadFloat64x8Slice(am[x:])
			vb := archsimd.LoadFloat64x8Slice(b[x:])
			vbm := archsimd.LoadFloat64x8Slice(bm[x:])
			ve := archsimd.LoadFloat64x8Slice(e[x:])
			ve.Add(d.Mul(va.Sub(vam).Sub(vb.Sub(vbm)))).StoreSlice(e[x:])
		}
	}
	if haveAVX2 {
		d := archsimd.BroadcastFloat64x4(dt)
		for ; x+4 <= n; x += 4 {
			va := archsimd.LoadFloat64x4Slice(a[x:])
			vam := archsimd.LoadFloat64x4Slice(am[x:])
			vb := archsimd.LoadFloat64x4Slice(b[x:])
			vbm := archsimd.LoadFloat64x4Slice(bm[x:])
			ve := archsimd.LoadFloat64x4Slice(e[x:])
			ve.Add(d.Mul(va.Sub(vam).Sub(vb.Sub(vbm)))).StoreSlice(e[x:])
		}
	}
	for ; x < n; x++ {
		e[x] += dt * ((a[x] - am[x]) - (b[x] - bm[x]))
	}
}

// rowH64 is rowH for float64: h -= dt*((ap - a) - (bp - b)) along one row.
func rowH64(dt float64, h, ap, a, bp, b []float64) {
	n := len(h)
	ap, a, bp, b = ap[:n], a[:n], bp[:n], b[:n]
	x := 0
	if haveAVX512 {
		d := archsimd.BroadcastFloat64x8(dt)
		for ; x+8 <= n; x += 8 {
			vap := archsimd.LoadFloat64x8Slice(ap[x:])
			va := archsimd.LoadFloat64x8Slice(a[x:])
			vbp := archsimd.LoadFloat64x8Slice(bp[x:])
			vb := archsimd.LoadFloat64x8Slice(b[x:])
			vh := archsimd.LoadFloat64x8Slice(h[x:])
			vh.Sub(d.Mul(vap.Sub(va).Sub(vbp.Sub(vb)))).StoreSlice(h[x:])
		}
	}
	if haveAVX2 {
		d := archsimd.BroadcastFloat64x4(dt)
		for ; x+4 <= n; x += 4 {
			vap := archsimd.LoadFloat64x4Slice(ap[x:])
			va := archsimd.LoadFloat64x4Slice(a[x:])
			vbp := archsimd.LoadFloat64x4Slice(bp[x:])
			vb := archsimd.LoadFloat64x4Slice(b[x:])
			vh := archsimd.LoadFloat64x4Slice(h[x:])
			vh.Sub(d.Mul(vap.Sub(va).Sub(vbp.Sub(vb)))).StoreSlice(h[x:])
		}
	}
	for ; x < n; x++ {
		h[x] -= dt * ((ap[x] - a[x]) - (bp[x] - b[x]))
	}
}

// kernels returns the row kernels: the vector ones for float64, the portable
// ones for float32.
func kernels[T Float]() (rowEFn func(T, []T, []T, []T, []T, []T), rowHFn func(T, []T, []T, []T, []T, []T)) {
	e, okE := any(rowE64).(func(T, []T, []T, []T, []T, []T))
	h, okH := any(rowH64).(func(T, []T, []T, []T, []T, []T))
	if okE && okH {
		return e, h
	}
	return rowE[T], rowH[T]
}
