package hilbert

// This file holds the n-dimensional Hilbert curve by John Skilling's
// transposed-axes method ("Programming the Hilbert curve", AIP Conf. Proc. 707,
// 2004). The key's bits are the "transposed" index read plane by plane: for
// bit plane q from bits-1 down to 0, the bit q of X[0], X[1], ..., X[n-1] in
// that order, so X[0] (the first coordinate) is the most significant bit of
// every n-bit digit.

// MaxDims is the largest number of dimensions Encode and Decode accept: a key
// has 64 bits and every axis needs at least one.
const MaxDims = 64

// axesToTranspose turns coordinates into the transposed Hilbert index, in
// place, on bits bits per axis (Skilling's AxestoTranspose).
func axesToTranspose(x []uint32, bits uint) {
	n := len(x)
	m := uint32(1) << (bits - 1)
	// Inverse undo: walk the planes from the top, reflecting (invert) or
	// rotating (exchange) the lower bits so each sub-cube is entered in its
	// canonical orientation.
	for q := m; q > 1; q >>= 1 {
		p := q - 1
		for i := 0; i < n; i++ {
			if x[i]&q != 0 {
				x[0] ^= p
			} else {
				t := (x[0] ^ x[i]) & p
				x[0] ^= t
				x[i] ^= t
			}
		}
	}
	// Gray encode.
	for i := 1; i < n; i++ {
		x[i] ^= x[i-1]
	}
	var t uint32
	for q := m; q > 1; q >>= 1 {
		if x[n-1]&q != 0 {
			t ^= q - 1
		}
	}
	for i := range x {
		x[i] ^= t
	}
}

// transposeToAxes turns a transposed Hilbert index into coordinates, in
// place (Skilling's TransposetoAxes).
func transposeToAxes(x []uint32, bits uint) {
	n := len(x)
	// Gray decode by H ^ (H/2).
	t := x[n-1] >> 1
	for i := n - 1; i > 0; i-- {
		x[i] ^= x[i-1]
	}
	x[0] ^= t
	// Undo excess work. The loop runs over planes 1..bits-1; the bound is
	// written with a count so bits == 32 does not overflow.
	for b := uint(1); b < bits; b++ {
		q := uint32(1) << b
		p := q - 1
		for i := n - 1; i >= 0; i-- {
			if x[i]&q != 0 {
				x[0] ^= p
			} else {
				t := (x[0] ^ x[i]) & p
				x[0] ^= t
				x[i] ^= t
			}
		}
	}
}

// checkN panics on a dimension count or bit depth no key can hold. These are
// programming errors (a fixed property of the caller's grid), like an index
// out of range, not input from outside.
func checkN(n int, bits uint) {
	if n < 1 || n > MaxDims || bits < 1 || bits > 32 || uint(n)*bits > 64 {
		panic("hilbert: need 1 <= len(coords), 1 <= bits <= 32 and len(coords)*bits <= 64")
	}
}

// Encode returns the Hilbert index of the point coords in an n-dimensional
// cube of side 2^bits, n = len(coords). Only the low bits bits of each
// coordinate are used. It panics unless 1 <= n, 1 <= bits <= 32 and
// n*bits <= 64. For n = 3 it equals Encode3. It does not allocate.
func Encode(coords []uint32, bits uint) uint64 {
	n := len(coords)
	checkN(n, bits)
	var buf [MaxDims]uint32
	x := buf[:n]
	mask := uint32(1<<bits - 1)
	for i, c := range coords {
		x[i] = c & mask
	}
	axesToTranspose(x, bits)
	var key uint64
	for b := int(bits) - 1; b >= 0; b-- {
		for i := range x {
			key = key<<1 | uint64(x[i]>>uint(b)&1)
		}
	}
	return key
}

// Decode writes into coords the point whose Hilbert index is key in an
// n-dimensional cube of side 2^bits, n = len(coords); it inverts Encode.
// Key bits above n*bits are ignored. It panics unless 1 <= n,
// 1 <= bits <= 32 and n*bits <= 64. It does not allocate.
func Decode(key uint64, bits uint, coords []uint32) {
	n := len(coords)
	checkN(n, bits)
	for i := range coords {
		coords[i] = 0
	}
	pos := uint(n) * bits
	for b := int(bits) - 1; b >= 0; b-- {
		for i := range coords {
			pos--
			coords[i] |= uint32(key>>pos&1) << uint(b)
		}
	}
	transposeToAxes(coords, bits)
}
