package fdtd

// rowE is e += dt*((a - am) - (b - bm)) along one row (the inputs are at
// least as long as e).
func rowE[T Float](dt T, e, a, am, b, bm []T) {
	n := len(e)
	a, am, b, bm = a[:n], am[:n], b[:n], bm[:n]
	x := 0
	// Unrolled by 4: the compiler neither unrolls nor vectorises.
	for ; x+4 <= n; x += 4 {
		e4, a4, am4, b4, bm4 := e[x:x+4:x+4], a[x:x+4:x+4], am[x:x+4:x+4], b[x:x+4:x+4], bm[x:x+4:x+4]
		e4[0] += dt * ((a4[0] - am4[0]) - (b4[0] - bm4[0]))
		e4[1] += dt * ((a4[1] - am4[1]) - (b4[1] - bm4[1]))
		e4[2] += dt * ((a4[2] - am4[2]) - (b4[2] - bm4[2]))
		e4[3] += dt * ((a4[3] - am4[3]) - (b4[3] - bm4[3]))
	}
	for ; x < n; x++ {
		e[x] += dt * ((a[x] - am[x]) - (b[x] - bm[x]))
	}
}

// rowH is h -= dt*((ap - a) - (bp - b)) along one row.
func rowH[T Float](dt T, h, ap, a, bp, b []T) {
	n := len(h)
	ap, a, bp, b = ap[:n], a[:n], bp[:n], b[:n]
	x := 0
	for ; x+4 <= n; x += 4 {
		h4, ap4, a4, bp4, b4 := h[x:x+4:x+4], ap[x:x+4:x+4], a[x:x+4:x+4], bp[x:x+4:x+4], b[x:x+4:x+4]
		h4[0] -= dt * ((ap4[0] - a4[0]) - (bp4[0] - b4[0]))
		h4[1] -= dt * ((ap4[1] - a4[1]) - (bp4[1] - b4[1]))
		h4[2] -= dt * ((ap4[2] - a4[2]) - (bp4[2] - b4[2]))
		h4[3] -= dt * ((ap4[3] - a4[3]) - (bp4[3] - b4[3]))
	}
	for ; x < n; x++ {
		h[x] -= dt * ((ap[x] - a[x]) - (bp[x] - b[x]))
	}
}
