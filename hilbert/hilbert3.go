package hilbert

//go:generate go run gen_tables.go

// checkBits3 panics on a bit depth a 3D key cannot hold (a programming error,
// like an index out of range).
func checkBits3(bits uint) {
	if bits-1 >= MaxBits3 {
		panic("hilbert: 3D bits must be in 1..21")
	}
}

// Encode3 returns the Hilbert index of (x, y, z) in a cube of side 2^bits,
// 1 <= bits <= 21. Only the low bits bits of each coordinate are used. It
// gives the same key as Encode([]uint32{x, y, z}, bits), but walks a
// precomputed state machine, three bit planes per table look-up, instead of
// Skilling's loop. It does not allocate.
func Encode3(x, y, z uint32, bits uint) uint64 {
	checkBits3(bits)
	mask := uint32(1)<<bits - 1
	x, y, z = x&mask, y&mask, z&mask
	const (
		p = tablePlanes
		w = 3 * p
	)
	// s is the state shifted left by w, as the table stores it, so the
	// loop-carried chain is load, and-not, or, load; the index bits from the
	// coordinates are computed off that chain.
	s := uint(depthState[bits&31])
	var key uint64
	for sh := uint(depthPlanes[bits&31]); sh > 0; {
		sh -= p
		cell := uint(x>>sh&(1<<p-1))<<(2*p) | uint(y>>sh&(1<<p-1))<<p | uint(z>>sh&(1<<p-1))
		e := uint(encodeTable[(s|cell)&(tableRows<<w-1)])
		key = key<<w | uint64(e&(1<<w-1))
		s = e &^ (1<<w - 1)
	}
	return key
}

// Decode3 inverts Encode3: it returns the point whose Hilbert index is key in
// a cube of side 2^bits, 1 <= bits <= 21. Key bits above 3*bits are ignored.
// It does not allocate.
func Decode3(key uint64, bits uint) (x, y, z uint32) {
	checkBits3(bits)
	key &= 1<<(3*bits) - 1
	const (
		p = tablePlanes
		w = 3 * p
	)
	s := uint(depthState[bits&31])
	for sh := 3 * uint(depthPlanes[bits&31]); sh > 0; {
		sh -= w
		e := uint(decodeTable[(s|uint(key>>(sh&63))&(1<<w-1))&(tableRows<<w-1)])
		x = x<<p | uint32(e>>(2*p))&(1<<p-1)
		y = y<<p | uint32(e>>p)&(1<<p-1)
		z = z<<p | uint32(e)&(1<<p-1)
		s = e &^ (1<<w - 1)
	}
	return x, y, z
}
