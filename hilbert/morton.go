package hilbert

// Morton (Z-order) keys, for comparison with the Hilbert curve. The bit order
// follows the Hilbert keys of this package: in every 3-bit digit x is the most
// significant bit and z the least, so the 1-bit Morton order is
// 000, 001, 010, 011, 100, ... written as xyz.

// MaxBits3 is the largest number of bits per axis of a 3D key in a uint64.
const MaxBits3 = 21

const mask21 = 1<<21 - 1

// spread3 moves bit i of v (i < 21) to bit 3i, by the usual magic masks.
func spread3(v uint32) uint64 {
	x := uint64(v) & mask21
	x = (x | x<<32) & 0x001f00000000ffff
	x = (x | x<<16) & 0x001f0000ff0000ff
	x = (x | x<<8) & 0x100f00f00f00f00f
	x = (x | x<<4) & 0x10c30c30c30c30c3
	x = (x | x<<2) & 0x1249249249249249
	return x
}

// compact3 is the inverse of spread3: it gathers bits 0, 3, 6, ... of x.
func compact3(x uint64) uint32 {
	x &= 0x1249249249249249
	x = (x | x>>2) & 0x10c30c30c30c30c3
	x = (x | x>>4) & 0x100f00f00f00f00f
	x = (x | x>>8) & 0x001f0000ff0000ff
	x = (x | x>>16) & 0x001f00000000ffff
	x = (x | x>>32) & mask21
	return uint32(x)
}

// Morton3 returns the Z-order key of (x, y, z): the bits of the three
// coordinates interleaved, x highest in each group of three. Only the low 21
// bits of each coordinate are used.
func Morton3(x, y, z uint32) uint64 {
	return spread3(x)<<2 | spread3(y)<<1 | spread3(z)
}

// MortonDecode3 inverts Morton3. The top bit of key (bit 63) is ignored.
func MortonDecode3(key uint64) (x, y, z uint32) {
	return compact3(key >> 2), compact3(key >> 1), compact3(key)
}
